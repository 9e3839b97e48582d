/**
 * Each integration test owns its names: a random Redis prefix, topic prefix, consumer groups and sink file,
 * and removes them when it is done.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadHeraldConfig, type HeraldConfig } from '../../services/config';
import { ensureTopics } from '../../shared/kafka/admin';
import { dropNamespace } from '../../services/operations/namespace';
import { allTopicNames } from '../../shared/topics';

export interface TestEnv {
  vars: Record<string, string>;
  config: HeraldConfig;
  dir: string;
  sinkFile: string;
  cleanup(): Promise<void>;
}

export async function createTestEnv(overrides: Record<string, string> = {}): Promise<TestEnv> {
  const id = `t${randomBytes(4).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), `herald-${id}-`));
  const sinkFile = join(dir, 'pushes.jsonl');
  const vars: Record<string, string> = {
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '127.0.0.1:19092',
    HERALD_PREFIX: id,
    KAFKA_TOPIC_PREFIX: `${id}.`,
    KAFKA_GROUP_PREFIX: id,
    KAFKA_PARTITIONS: '2',
    SINK_FILE: sinkFile,
    SEND_POLL_MS: '50',
    STAGE_LOCK_MS: '5000',
    SEND_LEASE_MS: '3000',
    LOG_LEVEL: 'warn',
    // Tests run many pipelines on one machine: no /metrics port unless a test asks for one.
    METRICS_PORT: '0',
    // Campaigns start when a test says so; the scheduler's own cron stays out of the way (1 January).
    DAILY_SALE_CRON: '0 0 1 1 *',
    CAMPAIGN_CATCHUP_MINUTES: '1',
    // Value conciliation with every gate open (no holdout, cap, minimum value or exploration), so tests of
    // other concerns see every push; the conciliation tests set their own.
    HOLDOUT_SHARE: '0',
    HOLDOUT_STRATEGY_SHARE: '0',
    CONCILIATE_MIN_VALUE: '0',
    CONCILIATE_EXPLORE: '0',
    CAP_DAY: '0',
    CAP_WEEK: '0',
    ...overrides,
  };
  const config = loadHeraldConfig(vars);
  await ensureTopics(config.KAFKA_BROKERS, allTopicNames(config.KAFKA_TOPIC_PREFIX), config.KAFKA_PARTITIONS);
  return {
    vars,
    config,
    dir,
    sinkFile,
    async cleanup() {
      await dropNamespace(config);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
