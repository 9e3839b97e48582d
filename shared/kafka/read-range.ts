/**
 * Reads a bounded range of a topic, partition by partition, without touching any consumer group's offsets:
 * a throwaway group (deleted afterwards) seeks each partition to its start and stops at its end. For tools
 * (the operator's dead-letter list, a time-range replay), not for the pipeline's consumers.
 */
import { randomBytes } from 'node:crypto';
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';

/** Per partition: the first offset to read and the offset to stop before. */
export type PartitionRanges = Map<number, { start: bigint; end: bigint }>;

/** Every partition from its low to its high watermark as of now. */
export async function wholeTopic(admin: Admin, topic: string): Promise<PartitionRanges> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return new Map(offsets.map((o) => [o.partition, { start: BigInt(o.low), end: BigInt(o.high) }] as const));
}

/**
 * Partitions between two instants (epoch ms of the message timestamps): from the first message at or after
 * `from` to the first after `to`.
 */
export async function timeRange(
  admin: Admin,
  topic: string,
  from: number,
  to: number,
): Promise<PartitionRanges> {
  const [starts, ends, marks] = await Promise.all([
    admin.fetchTopicOffsetsByTimestamp(topic, from),
    admin.fetchTopicOffsetsByTimestamp(topic, to + 1),
    admin.fetchTopicOffsets(topic),
  ]);
  const high = new Map(marks.map((m) => [m.partition, BigInt(m.high)]));
  // An instant after the last message gives offset -1: the range ends at the high watermark.
  const at = (o: string, p: number) => (BigInt(o) < 0n ? high.get(p)! : BigInt(o));
  const endOf = new Map(ends.map((e) => [e.partition, at(e.offset, e.partition)]));
  return new Map(
    starts.map(
      (s) => [s.partition, { start: at(s.offset, s.partition), end: endOf.get(s.partition)! }] as const,
    ),
  );
}

/** Messages in the ranges. */
export function rangeSize(ranges: PartitionRanges): number {
  let n = 0n;
  for (const r of ranges.values()) if (r.end > r.start) n += r.end - r.start;
  return Number(n);
}

/**
 * Calls `onMessage` for every message in the ranges, in offset order per partition, and returns when every
 * partition reached its end. `onBatch` errors stop the read and are thrown.
 */
export async function readRange(
  kafka: Kafka,
  topic: string,
  ranges: PartitionRanges,
  onBatch: (partition: number, messages: KafkaMessage[]) => Promise<void> | void,
  opts: { timeoutMs?: number } = {},
): Promise<void> {
  const pending = new Set([...ranges].filter(([, r]) => r.end > r.start).map(([p]) => p));
  if (pending.size === 0) return;
  const groupId = `herald-tool-${randomBytes(6).toString('hex')}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200, allowAutoTopicCreation: false });
  let finish!: (err?: Error) => void;
  const done = new Promise<void>((resolve, reject) => {
    finish = (err) => (err ? reject(err) : resolve());
  });
  const timer = setTimeout(
    () => finish(new Error(`reading ${topic}: not done after ${opts.timeoutMs ?? 60_000} ms`)),
    opts.timeoutMs ?? 60_000,
  );
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async (payload) => {
        const { batch } = payload;
        const p = batch.partition;
        const range = ranges.get(p);
        if (!range || !pending.has(p)) return;
        const inRange = batch.messages.filter((m) => {
          const o = BigInt(m.offset);
          return o >= range.start && o < range.end;
        });
        try {
          if (inRange.length > 0) await onBatch(p, inRange);
        } catch (err) {
          finish(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        await payload.heartbeat();
        const last = batch.messages.at(-1);
        if (last && BigInt(last.offset) + 1n >= range.end) {
          pending.delete(p);
          if (pending.size === 0) finish();
        }
      },
    });
    for (const p of pending) consumer.seek({ topic, partition: p, offset: ranges.get(p)!.start.toString() });
    await done;
  } finally {
    clearTimeout(timer);
    await consumer.disconnect().catch(() => undefined);
    const admin = kafka.admin();
    await admin
      .connect()
      .then(() => admin.deleteGroups([groupId]))
      .catch(() => undefined)
      .finally(() => void admin.disconnect().catch(() => undefined));
  }
}
