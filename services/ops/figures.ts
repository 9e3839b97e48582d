/**
 * Herald-wide figures, read from Redis and Kafka when asked: the counters every worker keeps in Redis
 * (pushes per strategy, feedback per strategy and type, drops by reason, dead letters, events in per topic),
 * the jobs of each stage queue by state, the due sets, and the consumer groups' lag. The operator server's
 * /metrics and the dashboard read them here, so both show the same numbers.
 *
 * The counters are totals since the namespace began, whoever counted them: they do not restart with a
 * worker. For the dashboard's charts the ops process samples them into a capped stream (`sample`).
 *
 * Kafka is asked with a timeout: when it does not answer, the Redis figures are still served and `lag` is
 * null (the /metrics source gauge says which source failed).
 */
import type { Admin } from 'kafkajs';
import type { Redis } from 'ioredis';
import type { Clock } from '../../shared/clock';
import { createAdmin } from '../../shared/kafka/admin';
import { OPS_CAP, opsKeys } from '../../shared/keys';
import type { Queues } from '../../shared/queue-factory';
import { QUEUES, QUEUE_KEYS } from '../../shared/queue-catalog';
import { INGEST_TOPICS, topicName, type TopicKey } from '../../shared/topics';
import { createState, type ConciliationStore } from '../state';
import { LIFT_METRICS, lift, type GroupSums, type LiftMetric } from '../conciliation/lift';

/** The job states counted per stage queue (BullMQ `getJobCounts`). */
export const JOB_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'failed', 'completed'] as const;
export type JobState = (typeof JOB_STATES)[number];

export const LANES = ['realtime', 'bulk'] as const;
export type Lane = (typeof LANES)[number];

/**
 * The consumer groups Herald runs, `<KAFKA_GROUP_PREFIX>-<worker>`, and the topics each reads (as
 * workers/ingest and workers/feedback subscribe).
 */
export const CONSUMER_GROUPS: Record<string, readonly TopicKey[]> = {
  ingest: INGEST_TOPICS,
  feedback: ['feedback'],
};

/** The counters the dashboard charts: totals at one instant of Herald's clock. */
export interface Sample {
  /** Herald clock ms. */
  at: number;
  /** strategy -> pushes confirmed sent. */
  pushes: Record<string, number>;
  /** strategy -> feedback type (opened, clicked, ...) -> events folded. */
  feedback: Record<string, Record<string, number>>;
  /** reason -> users dropped (filter, send-time, delivery). */
  drops: Record<string, number>;
}

export interface Snapshot extends Sample {
  /** Events dead-lettered. */
  dead: number;
  /** topic -> events folded once. */
  eventsIn: Record<string, number>;
  /** queue name -> state -> jobs. */
  jobs: Record<string, Record<JobState, number>>;
  /** Users booked for delivery and due now per lane, and how long the oldest due one has waited. */
  due: Record<Lane, { booked: number; due: number; oldestWaitMs: number }>;
  /** Messages behind the high watermark per group, topic and partition; null when Kafka did not answer. */
  lag: Array<{ group: string; topic: string; partition: number; lag: number }> | null;
  /**
   * Per holdout scope (`all`: the global control; or a strategy), users per group and the lift per user of
   * opens, clicks and conversions (treated − held out) with its 95% interval. Optional: absent before any.
   */
  holdouts?: Array<{
    scope: string;
    users: { treated: number; holdout: number };
    lift: Record<LiftMetric, { diff: number | null; lo: number | null; hi: number | null }>;
  }>;
}

/** Pure: the holdout figures from the conciliation store's counters. */
export function holdoutFigures(
  rows: Awaited<ReturnType<ConciliationStore['liftCounters']>>,
): NonNullable<Snapshot['holdouts']> {
  const scopes = [...new Set(rows.map((r) => r.scope))];
  const TYPES: Record<LiftMetric, string> = { opens: 'opened', clicks: 'clicked', conversions: 'converted' };
  return scopes.map((scope) => {
    const t = rows.find((r) => r.scope === scope && r.group === 'treated');
    const h = rows.find((r) => r.scope === scope && r.group === 'holdout');
    const sums = (r: typeof t, m: LiftMetric): GroupSums => ({
      n: r?.users ?? 0,
      sum: r?.sums[TYPES[m]]?.sum ?? 0,
      sumSq: r?.sums[TYPES[m]]?.sq ?? 0,
    });
    const out = {} as Record<LiftMetric, { diff: number | null; lo: number | null; hi: number | null }>;
    for (const m of LIFT_METRICS) {
      const l = lift(sums(t, m), sums(h, m));
      out[m] = { diff: l.diff, lo: l.lo, hi: l.hi };
    }
    return { scope, users: { treated: t?.users ?? 0, holdout: h?.users ?? 0 }, lift: out };
  });
}

export interface Figures {
  /** Every figure, now. */
  snapshot(): Promise<Snapshot>;
  /** Appends the current counters to the capped series the charts read. */
  sample(): Promise<Sample>;
  /** The last `limit` samples, oldest first. */
  series(limit?: number): Promise<Sample[]>;
  close(): Promise<void>;
}

export interface FiguresDeps {
  redis: Redis;
  queues: Queues;
  config: {
    HERALD_PREFIX: string;
    KAFKA_BROKERS: string[];
    KAFKA_TOPIC_PREFIX: string;
    KAFKA_GROUP_PREFIX: string;
  };
  clock: Clock;
  /** How long Kafka may take to answer the lag query, in ms. Default 3000. */
  kafkaTimeoutMs?: number;
}

/** Splits the `<strategy>:<type>` fields of the per-strategy feedback hash. */
export function feedbackByStrategy(fields: Record<string, number>): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const [field, n] of Object.entries(fields)) {
    const cut = field.lastIndexOf(':');
    if (cut <= 0) continue;
    (out[field.slice(0, cut)] ??= {})[field.slice(cut + 1)] = n;
  }
  return out;
}

/** The `<prefix><name>` fields of a counters hash, by name. */
function fieldsStarting(stats: Record<string, number>, prefix: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(stats)) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = v;
  return out;
}

export function createFigures(deps: FiguresDeps): Figures {
  const { redis, queues, config, clock } = deps;
  const state = createState(redis, config.HERALD_PREFIX, clock);
  const keys = opsKeys(config.HERALD_PREFIX);
  const timeoutMs = deps.kafkaTimeoutMs ?? 3000;
  let admin: Promise<Admin> | undefined;
  const adminOf = () =>
    (admin ??= (async () => {
      const a = createAdmin(config.KAFKA_BROKERS, 'herald-ops-figures');
      await a.connect();
      return a;
    })().catch((err: unknown) => {
      admin = undefined;
      throw err;
    }));

  async function counters(): Promise<Sample & { dead: number; eventsIn: Record<string, number> }> {
    const c = await state.telemetry.counters();
    return {
      at: clock.now(),
      pushes: fieldsStarting(c.stats, 'sent:'),
      feedback: feedbackByStrategy(c.feedback),
      drops: c.drops,
      dead: c.stats.dead ?? 0,
      eventsIn: fieldsStarting(c.stats, 'in:'),
    };
  }

  async function jobs(): Promise<Snapshot['jobs']> {
    const out: Snapshot['jobs'] = {};
    await Promise.all(
      QUEUE_KEYS.map(async (k) => {
        const c = await queues[k].getJobCounts(...JOB_STATES);
        out[QUEUES[k].name] = Object.fromEntries(JOB_STATES.map((s) => [s, c[s] ?? 0])) as Record<
          JobState,
          number
        >;
      }),
    );
    return out;
  }

  async function lagOf(): Promise<NonNullable<Snapshot['lag']>> {
    const a = await adminOf();
    const out: NonNullable<Snapshot['lag']> = [];
    for (const [worker, topics] of Object.entries(CONSUMER_GROUPS)) {
      const group = `${config.KAFKA_GROUP_PREFIX}-${worker}`;
      const names = topics.map((t) => topicName(config.KAFKA_TOPIC_PREFIX, t));
      const committed = await a.fetchOffsets({ groupId: group, topics: names });
      for (const [i, name] of names.entries()) {
        const mine = committed.find((c) => c.topic === name)?.partitions ?? [];
        for (const end of await a.fetchTopicOffsets(name)) {
          const at = BigInt(mine.find((p) => p.partition === end.partition)?.offset ?? '-1');
          // A group that never committed starts at the beginning (the consumers read fromBeginning).
          const from = at < 0n ? BigInt(end.low) : at;
          const behind = BigInt(end.high) - from;
          out.push({
            group,
            topic: topics[i]!,
            partition: end.partition,
            lag: Number(behind > 0n ? behind : 0n),
          });
        }
      }
    }
    return out;
  }

  async function lagWithin(): Promise<Snapshot['lag']> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), timeoutMs);
    });
    try {
      return await Promise.race([lagOf().catch(() => null), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    async snapshot() {
      const [c, j, due, lag, lifts] = await Promise.all([
        counters(),
        jobs(),
        state.delivery.dueStats(clock.now()),
        lagWithin(),
        state.conciliation.liftCounters(),
      ]);
      return { ...c, jobs: j, due, lag, ...(lifts.length ? { holdouts: holdoutFigures(lifts) } : {}) };
    },

    async sample() {
      const { at, pushes, feedback, drops } = await counters();
      const s: Sample = { at, pushes, feedback, drops };
      await redis.xadd(keys.series, 'MAXLEN', '~', OPS_CAP.series, '*', 's', JSON.stringify(s));
      return s;
    },

    async series(limit = 240) {
      const rows = await redis.xrevrange(keys.series, '+', '-', 'COUNT', limit);
      return rows.reverse().map(([, f]) => JSON.parse(f[1] ?? '{}') as Sample);
    },

    async close() {
      const a = admin;
      admin = undefined;
      if (a) await (await a.catch(() => undefined))?.disconnect();
    },
  };
}
