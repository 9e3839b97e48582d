/**
 * The Kafka consumer wrapper. For each batch: validate every message, dead-letter what fails, hand the rest
 * to the domain, and commit the offsets only after the domain's writes are durable (DESIGN rule 5). A bad
 * message never stalls a partition; a Redis outage does (the batch is retried, nothing is skipped).
 */
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Clock } from '../clock';
import type { DeadLetters, Refused } from '../dead-letter';
import type { Logger } from '../logger';
import { topicName, type TopicEvent, type TopicKey } from '../topics';
import { parseEvent } from '../validate';
import { metrics, reasonClass } from '../metrics';

export interface Consumed<K extends TopicKey = TopicKey> {
  topic: K;
  event: TopicEvent<K>;
  partition: number;
  offset: string;
}

export interface ConsumerOptions<K extends TopicKey> {
  kafka: Kafka;
  groupId: string;
  topics: readonly K[];
  topicPrefix: string;
  clock: Clock;
  deadLetters: DeadLetters;
  logger: Logger;
  /** Must be idempotent: after a crash the same events come again. */
  handle: (events: Array<Consumed<K>>) => Promise<void>;
  /** Called after each committed batch with its counts (for metrics and tests). */
  onBatch?: (counts: { ok: number; refused: number }) => void;
}

export interface ConsumerRunner {
  /** Connects, joins the group and starts consuming. */
  start(): Promise<void>;
  /** Leaves the group cleanly; safe to call before or during `start` (a SIGTERM during a slow join). */
  stop(): Promise<void>;
}

/**
 * The consumer, built but not started: the process installs its shutdown handler first, so a SIGTERM while
 * it joins the group (which can take up to the session timeout after a crash) still leaves the group cleanly.
 */
export function createConsumerRunner<K extends TopicKey>(opts: ConsumerOptions<K>): ConsumerRunner {
  const byName = new Map<string, K>(opts.topics.map((k) => [topicName(opts.topicPrefix, k), k]));
  const consumer = opts.kafka.consumer({
    groupId: opts.groupId,
    sessionTimeout: 30_000,
    heartbeatInterval: 3_000,
    maxWaitTimeInMs: 100,
    allowAutoTopicCreation: false,
  });
  let stopped = false;
  let starting: Promise<void> | undefined;
  return {
    start() {
      starting ??= (async () => {
        await consumer.connect();
        if (stopped) return;
        await consumer.subscribe({ topics: [...byName.keys()], fromBeginning: true });
        if (stopped) return;
        await run(consumer, byName, opts);
      })().catch((err: unknown) => {
        if (!stopped) throw err; // a join cut short by stop() is not a failure
      });
      return starting;
    },
    async stop() {
      stopped = true;
      await consumer.disconnect();
      await starting?.catch(() => undefined);
    },
  };
}

/**
 * How Herald's consumers run: offsets committed by hand after the domain's writes (commitBatch), one
 * partition at a time. The benchmark's reference consumers run the same way, so they measure the same thing.
 */
export const MANUAL_COMMIT_RUN = {
  autoCommit: false,
  eachBatchAutoResolve: false,
  partitionsConsumedConcurrently: 1,
} as const;

async function run<K extends TopicKey>(
  consumer: Consumer,
  byName: Map<string, K>,
  opts: ConsumerOptions<K>,
): Promise<void> {
  await consumer.run({
    ...MANUAL_COMMIT_RUN,
    eachBatch: async (payload) => {
      const { batch } = payload;
      if (!payload.isRunning() || payload.isStale() || batch.messages.length === 0) return;
      const key = byName.get(batch.topic);
      if (!key) throw new Error(`consumer ${opts.groupId}: message from unsubscribed topic ${batch.topic}`);
      const now = opts.clock.now();
      const good: Array<Consumed<K>> = [];
      const refused: Refused[] = [];
      for (const m of batch.messages) {
        const parsed = parseEvent(key, m.value, now);
        if (parsed.ok)
          good.push({ topic: key, event: parsed.event, partition: batch.partition, offset: m.offset });
        else {
          refused.push({
            reason: parsed.reason,
            topic: batch.topic,
            partition: batch.partition,
            offset: m.offset,
            key: m.key,
            value: m.value,
          });
        }
      }
      await opts.deadLetters.send(refused);
      if (good.length > 0) await opts.handle(good);
      await commitBatch(consumer, payload);
      if (refused.length > 0) {
        opts.logger.warn(
          { topic: batch.topic, refused: refused.length, first: refused[0]?.reason },
          'dead-lettered',
        );
      }
      metrics.events.inc({ topic: key, outcome: 'accepted' }, good.length);
      if (refused.length > 0) {
        metrics.events.inc({ topic: key, outcome: 'dead' }, refused.length);
        for (const r of refused) metrics.deadLetters.inc({ topic: key, reason: reasonClass(r.reason) });
      }
      const lag = BigInt(batch.highWatermark) - BigInt(batch.lastOffset()) - 1n;
      metrics.consumerLag.set(
        { group: opts.groupId, topic: key, partition: String(batch.partition) },
        Number(lag > 0n ? lag : 0n),
      );
      opts.onBatch?.({ ok: good.length, refused: refused.length });
    },
  });
}

/**
 * Marks a batch done: resolving moves this consumer's fetch position (without it kafkajs fetches the same
 * batch again), committing the next offset makes the position survive a restart.
 */
export async function commitBatch(consumer: Consumer, payload: EachBatchPayload): Promise<void> {
  const { batch } = payload;
  payload.resolveOffset(batch.lastOffset());
  const next = (BigInt(batch.lastOffset()) + 1n).toString();
  await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next }]);
  await payload.heartbeat();
}
