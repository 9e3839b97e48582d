/**
 * The operator service (services/ops/api.ts): failed jobs and their safe replay, dead letters and their
 * re-drive, a time-range replay of an input topic into a separate namespace, and a user's decision trace.
 * The HTTP API and the CLI call it; they authenticate, rate-limit and audit around it.
 */
import type { Admin, Producer } from 'kafkajs';
import type { Redis } from 'ioredis';
import { systemClock, type Clock } from '../../shared/clock';
import { deliveryWindows, type Config } from '../../shared/config';
import { createKafka, createProducer } from '../../shared/kafka/client';
import { createAdmin } from '../../shared/kafka/admin';
import { stateKeys } from '../../shared/keys';
import type { Logger } from '../../shared/logger';
import { closeQueues, createQueues, type Queues } from '../../shared/queue-factory';
import { createRedis } from '../../shared/redis';
import { createState, type State } from '../state';
import type { FailedJobView, OpsService, PageRequest, ReplayReport, ReplayRequest } from './api';
import { createDeadLetterOps, type DeadLetterOps } from './dead-letters';
import { OpsError } from './errors';
import { explainUser } from './explain';
import { listFailed, namedFailed, type FailedEntry } from './failed-jobs';
import { judge, pushIdOf, tally, type Verdict } from './replay';
import { replayTopic } from './topic-replay';

export interface OpsServiceDeps {
  config: Pick<
    Config,
    | 'REDIS_URL'
    | 'HERALD_PREFIX'
    | 'KAFKA_BROKERS'
    | 'KAFKA_TOPIC_PREFIX'
    | 'KAFKA_PARTITIONS'
    | 'SEND_MODE'
    | 'QUIET_HOURS'
    | 'CONTACT_WINDOW_HOURS'
    | 'PUSH_RECORD_DAYS'
    | 'TRACE_CAMPAIGN_SHARE'
    | 'TRACE_DAYS'
  >;
  logger: Logger;
  clock?: Clock;
  /** Jobs (or dead letters) one replay may take without `override`. */
  maxReplay: number;
  /** A connection to use instead of one of the service's own (closed by its owner). */
  redis?: Redis;
  /** The process's queues and state stores, when it has them (closed by their owner); else the service's own. */
  queues?: Queues;
  state?: State;
  /** Whether a strategy sends only to users opted in to location-based pushes (as filter checks). */
  needsLocationOptIn?: (strategy: string) => boolean;
}

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 500;

function pageLimit(p: PageRequest): number {
  const limit = p.limit ?? DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new OpsError(400, `limit: ${String(p.limit)} is not an integer in 1..${MAX_LIMIT}`);
  }
  return limit;
}

export function createOpsService(deps: OpsServiceDeps): OpsService {
  const { config, logger } = deps;
  const clock = deps.clock ?? systemClock;
  const owned = deps.redis ? undefined : createRedis(config.REDIS_URL, 'herald-ops');
  const redis = deps.redis ?? owned!;
  const ownQueues = deps.queues ? undefined : createQueues(redis, config.HERALD_PREFIX, logger);
  const queues = deps.queues ?? ownQueues!;
  const windows = deliveryWindows(config);
  const state =
    deps.state ??
    createState(redis, config.HERALD_PREFIX, clock, windows, undefined, {
      campaignShare: config.TRACE_CAMPAIGN_SHARE,
      days: config.TRACE_DAYS,
    });
  const kafka = createKafka(config.KAFKA_BROKERS, 'herald-ops', logger);
  let admin: Promise<Admin> | undefined;
  const adminOf = () =>
    (admin ??= (async () => {
      const a = createAdmin(config.KAFKA_BROKERS, 'herald-ops-admin');
      await a.connect();
      return a;
    })().catch((err: unknown) => {
      admin = undefined;
      throw new OpsError(503, `kafka: ${(err as Error).message}`);
    }));
  let producer: Promise<Producer> | undefined;
  const producerOf = () =>
    (producer ??= createProducer(kafka).catch((err: unknown) => {
      producer = undefined;
      throw new OpsError(503, `kafka: ${(err as Error).message}`);
    }));
  const predicted = config.SEND_MODE === 'predicted';
  // The filter lets a user through whose window ends within this long under predicted send times.
  const cooldownGraceMs = predicted ? windows.contactWindowMs : 0;

  async function select(req: ReplayRequest): Promise<FailedEntry[]> {
    if (req.jobs?.length) {
      if (req.jobs.length > deps.maxReplay && !req.override) throw tooMany(req.jobs.length);
      return namedFailed(queues, req.jobs);
    }
    if (!req.filter) throw new OpsError(400, 'replay: give jobs or a filter');
    const out: FailedEntry[] = [];
    let cursor: string | undefined;
    do {
      const page = await listFailed(queues, req.filter, { limit: MAX_LIMIT, ...(cursor ? { cursor } : {}) });
      out.push(...page.items);
      if (out.length > deps.maxReplay && !req.override) throw tooMany(out.length, true);
      cursor = page.next;
    } while (cursor);
    return out;
  }

  const tooMany = (n: number, atLeast = false) =>
    new OpsError(
      413,
      `replay: ${atLeast ? 'more than ' : ''}${atLeast ? deps.maxReplay : n} jobs selected, over OPS_MAX_REPLAY=${deps.maxReplay}; narrow the filter or pass override`,
    );

  /** Judges every user of the selected jobs under today's rules, reading state in one pass per kind. */
  async function judgeAll(entries: readonly FailedEntry[]): Promise<ReplayReport> {
    const now = clock.now();
    const ids = [...new Set(entries.flatMap((e) => e.described.users.map((u) => u.userId)))];
    const [users, winners, windowEnds] = await Promise.all([
      state.users.getUsers(ids),
      state.decisions.getWinners(ids),
      state.delivery.windowEnds(ids, now),
    ]);
    const pairs = entries.flatMap((e) =>
      e.described.users.flatMap((u) => {
        const pushId = pushIdOf(u, e.view.queue === 'sendTime' ? winners.get(u.userId) : undefined);
        return pushId ? [{ userId: u.userId, pushId }] : [];
      }),
    );
    const sentFlags = await state.delivery.wereSent(pairs);
    const sent = new Set(pairs.filter((_, i) => sentFlags[i]).map((p) => `${p.userId}|${p.pushId}`));
    const all = new Map<string, Verdict[]>();
    const perJob: ReplayReport['perJob'] = [];
    for (const e of entries) {
      const mine = new Map<string, Verdict[]>();
      for (const u of e.described.users) {
        const winner = e.view.queue === 'sendTime' ? winners.get(u.userId) : undefined;
        const pushId = pushIdOf(u, winner);
        const v: Verdict =
          e.view.queue === 'sendTime' && !winner
            ? 'expired'
            : judge({
                now,
                user: users.get(u.userId),
                ...(u.candidates
                  ? { candidates: u.candidates }
                  : winner
                    ? { candidates: [winner.candidate] }
                    : {}),
                alreadySent: pushId !== undefined && sent.has(`${u.userId}|${pushId}`),
                ...(windowEnds.has(u.userId) ? { windowEnd: windowEnds.get(u.userId)! } : {}),
                cooldownGraceMs,
                ...(predicted ? { quiet: config.QUIET_HOURS } : {}),
                needsLocationOptIn: deps.needsLocationOptIn?.(u.strategy ?? winner?.strategy ?? '') === true,
              });
        for (const m of [mine, all]) m.set(u.userId, [...(m.get(u.userId) ?? []), v]);
      }
      if (perJob.length < 100) {
        const t = tally(mine);
        perJob.push({
          queue: e.view.queue,
          id: e.view.id,
          users: t.users,
          pushes: t.pushes,
          deferred: t.deferred,
          dropped: t.dropped,
          ...(e.described.note ? { note: e.described.note } : {}),
        });
      }
    }
    const t = tally(all);
    return { dryRun: true, jobs: entries.length, replayed: 0, ...t, perJob };
  }

  let dlq: DeadLetterOps | undefined;
  // The dead-letter reader needs the admin client, which connects on first use.
  const deadLetters = async () =>
    (dlq ??= createDeadLetterOps({
      kafka,
      admin: await adminOf(),
      producer: producerOf,
      redis,
      keys: stateKeys(config.HERALD_PREFIX),
      topicPrefix: config.KAFKA_TOPIC_PREFIX,
      clock,
      maxBatch: deps.maxReplay,
    }));

  return {
    async listFailed(filter, page) {
      const res = await listFailed(queues, filter, {
        limit: pageLimit(page),
        ...(page.cursor ? { cursor: page.cursor } : {}),
      });
      return { items: res.items.map((i): FailedJobView => i.view), ...(res.next ? { next: res.next } : {}) };
    },

    async replay(req) {
      const dryRun = req.dryRun !== false;
      const entries = await select(req);
      const report = await judgeAll(entries);
      report.dryRun = dryRun;
      if (dryRun) return report;
      for (const e of entries) {
        try {
          // Back on its queue with its attempts reset: it runs through every stage under today's rules, and
          // the contact ledger never lets a push id out twice.
          await e.job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
          report.replayed++;
        } catch (err) {
          // Another operator's replay (or BullMQ's retention) got there first: it is not failed any more.
          logger.warn(
            { queue: e.view.queue, jobId: e.view.id, err: (err as Error).message },
            'replay skipped a job',
          );
        }
      }
      logger.info(
        { jobs: report.jobs, replayed: report.replayed, pushes: report.pushes },
        'replayed failed jobs',
      );
      return report;
    },

    async listDeadLetters(filter, page) {
      return (await deadLetters()).list(filter, {
        limit: pageLimit(page),
        ...(page.cursor ? { cursor: page.cursor } : {}),
      });
    },

    async getDeadLetter(id) {
      return (await deadLetters()).get(id);
    },

    async redrive(req) {
      return (await deadLetters()).redrive(req);
    },

    async replayTopic(req) {
      return replayTopic(
        {
          kafka,
          admin: await adminOf(),
          producer: producerOf,
          topicPrefix: config.KAFKA_TOPIC_PREFIX,
          partitions: config.KAFKA_PARTITIONS,
        },
        req,
      );
    },

    async explain(userId, range) {
      return explainUser(state, userId, range, clock.now());
    },

    async health() {
      const redisOk = await redis.ping().then(
        (r) => r === 'PONG',
        () => false,
      );
      const kafkaOk = await Promise.race([
        adminOf()
          .then((a) => a.describeCluster())
          .then(
            () => true,
            () => false,
          ),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 3_000).unref()),
      ]);
      return { redis: redisOk, kafka: kafkaOk };
    },

    async close() {
      if (ownQueues) await closeQueues(ownQueues);
      await Promise.all([
        admin?.then((a) => a.disconnect()).catch(() => undefined),
        producer?.then((p) => p.disconnect()).catch(() => undefined),
      ]);
      await owned?.quit();
    },
  };
}
