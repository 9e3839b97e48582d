/**
 * Each integration test owns its names: a random Redis prefix, topic prefix, consumer groups and sink file,
 * and removes them when it is done.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { loadConfig, type Config } from '../../shared/config';
import { ensureTopics } from '../../shared/kafka/admin';
import { createKafka } from '../../shared/kafka/client';
import { allTopicNames } from '../../shared/topics';

export interface TestEnv {
  vars: Record<string, string>;
  config: Config;
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
    ...overrides,
  };
  const config = loadConfig(vars);
  await ensureTopics(config.KAFKA_BROKERS, allTopicNames(config.KAFKA_TOPIC_PREFIX), config.KAFKA_PARTITIONS);
  return {
    vars,
    config,
    dir,
    sinkFile,
    async cleanup() {
      const redis = new Redis(config.REDIS_URL);
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${id}:*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await redis.unlink(...keys);
      } while (cursor !== '0');
      await redis.quit();
      const admin = createKafka(config.KAFKA_BROKERS, 'herald-test-cleanup').admin();
      await admin.connect();
      await admin.deleteTopics({ topics: allTopicNames(config.KAFKA_TOPIC_PREFIX) }).catch(() => undefined);
      await admin.disconnect();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
