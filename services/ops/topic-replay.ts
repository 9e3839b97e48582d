/**
 * A time range of an input topic copied into a separate namespace (`<namespace>.<topic>`), so a Herald run
 * with KAFKA_TOPIC_PREFIX=<namespace>. and its own HERALD_PREFIX backtests a configuration on yesterday's
 * real events without touching production's topics, offsets or state. Messages keep their key, value,
 * headers and timestamp; each carries `herald-replay-of: <topic>/<partition>/<offset>`.
 */
import type { Admin, Kafka, Producer } from 'kafkajs';
import { ensureTopics } from '../../shared/kafka/admin';
import { rangeSize, readRange, timeRange } from '../../shared/kafka/read-range';
import { INGEST_TOPICS, TOPICS, topicName, type TopicKey } from '../../shared/topics';
import type { TopicReplayReport, TopicReplayRequest } from './api';
import { OpsError } from './errors';

export interface TopicReplayDeps {
  kafka: Kafka;
  admin: Admin;
  producer: () => Promise<Producer>;
  topicPrefix: string;
  partitions: number;
}

const REPLAYABLE: readonly TopicKey[] = [...INGEST_TOPICS, 'feedback'];

export async function replayTopic(d: TopicReplayDeps, req: TopicReplayRequest): Promise<TopicReplayReport> {
  const dryRun = req.dryRun !== false;
  const key = req.topic as TopicKey;
  if (!REPLAYABLE.includes(key)) {
    throw new OpsError(
      400,
      `topic: ${JSON.stringify(req.topic)} is not an input topic (${REPLAYABLE.join(', ')})`,
    );
  }
  if (!/^[A-Za-z0-9_-]+$/.test(req.namespace)) {
    throw new OpsError(400, 'namespace: letters, digits, _ and - only');
  }
  const targetPrefix = `${req.namespace}.`;
  if (targetPrefix === d.topicPrefix) {
    throw new OpsError(400, `namespace: ${req.namespace} is production's own topic prefix; pick another`);
  }
  if (!(req.to >= req.from)) throw new OpsError(400, 'to: must not be before from');
  const source = topicName(d.topicPrefix, key);
  const target = topicName(targetPrefix, key);
  const ranges = await timeRange(d.admin, source, req.from, req.to);
  const report: TopicReplayReport = { dryRun, source, target, messages: rangeSize(ranges), copied: 0 };
  if (dryRun || report.messages === 0) return report;
  await ensureTopics(d.admin, [target], d.partitions);
  const producer = await d.producer();
  await readRange(d.kafka, source, ranges, async (partition, messages) => {
    await producer.send({
      topic: target,
      acks: -1,
      messages: messages.map((m) => ({
        key: m.key,
        value: m.value,
        timestamp: m.timestamp,
        headers: { ...m.headers, 'herald-replay-of': `${source}/${partition}/${m.offset}` },
      })),
    });
    report.copied += messages.length;
  });
  return report;
}

/** The topics a replay namespace can hold, for the README and the CLI's help. */
export const replayableTopics = (): string[] => REPLAYABLE.map((k) => TOPICS[k].suffix);
