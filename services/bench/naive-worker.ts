/**
 * One process of the naive reference design: one BullMQ job per user per stage, five queues chained
 * (audience -> filter -> score -> conciliate -> send-time), each worker doing per user the Redis reads and
 * writes Herald does per batch: HMGET the profile and EXISTS the ledger (filter), HMGET the profile (score),
 * SET the winner (conciliate), HMGET the profile, GET the winner and ZADD the due set (send-time).
 *
 *   node dist/services/bench/naive-worker.js <stage>
 *   env NAIVE_REDIS_URL, NAIVE_PREFIX, NAIVE_CONCURRENCY
 */
import { Queue, Worker, type Job } from 'bullmq';
import { stateKeys } from '../../shared/keys';
import { bullPrefix, jobOptions } from '../../shared/queue-factory';
import { createRedis } from '../../shared/redis';
import type { Candidate, Winner } from '../../shared/schemas/jobs.schema';
import { decisionId } from '../pipeline/conciliate';
import { heuristicScore } from '../ranking/heuristic';
import { dueTime } from '../timing/send-time';

export const NAIVE_STAGES = ['audience', 'filter', 'score', 'conciliate', 'send-time'] as const;
export type NaiveStage = (typeof NAIVE_STAGES)[number];

export interface NaiveJob {
  userId: string;
  strategy: string;
  targetId: string;
  at: number;
  candidate: Candidate;
  score?: number;
}

export const naiveQueueName = (stage: NaiveStage) => `{naive-${stage}}`;

function next(stage: NaiveStage): NaiveStage | undefined {
  return NAIVE_STAGES[NAIVE_STAGES.indexOf(stage) + 1];
}

function main(): void {
  const stage = process.argv[2] as NaiveStage;
  if (!NAIVE_STAGES.includes(stage)) {
    process.stderr.write(`naive-worker: unknown stage ${String(stage)}\n`);
    process.exit(78);
  }
  const url = process.env.NAIVE_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const prefix = process.env.NAIVE_PREFIX ?? 'naive';
  const concurrency = Number(process.env.NAIVE_CONCURRENCY ?? 50);
  const windowMs = 24 * 3_600_000;
  const keys = stateKeys(prefix);
  const redis = createRedis(url, `naive-${stage}`);
  const nextStage = next(stage);
  const out = nextStage
    ? new Queue(naiveQueueName(nextStage), { connection: redis, prefix: bullPrefix(prefix) })
    : undefined;
  const forward = async (data: NaiveJob) => {
    // One job per user; a deterministic id like Herald's, with Herald's retention options.
    await out!.add(nextStage!, data, jobOptions('filter', `${nextStage!}-${data.userId}`));
  };

  const work: Record<NaiveStage, (d: NaiveJob) => Promise<void>> = {
    audience: forward,
    async filter(d) {
      const [[timeZone, optIn, devices], contacted] = await Promise.all([
        redis.hmget(
          keys.user(d.userId),
          'timeZone',
          'optIn',
          'devices',
          'locale',
          'lat',
          'lon',
          'lastCategory',
        ),
        redis.exists(keys.ledger(d.userId)),
      ]);
      if (!timeZone || optIn !== '1' || !devices || devices === '[]' || contacted) return;
      if (d.candidate.deadline !== undefined && d.candidate.deadline <= Date.now()) return;
      await forward(d);
    },
    async score(d) {
      const [timeZone, lat, lon] = await redis.hmget(
        keys.user(d.userId),
        'timeZone',
        'lat',
        'lon',
        'optIn',
        'devices',
        'locale',
        'lastCategory',
      );
      if (!timeZone) return;
      const location = lat != null && lon != null ? { lat: Number(lat), lon: Number(lon) } : undefined;
      await forward({ ...d, score: heuristicScore(d.candidate, d.candidate.affinity, location) });
    },
    async conciliate(d) {
      const winner: Winner = {
        decisionId: decisionId(d.strategy, d.targetId, d.userId),
        strategy: d.strategy,
        targetId: d.targetId,
        candidate: d.candidate,
        score: d.score ?? 0,
        at: d.at,
      };
      await redis.set(keys.winner(d.userId), JSON.stringify(winner), 'PX', windowMs);
      await forward(d);
    },
    async 'send-time'(d) {
      const [[timeZone], winner] = await Promise.all([
        redis.hmget(
          keys.user(d.userId),
          'timeZone',
          'optIn',
          'devices',
          'locale',
          'lat',
          'lon',
          'lastCategory',
        ),
        redis.get(keys.winner(d.userId)),
      ]);
      if (!timeZone || !winner) return;
      const w = JSON.parse(winner) as Winner;
      const due = dueTime({
        now: Date.now(),
        tz: timeZone,
        mode: 'local-hour',
        localHour: 10,
        deadline: w.candidate.deadline,
      });
      await redis.zadd(keys.due, 'LT', due, d.userId);
    },
  };

  const worker = new Worker(
    naiveQueueName(stage),
    async (job: Job) => {
      await work[stage](job.data as NaiveJob);
    },
    { connection: redis, prefix: bullPrefix(prefix), concurrency },
  );
  worker.on('error', (err) => process.stderr.write(`naive ${stage}: ${err.message}\n`));
  let closing = false;
  const stop = async () => {
    if (closing) return;
    closing = true;
    await worker.close();
    await out?.close();
    await redis.quit();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}

if (require.main === module) main();
