/**
 * Watching a running pipeline from the outside: consumer lag, pending jobs per stage, users waiting for
 * delivery, filter drops and counters. Used by `npm start`, the tests and operators.
 */
import { Redis } from 'ioredis';
import type { Config } from '../../shared/config';
import { createKafka } from '../../shared/kafka/client';
import { closeQueues, createQueues, type Queues } from '../../shared/queue-factory';
import { QUEUE_KEYS } from '../../shared/queue-catalog';
import { INGEST_TOPICS, topicName, type TopicKey } from '../../shared/topics';
import { createState, type State } from '../state';
import { sleep, waitFor } from '../../shared/wait';

/** Whether the consumer group has committed everything written to `topics` so far. */
export async function groupCaughtUp(
  config: Config,
  groupId: string,
  topics: readonly TopicKey[],
): Promise<boolean> {
  const admin = createKafka(config.KAFKA_BROKERS, 'herald-probe').admin();
  await admin.connect();
  try {
    const names = topics.map((t) => topicName(config.KAFKA_TOPIC_PREFIX, t));
    const committed = await admin.fetchOffsets({ groupId, topics: names });
    for (const name of names) {
      const ends = await admin.fetchTopicOffsets(name);
      const mine = committed.find((c) => c.topic === name)?.partitions ?? [];
      for (const e of ends) {
        const c = BigInt(mine.find((p) => p.partition === e.partition)?.offset ?? '-1');
        if (BigInt(e.high) > 0n && c < BigInt(e.high)) return false;
      }
    }
    return true;
  } finally {
    await admin.disconnect();
  }
}

export class PipelineProbe {
  readonly queues: Queues;
  /** The namespace's state, read through its stores. */
  readonly state: State;
  private readonly redis: Redis;

  constructor(private readonly config: Config) {
    this.redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
    this.queues = createQueues(this.redis, config.HERALD_PREFIX);
    this.state = createState(this.redis, config.HERALD_PREFIX);
  }

  /** Jobs not yet finished, over every stage queue (the campaigns queue holds the next tick and is left out). */
  async pendingJobs(): Promise<number> {
    let n = 0;
    for (const k of QUEUE_KEYS) {
      if (k === 'campaigns') continue;
      const c = await this.queues[k].getJobCounts(
        'waiting',
        'active',
        'delayed',
        'prioritized',
        'waiting-children',
      );
      n += Object.values(c).reduce((a, b) => a + b, 0);
    }
    return n;
  }

  async completedJobs(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const k of QUEUE_KEYS) out[k] = (await this.queues[k].getJobCounts('completed')).completed ?? 0;
    return out;
  }

  async failedJobs(): Promise<number> {
    let n = 0;
    for (const k of QUEUE_KEYS) n += (await this.queues[k].getJobCounts('failed')).failed ?? 0;
    return n;
  }

  /**
   * True when ingest has committed everything, no stage job is pending, nobody is due for delivery and
   * push.sent has everything delivered.
   */
  async idle(now: number): Promise<boolean> {
    if (!(await groupCaughtUp(this.config, `${this.config.KAFKA_GROUP_PREFIX}-ingest`, INGEST_TOPICS)))
      return false;
    if ((await this.pendingJobs()) > 0) return false;
    const b = await this.state.delivery.backlog(now);
    return b.due + b.inflight + b.outbox === 0;
  }

  /** Waits until the pipeline is idle twice in a row, half a second apart. */
  async settle(timeoutMs = 90_000, now: () => number = Date.now): Promise<void> {
    await waitFor(
      async () => {
        if (!(await this.idle(now()))) return false;
        await sleep(500);
        return this.idle(now());
      },
      'the pipeline to settle',
      { timeoutMs, intervalMs: 200 },
    );
  }

  drops() {
    return this.state.telemetry.drops();
  }

  /** Pipeline counters, filter drops by reason, and feedback by `<strategy>:<type>`. */
  counters() {
    return this.state.telemetry.counters();
  }

  async close(): Promise<void> {
    await closeQueues(this.queues);
    await this.redis.quit();
  }
}
