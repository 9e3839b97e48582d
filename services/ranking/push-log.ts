/**
 * The score model's training log is Kafka: every push.sent carries the feature vector its candidate was
 * scored with (services/pipeline/score.ts records it, the dispatcher attaches it), and the feedback topic
 * carries its opens and clicks by push id. `joinPushLog` turns the two into labelled examples; the log's
 * bound is the topics' retention. `readKafkaPushLog` reads both topics from the beginning up to their high
 * watermarks at the start of the read.
 */
import { randomBytes } from 'node:crypto';
import type { Config } from '../../shared/config';
import { createKafka } from '../../shared/kafka/client';
import { FeedbackV1, PushSentV1, type Feedback, type PushSent } from '../../shared/schemas/events.schema';
import { topicName, type TopicKey } from '../../shared/topics';
import { FEATURE_COUNT, FEATURE_SCHEMA_HASH } from './features';
import type { Examples } from './trainer';

export interface JoinedLog extends Examples {
  /** Pushes without features (logging off) or with another schema's: not used. */
  skipped: number;
  /** Feedback whose push is not in the log (older than its retention, or not yet read). */
  orphanFeedback: number;
}

/** Pure: labelled examples from pushes and their feedback (an open or a click marks the push opened). */
export function joinPushLog(
  pushes: readonly PushSent[],
  feedback: readonly Feedback[],
  schema = FEATURE_SCHEMA_HASH,
): JoinedLog {
  const labels = new Map<string, { opened: boolean; clicked: boolean }>();
  for (const f of feedback) {
    if (f.type !== 'opened' && f.type !== 'clicked') continue;
    const l = labels.get(f.pushId) ?? { opened: false, clicked: false };
    l.opened = true;
    if (f.type === 'clicked') l.clicked = true;
    labels.set(f.pushId, l);
  }
  const seen = new Set<string>();
  const rows: PushSent[] = [];
  let skipped = 0;
  for (const p of pushes) {
    if (seen.has(p.pushId)) continue; // push.sent is at-least-once
    seen.add(p.pushId);
    if (p.features?.schema !== schema || p.features.values.length !== FEATURE_COUNT) {
      skipped++;
      continue;
    }
    rows.push(p);
  }
  const n = rows.length;
  const x = new Float32Array(n * FEATURE_COUNT);
  const opened = new Uint8Array(n);
  const clicked = new Uint8Array(n);
  const at = new Float64Array(n);
  rows.forEach((p, i) => {
    x.set(p.features?.values ?? [], i * FEATURE_COUNT);
    const l = labels.get(p.pushId);
    opened[i] = l?.opened ? 1 : 0;
    clicked[i] = l?.clicked ? 1 : 0;
    at[i] = Date.parse(p.sentAt);
  });
  let orphanFeedback = 0;
  for (const id of labels.keys()) if (!seen.has(id)) orphanFeedback++;
  return { x, n, d: FEATURE_COUNT, opened, clicked, at, skipped, orphanFeedback };
}

/** Every message of a topic up to its high watermarks as of now, parsed (invalid ones skipped). */
async function readTopic<T>(
  config: Pick<Config, 'KAFKA_BROKERS' | 'KAFKA_TOPIC_PREFIX'>,
  key: TopicKey,
  parse: (v: unknown) => T | undefined,
  timeoutMs: number,
): Promise<T[]> {
  const kafka = createKafka(config.KAFKA_BROKERS, 'herald-train-reader');
  const topic = topicName(config.KAFKA_TOPIC_PREFIX, key);
  const admin = kafka.admin();
  await admin.connect();
  let highs: Map<number, bigint>;
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    highs = new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  } finally {
    await admin.disconnect();
  }
  const pending = new Set([...highs].filter(([, h]) => h > 0n).map(([p]) => p));
  const out: T[] = [];
  if (pending.size === 0) return out;
  const consumer = kafka.consumer({
    groupId: `herald-train-${randomBytes(4).toString('hex')}`,
    maxWaitTimeInMs: 100,
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`reading ${topic}: not at its end after ${timeoutMs} ms`)),
        timeoutMs,
      );
      consumer
        .run({
          autoCommit: false,
          // eslint-disable-next-line @typescript-eslint/require-await -- kafkajs wants a promise
          eachMessage: async ({ partition, message }) => {
            const high = highs.get(partition) ?? 0n;
            const offset = BigInt(message.offset);
            if (offset < high && message.value) {
              try {
                const v = parse(JSON.parse(message.value.toString()));
                if (v !== undefined) out.push(v);
              } catch {
                // not JSON: the dead-letter path's concern, not the trainer's
              }
            }
            if (offset >= high - 1n && pending.delete(partition) && pending.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** The labelled log from the push.sent and feedback topics. */
export async function readKafkaPushLog(
  config: Pick<Config, 'KAFKA_BROKERS' | 'KAFKA_TOPIC_PREFIX'>,
  timeoutMs = 120_000,
): Promise<JoinedLog & { pushes: number; feedback: number }> {
  const [pushes, feedback] = await Promise.all([
    readTopic(
      config,
      'pushSent',
      (v) => {
        const r = PushSentV1.safeParse(v);
        return r.success ? r.data : undefined;
      },
      timeoutMs,
    ),
    readTopic(
      config,
      'feedback',
      (v) => {
        const r = FeedbackV1.safeParse(v);
        return r.success ? r.data : undefined;
      },
      timeoutMs,
    ),
  ]);
  return { ...joinPushLog(pushes, feedback), pushes: pushes.length, feedback: feedback.length };
}
