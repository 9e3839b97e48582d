/**
 * Part 1: the daily-sale fan-out through Herald's real stage processes (target -> audience -> filter ->
 * score -> conciliate -> send-time), with SEND_MODE=local-hour so every push is booked into the due set and
 * none delivered. Timed from the trigger (startCampaign) to the moment ZCARD of the due set reaches the
 * eligible count.
 */
import type { Redis } from 'ioredis';
import { systemClock } from '../../shared/clock';
import { stateKeys } from '../../shared/keys';
import { closeQueues, type Queues } from '../../shared/queue-factory';
import { createRedis } from '../../shared/redis';
import { sleep } from '../../shared/wait';
import { startCampaign } from '../campaigns/campaigns';
import { DAILY_SALE } from '../strategies/daily-sale/daily-sale.strategy';
import {
  STAGES,
  countsLine,
  createQueues,
  heraldVars,
  ProcMeter,
  readProfiles,
  stageCounts,
  stageTimings,
  startWorkers,
  stopProcs,
  waitForStageWorkers,
  type ProcFigures,
  type StageCounts,
  type StageTiming,
} from './herald';
import type { BenchKafka } from './kafka';
import type { ProfileSummary } from './cpu-profile';
import { machineBusySeconds, type Proc } from './procs';
import { delta, resetRedis, snapshot, type RedisDelta } from './redis';
import { seedSales, seedUsers, userId } from './seed';
import { every, fmt, fmtBytes, label, say } from './util';

export interface BenchContext {
  redis: Redis;
  redisUrl: string;
  redisProc: Proc;
  kafka: BenchKafka;
  runId: string;
  logDir: string;
  concurrency: number;
  progressS: number;
  /** With --profile: workers run under --cpu-prof and write here. */
  profileDir?: string;
}

export interface MemoryBreakdown {
  /** bytes per eligible user of each part of what the campaign left in Redis */
  winnerKeyBytes: number;
  winnerValueBytes: number;
  dueBytesPerUser: number;
  bullBytesTotal: number;
  bullKeys: number;
  filterLogBytes: number;
}

export interface StateMemory {
  bytesPerUser: number;
  rawBytesPerUser: number;
  userKeyBytes: number;
  userKeyEncoding: string;
  usersIndexBytesPerUser: number;
}

export interface FanoutResult {
  users: number;
  eligible: number;
  prefix: string;
  seedS: number;
  state: StateMemory;
  booked: number;
  complete: boolean;
  /** trigger -> ZCARD(due) reaching the eligible count, seconds (polled every 100 ms). */
  seconds: number;
  /** trigger -> the last send-time job's finishedOn, seconds. */
  secondsByJobs: number;
  usersPerS: number;
  commandsPerUser: number;
  /** used_memory after booking minus before the campaign, per user. */
  memoryPerUser: number;
  /** used_memory_peak during the campaign minus before, per user. */
  peakMemoryPerUser: number;
  breakdown: MemoryBreakdown;
  redis: RedisDelta;
  jobs: Record<string, StageCounts>;
  expectedBatchJobs: number;
  timings: Record<string, StageTiming>;
  procs: Record<string, ProcFigures>;
  redisCpuS: number;
  benchCpuS: number;
  /** Busy CPU seconds of the whole machine during the fan-out, and of processes not ours (Kafka, others' jobs). */
  machineBusyS: number;
  otherCpuS: number;
  profiles: Record<string, ProfileSummary>;
}

/**
 * `sendMode` 'predicted' books each user at their predicted hour (quiet hours off, so every eligible user
 * is booked and the two runs book the same users). Every run seeds engagement counters for every user: the
 * score stage reads them in either mode (hour features), as it would in production.
 */
export async function runFanout(
  ctx: BenchContext,
  users: number,
  timeoutS: number,
  sendMode: 'local-hour' | 'predicted' = 'local-hour',
  /**
   * `value` (the default conciliation, with its holdouts, minimum value and exploration off so that every
   * eligible user is booked, as the run's end condition expects) or `compare` (the compare-and-set).
   */
  conciliation: 'value' | 'compare' = 'value',
): Promise<FanoutResult> {
  const predicted = sendMode === 'predicted';
  const compare = conciliation === 'compare';
  const tag = `fanout ${label(users)}${predicted ? ' predicted' : ''}${compare ? ' compare-and-set' : ''}`;
  const prefix = `${ctx.runId}-f${label(users)}${predicted ? 'p' : ''}${compare ? 'c' : ''}`;
  const topicPrefix = `${prefix}.`;
  const { redis } = ctx;
  const keys = stateKeys(prefix);
  await resetRedis(redis);
  await ctx.kafka.topics(topicPrefix, 3);

  const empty = await snapshot(redis);
  say(`${tag}: seeding ${fmt(users)} users and the active sales`);
  const seed = await seedUsers(redis, prefix, {
    idPrefix: 'u',
    count: users,
    indexed: true,
    hours: true,
    onProgress: (done) => {
      if (done % 200_000 < 8000) say(`${tag}: seeded ${fmt(done)} users`);
    },
  });
  await seedSales(redis, prefix, Date.now());
  const seeded = await snapshot(redis);
  const state = await stateMemory(
    redis,
    prefix,
    users,
    seeded.usedMemory - empty.usedMemory,
    seed.rawBytesPerUser,
  );
  say(
    `${tag}: seeded in ${seed.seconds.toFixed(1)} s; state ${fmtBytes(state.bytesPerUser)}/user ` +
      `(user hash ${fmtBytes(state.userKeyBytes)}, ${state.userKeyEncoding}; raw data ${fmtBytes(state.rawBytesPerUser)})`,
  );

  const vars = heraldVars({
    redisUrl: ctx.redisUrl,
    prefix,
    topicPrefix,
    brokers: ctx.kafka.brokers.join(','),
    concurrency: ctx.concurrency,
    extra: {
      ...(predicted
        ? { SEND_MODE: 'predicted', QUIET_HOURS: '0-0', BATCH_SIZE: '500' }
        : { SEND_MODE: 'local-hour', SEND_LOCAL_HOUR: '10', BATCH_SIZE: '500' }),
      ...(compare
        ? { CONCILIATION: 'compare' }
        : {
            HOLDOUT_SHARE: '0',
            HOLDOUT_STRATEGY_SHARE: '0',
            CONCILIATE_MIN_VALUE: '0',
            CONCILIATE_EXPLORE: '0',
          }),
    },
  });
  const names = STAGES.map((s) => s.worker);
  const procs = startWorkers(names, vars, ctx.logDir, ctx.profileDir);
  const conn = createRedis(ctx.redisUrl, 'herald-bench');
  const queues: Queues = createQueues(conn, prefix);
  const stageKeys = STAGES.map((s) => s.queue);
  let result: FanoutResult;
  try {
    await waitForStageWorkers(queues, stageKeys, procs);
    await sleep(500);
    const meter = new ProcMeter(procs);
    await redis.config('RESETSTAT');
    const before = await snapshot(redis);
    const benchCpu0 = process.cpuUsage();
    meter.start();
    const machine0 = machineBusySeconds();

    say(`${tag}: workers up; triggering the daily sale (${fmt(seed.eligible)} eligible users)`);
    const t0 = Date.now();
    await startCampaign(queues, DAILY_SALE, systemClock.now(), 'UTC');
    let booked = 0;
    let lastBooked = 0;
    let lastAt = t0;
    const stopProgress = every(ctx.progressS * 1000, async () => {
      const counts = await stageCounts(queues, stageKeys);
      const now = Date.now();
      const rate = ((booked - lastBooked) * 1000) / Math.max(1, now - lastAt);
      lastBooked = booked;
      lastAt = now;
      say(
        `${tag}: ${((now - t0) / 1000).toFixed(1)} s booked ${fmt(booked)}/${fmt(seed.eligible)} ` +
          `(${fmt(rate)}/s) | ${countsLine(counts)}`,
      );
    });
    const deadline = t0 + timeoutS * 1000;
    let complete = false;
    try {
      for (;;) {
        // A predicted plan may choose the current hour: such users are delivered at once, so they count
        // from the due set, inflight, or the sent counters.
        const [due, inflight, stats] = await Promise.all([
          redis.zcard(keys.due),
          redis.zcard(keys.inflight),
          redis.hgetall(keys.stats),
        ]);
        booked =
          due +
          inflight +
          Object.entries(stats)
            .filter(([k]) => k.startsWith('sent:'))
            .reduce((a, [, v]) => a + Number(v), 0);
        if (booked >= seed.eligible) {
          complete = true;
          break;
        }
        if (Date.now() > deadline) break;
        const dead = procs.find((p) => p.hasExited());
        if (dead) throw new Error(`bench: worker ${dead.name} died during the fan-out; see ${dead.logFile}`);
        await sleep(100);
      }
    } finally {
      await stopProgress();
    }
    const t1 = Date.now();
    const machineBusyS = machineBusySeconds() - machine0;
    const seconds = (t1 - t0) / 1000;
    say(
      complete
        ? `${tag}: all ${fmt(booked)} booked in ${seconds.toFixed(1)} s (${fmt(users / seconds)} users/s)`
        : `${tag}: GAVE UP after ${seconds.toFixed(0)} s with ${fmt(booked)}/${fmt(seed.eligible)} booked`,
    );

    // Let the last jobs move to completed, then read what the campaign cost.
    const settleBy = Date.now() + 30_000;
    while (Date.now() < settleBy) {
      const c = await stageCounts(queues, stageKeys);
      if (Object.values(c).every((s) => s.pending === 0)) break;
      await sleep(100);
    }
    const after = await snapshot(redis);
    const benchCpu = process.cpuUsage(benchCpu0);
    const procFigures = meter.read();
    const jobs = await stageCounts(queues, stageKeys);
    const timings = await stageTimings(redis, queues, stageKeys, t0, ctx.concurrency);
    const breakdown = await memoryBreakdown(redis, prefix, users, seed.eligible);
    const d = delta(before, after);
    const lastEnd = timings.sendTime?.lastEndMs;
    const benchCpuS = (benchCpu.user + benchCpu.system) / 1e6;
    const workersCpuS = Object.values(procFigures).reduce((a, p) => a + p.cpuS, 0);
    result = {
      users,
      eligible: seed.eligible,
      prefix,
      seedS: seed.seconds,
      state,
      booked,
      complete,
      seconds,
      secondsByJobs: lastEnd !== undefined ? lastEnd / 1000 : NaN,
      usersPerS: users / seconds,
      commandsPerUser: d.commands / users,
      memoryPerUser: d.memory / users,
      peakMemoryPerUser: (after.peakMemory - before.usedMemory) / users,
      breakdown,
      redis: d,
      jobs,
      expectedBatchJobs: Math.ceil(users / 500),
      timings,
      procs: procFigures,
      redisCpuS: d.cpu,
      benchCpuS,
      machineBusyS,
      otherCpuS: machineBusyS - workersCpuS - d.cpu - benchCpuS,
      profiles: {},
    };
  } finally {
    await stopProcs(procs);
    await closeQueues(queues);
    await conn.quit();
  }
  result.profiles = readProfiles(ctx.profileDir, vars, names);
  return result;
}

async function memoryUsage(redis: Redis, key: string): Promise<number> {
  const v = (await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) as number | null;
  return v ?? 0;
}

async function stateMemory(
  redis: Redis,
  prefix: string,
  users: number,
  seededBytes: number,
  rawBytesPerUser: number,
): Promise<StateMemory> {
  const keys = stateKeys(prefix);
  const sample = Array.from({ length: 50 }, (_, i) => userId('u', Math.floor((i * users) / 50) + 2));
  let sum = 0;
  for (const id of sample) sum += await memoryUsage(redis, keys.user(id));
  const encoding = (await redis.object('ENCODING', keys.user(sample[0]!))) as string | null;
  return {
    bytesPerUser: seededBytes / users,
    rawBytesPerUser,
    userKeyBytes: sum / sample.length,
    userKeyEncoding: encoding ?? '?',
    usersIndexBytesPerUser: (await memoryUsage(redis, keys.users)) / users,
  };
}

async function memoryBreakdown(
  redis: Redis,
  prefix: string,
  users: number,
  eligible: number,
): Promise<MemoryBreakdown> {
  const keys = stateKeys(prefix);
  const sample: string[] = [];
  for (let i = 2; sample.length < 50 && i < users; i += Math.max(1, Math.floor(users / 50)))
    sample.push(userId('u', i));
  let keyBytes = 0;
  let valueBytes = 0;
  let n = 0;
  for (const id of sample) {
    const k = keys.winner(id);
    const m = await memoryUsage(redis, k);
    if (m === 0) continue;
    keyBytes += m;
    valueBytes += await redis.strlen(k);
    n++;
  }
  let bullBytes = 0;
  let bullKeys = 0;
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:bull:*`, 'COUNT', 2000);
    cursor = next;
    if (found.length) {
      const p = redis.pipeline();
      for (const k of found) p.call('MEMORY', 'USAGE', k, 'SAMPLES', '0');
      for (const [err, v] of (await p.exec()) ?? []) if (!err) bullBytes += Number(v ?? 0);
      bullKeys += found.length;
    }
  } while (cursor !== '0');
  return {
    winnerKeyBytes: n ? keyBytes / n : 0,
    winnerValueBytes: n ? valueBytes / n : 0,
    dueBytesPerUser: (await memoryUsage(redis, keys.due)) / Math.max(1, eligible),
    bullBytesTotal: bullBytes,
    bullKeys,
    filterLogBytes: await memoryUsage(redis, keys.filterLog),
  };
}
