/**
 * The queue factory and batch envelope: every stage enqueues through `enqueue`, which validates the payload
 * against the catalog and applies the queue's attempts, backoff and retention.
 */
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { SchemaError } from './errors';
import type { Logger } from './logger';
import { QUEUES, QUEUE_KEYS, type QueueKey, type QueuePayload } from './queue-catalog';

/** BullMQ key prefix. Queue names carry a hash tag so each queue lives in one Redis Cluster slot. */
export function bullPrefix(prefix: string): string {
  return `${prefix}:bull`;
}

export function queueName(key: QueueKey): string {
  return `{${QUEUES[key].name}}`;
}

/**
 * The bulk lane. BullMQ serves plain jobs before any prioritized one, so campaign jobs carry this priority
 * and every stage hands it on: a purchase's push never waits behind a million-user campaign.
 */
export const BULK_PRIORITY = 10;

export type Lane = 'realtime' | 'bulk';
export const laneOf = (priority: number | undefined): Lane => ((priority ?? 0) > 0 ? 'bulk' : 'realtime');

/** One job to add: `id` must be deterministic so a retried producer adds it once. */
export interface Outgoing<K extends QueueKey = QueueKey> {
  queue: K;
  id: string;
  payload: QueuePayload<K>;
  /** BULK_PRIORITY for campaign work; absent for real time. */
  priority?: number;
}

export type Queues = Record<QueueKey, Queue>;

/** Days a failed job waits in the failed set for an operator's replay. */
export const FAILED_JOB_DAYS = 7;

/**
 * Retention: completed jobs stay an hour (ids dedupe retries meanwhile); failed ones wait FAILED_JOB_DAYS for
 * an operator. The sent-push record outlives them (PUSH_RECORD_DAYS), so a replay never sends a push twice.
 */
export function jobOptions(key: QueueKey, id: string, priority?: number): JobsOptions {
  const q = QUEUES[key];
  return {
    jobId: id,
    ...(priority ? { priority } : {}),
    attempts: q.attempts,
    backoff: { type: 'exponential', delay: q.backoffMs },
    removeOnComplete: { age: 3600, count: 5000 },
    removeOnFail: { age: FAILED_JOB_DAYS * 86_400 },
  };
}

/**
 * One Queue per stage on `connection`. Connection errors (a Redis outage) go to `logger` as one line each;
 * without a listener BullMQ would print a stack trace per retry outside the JSON logs.
 */
export function createQueues(connection: Redis, prefix: string, logger?: Logger): Queues {
  const out = {} as Queues;
  for (const key of QUEUE_KEYS) {
    const q = new Queue(queueName(key), { connection, prefix: bullPrefix(prefix) });
    q.on('error', (err) => logger?.warn({ queue: key, err: err.message }, 'queue connection error'));
    out[key] = q;
  }
  return out;
}

export function validatePayload<K extends QueueKey>(
  key: K,
  payload: unknown,
  where: string,
): QueuePayload<K> {
  const parsed = QUEUES[key].schema.safeParse(payload);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new SchemaError(
      where,
      `payload of queue ${key} is invalid at ${first?.path.join('.') || '(root)'}: ${first?.message}`,
    );
  }
  return parsed.data as QueuePayload<K>;
}

/** Validates and adds jobs, one addBulk per queue. */
export async function enqueue(queues: Queues, jobs: readonly Outgoing[]): Promise<void> {
  const byQueue = new Map<QueueKey, Outgoing[]>();
  for (const job of jobs) {
    validatePayload(job.queue, job.payload, `enqueue ${job.queue} ${job.id}`);
    const list = byQueue.get(job.queue) ?? [];
    list.push(job);
    byQueue.set(job.queue, list);
  }
  await Promise.all(
    [...byQueue].map(([key, list]) =>
      queues[key].addBulk(
        list.map((j) => ({ name: key, data: j.payload, opts: jobOptions(key, j.id, j.priority) })),
      ),
    ),
  );
}

export async function closeQueues(queues: Queues): Promise<void> {
  await Promise.all(Object.values(queues).map((q) => q.close()));
}
