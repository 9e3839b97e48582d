/**
 * Part 2: trigger latency. Purchases are produced to Kafka at a steady rate while a daily-sale campaign fans
 * out in the same pipeline (SEND_MODE=immediate, pushes written to the file sink). Each purchase comes from
 * its own user, who has a profile and a location but is not in the campaign's `users` index (so the
 * contact ledger never has to choose between the two pushes). Latency = the moment the benchmark sees the
 * user's market-basket push line in the sink file (tailed every 20 ms) minus the moment its purchase was
 * handed to the producer.
 *
 * Floors measured in the same run, on a quiet system: kafkajs produce -> eachBatch on a plain topic at the
 * same rate with Herald's consumer settings, and BullMQ add -> processor start for one hop (times the six
 * BullMQ hops of a trigger: target, audience, filter, score, conciliate, send-time).
 */
import { mkdirSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Producer } from 'kafkajs';
import type { Redis } from 'ioredis';
import { systemClock } from '../../shared/clock';
import { createKafka } from '../../shared/kafka/client';
import { closeQueues } from '../../shared/queue-factory';
import { createRedis } from '../../shared/redis';
import { topicName } from '../../shared/topics';
import { waitFor } from '../../shared/wait';
import { loadAffinity } from '../affinity/affinity-table';
import { startCampaign } from '../campaigns/campaigns';
import { DAILY_SALE } from '../strategies/daily-sale/daily-sale.strategy';
import type { BenchContext } from './fanout';
import type { ProfileSummary } from './cpu-profile';
import {
  STAGES,
  createQueues,
  heraldVars,
  ProcMeter,
  readProfiles,
  stageTimings,
  startWorkers,
  stopProcs,
  waitForStageWorkers,
  type ProcFigures,
  type StageTiming,
} from './herald';
import { bullmqHopFloor, kafkaFloorRun } from './latency-floors';
import { TICK_MS, paced } from './paced';
import { machineBusySeconds } from './procs';
import { delta, resetRedis, snapshot, type RedisDelta } from './redis';
import { CENTER, noDevice, optedOut, seedSales, seedStores, seedUsers, userId } from './seed';
import { SinkTail } from './sink-tail';
import { distribution, every, fmt, say, type Distribution } from './util';

export interface LatencyOptions {
  rate: number;
  seconds: number;
  /** A first, quiet phase at a rate the pipeline keeps up with: its intrinsic latency. */
  lowRate: number;
  lowSeconds: number;
  floorSeconds: number;
  fanoutUsers: number;
  fanoutAtS: number;
}

export interface LatencyResult {
  rate: number;
  seconds: number;
  produced: number;
  delivered: number;
  lost: number;
  fanoutUsers: number;
  fanoutEligible: number;
  /** seconds after the first purchase: campaign trigger, and its last push written */
  fanoutStartS: number;
  fanoutDoneS: number;
  fanoutDelivered: number;
  /** ms produce -> push line seen, in the quiet low-rate phase (no campaign) */
  lowRate: number;
  low: Distribution;
  /** per-stage timing of the jobs added during the quiet phase */
  lowTimings: Record<string, StageTiming>;
  /** ms produce -> push line seen */
  all: Distribution;
  quiet: Distribution;
  duringFanout: Distribution;
  afterFanout: Distribution;
  floors: {
    kafka: Distribution;
    bullmqHop: Distribution;
    hops: number;
    /** kafka + hops x bullmqHop, percentile by percentile */
    p50: number;
    p99: number;
    max: number;
  };
  sendPollMs: number;
  /** market-basket pushes written per second while the purchases were produced (the real-time path's pace) */
  pushesPerSWhileProducing: number;
  /** all market-basket pushes / (last one - first purchase) */
  pushesPerS: number;
  timings: Record<string, StageTiming>;
  procs: Record<string, ProcFigures>;
  redis: RedisDelta;
  machineBusyS: number;
  otherCpuS: number;
  wallS: number;
  profiles: Record<string, ProfileSummary>;
}

const HOPS = 6;
/** Purchases sent before the quiet phase, so the first measured ones do not pay for cold connections. */
const WARM = 20;

export async function runLatency(ctx: BenchContext, o: LatencyOptions): Promise<LatencyResult> {
  const tag = 'latency';
  const prefix = `${ctx.runId}-lat`;
  const topicPrefix = `${prefix}.`;
  const floorTopic = `${topicPrefix}floor`;
  const { redis } = ctx;
  await resetRedis(redis);
  await ctx.kafka.topics(topicPrefix, 3, [floorTopic]);
  const kafka = createKafka(ctx.kafka.brokers, 'herald-bench-latency');

  const floorSeconds = o.floorSeconds;
  say(`${tag}: floor 1/2: kafkajs produce -> eachBatch at ${fmt(o.rate)}/s for ${floorSeconds} s`);
  const kafkaFloor = await kafkaFloorRun(kafka, floorTopic, `${prefix}-floor`, o.rate, floorSeconds);
  say(`${tag}: kafka floor p50 ${kafkaFloor.p50.toFixed(1)} ms p99 ${kafkaFloor.p99.toFixed(1)} ms`);
  say(`${tag}: floor 2/2: BullMQ add -> process, one job every ${TICK_MS} ms for ${floorSeconds} s`);
  const hopFloor = await bullmqHopFloor(ctx, prefix, floorSeconds);
  say(`${tag}: bullmq hop floor p50 ${hopFloor.p50.toFixed(1)} ms p99 ${hopFloor.p99.toFixed(1)} ms`);

  const purchases = Math.round(o.rate * o.seconds);
  const lows = Math.round(o.lowRate * o.lowSeconds);
  const { buying, reachable, fan } = await seedLatencyWorld(ctx.redis, prefix, o, purchases, lows);

  const sinkDir = join('out', 'bench', 'tmp');
  mkdirSync(sinkDir, { recursive: true });
  const sinkFile = join(sinkDir, `${prefix}-pushes.jsonl`);
  rmSync(sinkFile, { force: true });
  const sendPollMs = 250;
  const vars = heraldVars({
    redisUrl: ctx.redisUrl,
    prefix,
    topicPrefix,
    brokers: ctx.kafka.brokers.join(','),
    concurrency: ctx.concurrency,
    extra: {
      SEND_MODE: 'immediate',
      SINK_FILE: sinkFile,
      SEND_POLL_MS: String(sendPollMs),
      BATCH_SIZE: '500',
    },
  });
  const names = ['ingest' as const, ...STAGES.map((s) => s.worker)];
  const procs = startWorkers(names, vars, ctx.logDir, ctx.profileDir);
  const conn = createRedis(ctx.redisUrl, 'herald-bench-latency');
  const queues = createQueues(conn, prefix);
  const tail = new SinkTail(sinkFile);
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  const topic = topicName(topicPrefix, 'purchases');
  const producedAt = new Map<string, number>();
  const purchase = (k: number) => {
    const i = reachable[k]!;
    const id = userId('p', i);
    const category = buying[i % buying.length]!;
    return {
      key: id,
      value: JSON.stringify({
        v: 1,
        eventId: `lat-${prefix}-${i}`,
        userId: id,
        storeId: 'origin-store',
        category,
        amount: 19.9,
        at: new Date().toISOString(),
        location: { lat: CENTER.lat + 0.001, lon: CENTER.lon },
      }),
    };
  };
  let result: LatencyResult;
  try {
    await producer.connect();
    await waitForStageWorkers(
      queues,
      STAGES.map((s) => s.queue),
      procs,
    );
    tail.start();
    say(`${tag}: workers up; warming up with ${WARM} purchases`);
    const warm = Array.from({ length: WARM }, (_, k) => purchase(purchases + k));
    await producer.send({ topic, acks: -1, messages: warm });
    await waitFor(() => warm.every((m) => tail.seen.has(m.key)), 'the warm-up pushes', {
      timeoutMs: 120_000,
      intervalMs: 50,
    });

    const { low, lowStart, lowEnd } = await quietPhase(o, tail, producer, topic, (k) =>
      purchase(purchases + WARM + k),
    );

    const meter = new ProcMeter(procs);
    const before = await snapshot(redis);
    meter.start();
    const machine0 = machineBusySeconds();
    const bench0 = process.cpuUsage();
    say(
      `${tag}: producing ${fmt(o.rate)} purchases/s for ${o.seconds} s; the campaign (${fmt(o.fanoutUsers)} users) starts at ${o.fanoutAtS} s`,
    );
    const t0 = Date.now();
    let fanoutStart = NaN;
    let producingEnd = NaN;
    let trigger: Promise<string> | undefined;
    const stopProgress = every(ctx.progressS * 1000, async () => {
      const lag = producedAt.size - [...producedAt.keys()].filter((k) => tail.seen.has(k)).length;
      say(
        `${tag}: ${((Date.now() - t0) / 1000).toFixed(1)} s produced ${fmt(producedAt.size)} pushed ${fmt(producedAt.size - lag)} ` +
          `| campaign pushes ${fmt(tail.dailySale)}/${fmt(fan.eligible)} | due ${fmt(await redis.zcard(`${prefix}:send:due`))}`,
      );
    });
    try {
      await paced(
        o.seconds,
        o.rate,
        async (from, n) => {
          const msgs = Array.from({ length: n }, (_, j) => purchase(from + j));
          const at = Date.now();
          for (const m of msgs) producedAt.set(m.key, at);
          await producer.send({ topic, acks: -1, messages: msgs });
        },
        (elapsed) => {
          if (!trigger && elapsed >= o.fanoutAtS * 1000) {
            fanoutStart = Date.now();
            trigger = startCampaign(queues, DAILY_SALE, systemClock.now(), 'UTC');
          }
        },
      );
      producingEnd = Date.now();
      if (!trigger) {
        fanoutStart = Date.now();
        trigger = startCampaign(queues, DAILY_SALE, systemClock.now(), 'UTC');
      }
      await trigger;
      const allSeen = () => [...producedAt.keys()].every((k) => tail.seen.has(k));
      await waitFor(() => allSeen() && tail.dailySale >= fan.eligible, 'every push', {
        timeoutMs: 900_000,
        intervalMs: 100,
      }).catch((err: unknown) => say(`${tag}: ${err instanceof Error ? err.message : String(err)}`));
    } finally {
      await stopProgress();
    }
    tail.poll();
    const wallS = (Date.now() - t0) / 1000;
    const machineBusyS = machineBusySeconds() - machine0;
    const benchCpu = process.cpuUsage(bench0);
    const after = await snapshot(redis);
    const procFigures = meter.read();
    const timings = await stageTimings(
      conn,
      queues,
      STAGES.map((s) => s.queue),
      t0,
      ctx.concurrency,
      { from: t0, to: Infinity },
    );
    const lowTimings = await stageTimings(
      conn,
      queues,
      STAGES.map((s) => s.queue),
      lowStart,
      ctx.concurrency,
      {
        from: lowStart,
        to: lowEnd,
      },
    );
    const redisDelta = delta(before, after);
    const mine =
      Object.values(procFigures).reduce((a, p) => a + p.cpuS, 0) +
      redisDelta.cpu +
      (benchCpu.user + benchCpu.system) / 1e6;
    const seenTimes = [...tail.seen.values()].filter((v) => v >= t0);
    const fanoutDone = tail.dailySale >= fan.eligible ? tail.lastDailySaleAt : NaN;
    const lat = (keep: (at: number) => boolean) =>
      distribution(
        [...producedAt]
          .filter(([k, at]) => keep(at) && tail.seen.has(k))
          .map(([k, at]) => tail.seen.get(k)! - at),
      );
    const delivered = [...producedAt.keys()].filter((k) => tail.seen.has(k)).length;
    result = {
      rate: o.rate,
      seconds: o.seconds,
      produced: producedAt.size,
      delivered,
      lost: producedAt.size - delivered,
      fanoutUsers: o.fanoutUsers,
      fanoutEligible: fan.eligible,
      fanoutStartS: (fanoutStart - t0) / 1000,
      fanoutDoneS: (fanoutDone - t0) / 1000,
      fanoutDelivered: tail.dailySale,
      lowRate: o.lowRate,
      low,
      lowTimings,
      all: lat(() => true),
      quiet: lat((at) => at < fanoutStart),
      duringFanout: lat((at) => at >= fanoutStart && !(at > fanoutDone)),
      afterFanout: lat((at) => at > fanoutDone),
      floors: {
        kafka: kafkaFloor,
        bullmqHop: hopFloor,
        hops: HOPS,
        p50: kafkaFloor.p50 + HOPS * hopFloor.p50,
        p99: kafkaFloor.p99 + HOPS * hopFloor.p99,
        max: kafkaFloor.max + HOPS * hopFloor.max,
      },
      sendPollMs,
      pushesPerSWhileProducing:
        seenTimes.filter((v) => v <= producingEnd).length / ((producingEnd - t0) / 1000),
      pushesPerS: seenTimes.length / ((Math.max(...seenTimes) - t0) / 1000),
      timings,
      procs: procFigures,
      redis: redisDelta,
      machineBusyS,
      otherCpuS: machineBusyS - mine,
      wallS,
      profiles: {},
    };
  } finally {
    tail.stop();
    await producer.disconnect().catch(() => undefined);
    await stopProcs(procs);
    await closeQueues(queues);
    await conn.quit();
    rmSync(sinkFile, { force: true });
    try {
      rmdirSync(sinkDir);
    } catch {
      // not empty: another run's sink is there
    }
  }
  result.profiles = readProfiles(ctx.profileDir, vars, names);
  return result;
}

/**
 * The world of the latency run: the campaign's users (indexed, so the daily sale fans out to them), the
 * purchasers (not indexed, so the contact ledger never has to choose between the two pushes), the sales,
 * and stores in every category.
 */
async function seedLatencyWorld(
  redis: Redis,
  prefix: string,
  o: LatencyOptions,
  purchases: number,
  lows: number,
): Promise<{ buying: string[]; reachable: number[]; fan: Awaited<ReturnType<typeof seedUsers>> }> {
  const affinity = loadAffinity(join(__dirname, '..', '..', '..', 'infra', 'data', 'affinity.json'));
  const buying = affinity.categories.filter((c) => affinity.following(c).length > 0);
  say(
    `latency: seeding ${fmt(o.fanoutUsers)} campaign users, ${fmt(purchases + WARM)} purchasers, stores in ${affinity.categories.length} categories`,
  );
  const fan = await seedUsers(redis, prefix, { idPrefix: 'u', count: o.fanoutUsers, indexed: true });
  // Purchasers must be reachable: take the indexes the seed leaves opted in and with a device.
  const reachable: number[] = [];
  for (let i = 0; reachable.length < purchases + WARM + lows; i++)
    if (!optedOut(i) && !noDevice(i)) reachable.push(i);
  await seedUsers(redis, prefix, {
    idPrefix: 'p',
    count: reachable[reachable.length - 1]! + 1,
    indexed: false,
  });
  await seedSales(redis, prefix, Date.now());
  await seedStores(redis, prefix, affinity.categories, 5);
  return { buying, reachable, fan };
}

/** The quiet phase: purchases at a rate the pipeline keeps up with and no campaign, its intrinsic latency. */
async function quietPhase(
  o: LatencyOptions,
  tail: SinkTail,
  producer: Producer,
  topic: string,
  purchase: (k: number) => { key: string; value: string },
): Promise<{ low: Distribution; lowStart: number; lowEnd: number }> {
  const tag = 'latency';
  say(`${tag}: quiet phase: ${fmt(o.lowRate)} purchases/s for ${o.lowSeconds} s, no campaign`);
  const lowAt = new Map<string, number>();
  const lowStart = Date.now();
  await paced(o.lowSeconds, o.lowRate, async (from, n) => {
    const msgs = Array.from({ length: n }, (_, j) => purchase(from + j));
    const at = Date.now();
    for (const m of msgs) lowAt.set(m.key, at);
    await producer.send({ topic, acks: -1, messages: msgs });
  });
  await waitFor(() => [...lowAt.keys()].every((k) => tail.seen.has(k)), 'the quiet-phase pushes', {
    timeoutMs: 120_000,
    intervalMs: 50,
  }).catch((err: unknown) => say(`${tag}: ${err instanceof Error ? err.message : String(err)}`));
  const lowEnd = Date.now();
  const low = distribution(
    [...lowAt].filter(([k]) => tail.seen.has(k)).map(([k, at]) => tail.seen.get(k)! - at),
  );
  say(
    `${tag}: quiet phase p50 ${fmt(low.p50)} ms p99 ${fmt(low.p99)} ms max ${fmt(low.max)} ms (${low.n}/${lowAt.size} pushes)`,
  );
  return { low, lowStart, lowEnd };
}
