/**
 * The naive reference of part 1: the same campaign on the same kind of state, one BullMQ job per user per
 * stage (see naive-worker.ts), each stage its own process. The driver pages the `users` index and adds one
 * audience job per user (timed, as the trigger); done when ZCARD of the due set reaches the eligible count.
 */
import { join } from 'node:path';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { stateKeys } from '../../shared/keys';
import { bullPrefix, jobOptions } from '../../shared/queue-factory';
import { createRedis } from '../../shared/redis';
import { sleep, waitFor } from '../../shared/wait';
import type { BenchContext } from './fanout';
import { ProcMeter, type ProcFigures } from './herald';
import { NAIVE_STAGES, naiveQueueName, type NaiveJob } from './naive-worker';
import { anyExited, startProc, stopProcs } from './procs';
import { delta, resetRedis, snapshot, type RedisDelta } from './redis';
import { seedSales, seedUsers } from './seed';
import { every, fmt, say } from './util';

export interface NaiveResult {
  users: number;
  eligible: number;
  concurrency: number;
  complete: boolean;
  seconds: number;
  usersPerS: number;
  commandsPerUser: number;
  memoryPerUser: number;
  peakMemoryPerUser: number;
  /** jobs each stage processed: one per user reaching it */
  jobs: Record<string, number>;
  redis: RedisDelta;
  procs: Record<string, ProcFigures>;
  redisCpuS: number;
}

export async function runNaive(
  ctx: BenchContext,
  users: number,
  concurrency: number,
  timeoutS: number,
): Promise<NaiveResult> {
  const tag = `naive ${fmt(users)}`;
  const prefix = `${ctx.runId}-naive`;
  const { redis } = ctx;
  const keys = stateKeys(prefix);
  await resetRedis(redis);
  say(`${tag}: seeding`);
  const seed = await seedUsers(redis, prefix, { idPrefix: 'u', count: users, indexed: true });
  const sale = await seedSales(redis, prefix, Date.now());

  const procs = NAIVE_STAGES.map((s) =>
    startProc(
      `naive-${s}`,
      process.execPath,
      [join(__dirname, 'naive-worker.js'), s],
      { NAIVE_REDIS_URL: ctx.redisUrl, NAIVE_PREFIX: prefix, NAIVE_CONCURRENCY: String(concurrency) },
      join(ctx.logDir, `${prefix}-${s}.log`),
    ),
  );
  const conn = createRedis(ctx.redisUrl, 'herald-bench-naive');
  const queues = NAIVE_STAGES.map(
    (s) => new Queue(naiveQueueName(s), { connection: conn, prefix: bullPrefix(prefix) }),
  );
  const first = queues[0]!;
  try {
    await waitFor(
      async () => {
        return (await Promise.all(queues.map((q) => q.getWorkersCount()))).every((c) => c > 0);
      },
      'the naive workers',
      { timeoutMs: 60_000, intervalMs: 100, abort: anyExited(procs) },
    );
    await sleep(500);
    const meter = new ProcMeter(procs);
    await redis.config('RESETSTAT');
    const before = await snapshot(redis);
    meter.start();
    say(`${tag}: workers up (concurrency ${concurrency} each); adding one audience job per user`);
    const t0 = Date.now();
    let booked = 0;
    const stopProgress = every(ctx.progressS * 1000, async () => {
      const counts = await Promise.all(queues.map((q) => q.getJobCounts('waiting', 'active')));
      const line = NAIVE_STAGES.map(
        (s, i) => `${s} ${(counts[i]?.waiting ?? 0) + (counts[i]?.active ?? 0)}`,
      ).join(' | ');
      say(
        `${tag}: ${((Date.now() - t0) / 1000).toFixed(1)} s booked ${fmt(booked)}/${fmt(seed.eligible)} | pending ${line}`,
      );
    });
    let complete = false;
    try {
      await addAudience(redis, first, prefix, sale.candidate);
      const deadline = t0 + timeoutS * 1000;
      for (;;) {
        booked = await redis.zcard(keys.due);
        if (booked >= seed.eligible) {
          complete = true;
          break;
        }
        if (Date.now() > deadline) break;
        await sleep(100);
      }
    } finally {
      await stopProgress();
    }
    const seconds = (Date.now() - t0) / 1000;
    say(
      `${tag}: ${complete ? 'all' : 'ONLY'} ${fmt(booked)} booked in ${seconds.toFixed(1)} s (${fmt(users / seconds)} users/s)`,
    );
    const settleBy = Date.now() + 30_000;
    while (Date.now() < settleBy) {
      const c = await Promise.all(queues.map((q) => q.getJobCounts('waiting', 'active')));
      if (c.every((x) => (x.waiting ?? 0) + (x.active ?? 0) === 0)) break;
      await sleep(100);
    }
    const after = await snapshot(redis);
    const procFigures = meter.read();
    const d = delta(before, after);
    return {
      users,
      eligible: seed.eligible,
      concurrency,
      complete,
      seconds,
      usersPerS: users / seconds,
      commandsPerUser: d.commands / users,
      memoryPerUser: d.memory / users,
      peakMemoryPerUser: (after.peakMemory - before.usedMemory) / users,
      jobs: {
        audience: users,
        filter: users,
        score: seed.eligible,
        conciliate: seed.eligible,
        'send-time': seed.eligible,
      },
      redis: d,
      procs: procFigures,
      redisCpuS: d.cpu,
    };
  } finally {
    await stopProcs(procs);
    await Promise.all(queues.map((q) => q.close()));
    await conn.quit();
  }
}

async function addAudience(
  redis: Redis,
  q: Queue,
  prefix: string,
  candidate: NaiveJob['candidate'],
): Promise<void> {
  const keys = stateKeys(prefix);
  const at = Date.now();
  let after = '-';
  for (;;) {
    const ids = await redis.zrangebylex(keys.users, after, '+', 'LIMIT', 0, 500);
    if (ids.length === 0) return;
    await q.addBulk(
      ids.map((userId) => ({
        name: 'audience',
        data: { userId, strategy: 'daily-sale', targetId: 'ds-naive', at, candidate } satisfies NaiveJob,
        opts: jobOptions('audience', `audience-${userId}`),
      })),
    );
    after = `(${ids[ids.length - 1]!}`;
  }
}
