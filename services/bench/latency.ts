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
import { closeSync, existsSync, mkdirSync, openSync, readSync, rmdirSync, rmSync } from 'node:fs';
import { commitBatch } from '../../shared/kafka/consumer';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import type { Producer } from 'kafkajs';
import { systemClock } from '../../shared/clock';
import { createKafka } from '../../shared/kafka/client';
import { bullPrefix, closeQueues, jobOptions } from '../../shared/queue';
import { createRedis } from '../../shared/redis';
import { topicName } from '../../shared/topics';
import { loadAffinity } from '../affinity/affinity-table';
import { startDailySale } from '../campaigns/campaigns';
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
import { machineBusySeconds } from './procs';
import { delta, resetRedis, snapshot, type RedisDelta } from './redis';
import { CENTER, noDevice, optedOut, seedSales, seedStores, seedUsers, userId } from './seed';
import { distribution, every, fmt, say, sleep, waitUntil, type Distribution } from './util';

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
const TICK_MS = 10;

/** Produces `rate` messages per second for `seconds`, a small batch every 10 ms; calls `sentAt` per message. */
async function paced(
  seconds: number,
  rate: number,
  send: (from: number, n: number) => Promise<void>,
  onTick?: (elapsedMs: number) => void,
): Promise<number> {
  const t0 = performance.now();
  let sent = 0;
  const total = Math.round(rate * seconds);
  while (sent < total) {
    const elapsed = performance.now() - t0;
    const due = Math.min(total, Math.floor((rate * elapsed) / 1000) + 1) - sent;
    if (due > 0) {
      await send(sent, due);
      sent += due;
    }
    onTick?.(elapsed);
    const wait = TICK_MS - ((performance.now() - t0) % TICK_MS);
    await sleep(Math.max(1, wait));
  }
  return sent;
}

/** Tails the sink file: first appearance time of each user's market-basket push, and the campaign's count. */
class SinkTail {
  readonly seen = new Map<string, number>();
  dailySale = 0;
  lastDailySaleAt = 0;
  private fd: number | undefined;
  private offset = 0;
  private rest = '';
  private readonly buf = Buffer.alloc(4 << 20);
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly path: string) {}

  start(): void {
    this.timer = setInterval(() => this.poll(), 20);
  }

  poll(): void {
    if (this.fd === undefined) {
      if (!existsSync(this.path)) return;
      this.fd = openSync(this.path, 'r');
    }
    for (;;) {
      const n = readSync(this.fd, this.buf, 0, this.buf.length, this.offset);
      if (n <= 0) return;
      const now = Date.now();
      this.offset += n;
      const text = this.rest + this.buf.toString('utf8', 0, n);
      const lines = text.split('\n');
      this.rest = lines.pop() ?? '';
      for (const line of lines) {
        if (line.includes('"strategy":"market-basket"')) {
          const id = /"userId":"([^"]+)"/.exec(line)?.[1];
          if (id && !this.seen.has(id)) this.seen.set(id, now);
        } else if (line.includes('"strategy":"daily-sale"')) {
          this.dailySale++;
          this.lastDailySaleAt = now;
        }
      }
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.fd !== undefined) closeSync(this.fd);
  }
}

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

  // The world: the campaign's users, the sales, stores in every category, and the purchasers.
  const purchases = Math.round(o.rate * o.seconds);
  const WARM = 20;
  const lows = Math.round(o.lowRate * o.lowSeconds);
  const affinity = loadAffinity(join(__dirname, '..', '..', '..', 'infra', 'data', 'affinity.json'));
  const buying = affinity.categories.filter((c) => affinity.following(c).length > 0);
  say(
    `${tag}: seeding ${fmt(o.fanoutUsers)} campaign users, ${fmt(purchases + WARM)} purchasers, stores in ${affinity.categories.length} categories`,
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
    await waitUntil(() => warm.every((m) => tail.seen.has(m.key)), 'the warm-up pushes', 120_000, 50);

    say(`${tag}: quiet phase: ${fmt(o.lowRate)} purchases/s for ${o.lowSeconds} s, no campaign`);
    const lowAt = new Map<string, number>();
    const lowStart = Date.now();
    await paced(o.lowSeconds, o.lowRate, async (from, n) => {
      const msgs = Array.from({ length: n }, (_, j) => purchase(purchases + WARM + from + j));
      const at = Date.now();
      for (const m of msgs) lowAt.set(m.key, at);
      await producer.send({ topic, acks: -1, messages: msgs });
    });
    await waitUntil(
      () => [...lowAt.keys()].every((k) => tail.seen.has(k)),
      'the quiet-phase pushes',
      120_000,
      50,
    ).catch((err: unknown) => say(`${tag}: ${err instanceof Error ? err.message : String(err)}`));
    const lowEnd = Date.now();
    const low = distribution(
      [...lowAt].filter(([k]) => tail.seen.has(k)).map(([k, at]) => tail.seen.get(k)! - at),
    );
    say(
      `${tag}: quiet phase p50 ${fmt(low.p50)} ms p99 ${fmt(low.p99)} ms max ${fmt(low.max)} ms (${low.n}/${lowAt.size} pushes)`,
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
            trigger = startDailySale(queues, systemClock, 'UTC');
          }
        },
      );
      producingEnd = Date.now();
      if (!trigger) {
        fanoutStart = Date.now();
        trigger = startDailySale(queues, systemClock, 'UTC');
      }
      await trigger;
      const allSeen = () => [...producedAt.keys()].every((k) => tail.seen.has(k));
      await waitUntil(() => allSeen() && tail.dailySale >= fan.eligible, 'every push', 900_000, 100).catch(
        (err: unknown) => say(`${tag}: ${err instanceof Error ? err.message : String(err)}`),
      );
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

/** kafkajs produce -> eachBatch with Herald's consumer settings, on a plain topic. */
async function kafkaFloorRun(
  kafka: ReturnType<typeof createKafka>,
  topic: string,
  groupId: string,
  rate: number,
  seconds: number,
): Promise<Distribution> {
  const producer: Producer = kafka.producer({ allowAutoTopicCreation: false });
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: 30_000,
    heartbeatInterval: 3_000,
    maxWaitTimeInMs: 100,
  });
  const got = new Map<string, number>();
  const sentAt = new Map<string, number>();
  await producer.connect();
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: async (payload) => {
        const { batch } = payload;
        const now = Date.now();
        for (const m of batch.messages) if (m.key) got.set(m.key.toString(), now);
        if (batch.messages.length === 0) return;
        await commitBatch(consumer, payload);
      },
    });
    // Warm-up: the group must have joined and fetched before the measured messages.
    await producer.send({
      topic,
      acks: -1,
      messages: [0, 1, 2, 3, 4, 5].map((i) => ({ key: `warm-${i}`, value: 'w' })),
    });
    await waitUntil(
      () => [0, 1, 2, 3, 4, 5].every((i) => got.has(`warm-${i}`)),
      'the kafka floor warm-up',
      60_000,
      20,
    );
    await paced(seconds, rate, async (from, n) => {
      const at = Date.now();
      const msgs = Array.from({ length: n }, (_, j) => ({
        key: `m-${from + j}`,
        value: JSON.stringify({ at, pad: 'x'.repeat(180) }),
      }));
      for (const m of msgs) sentAt.set(m.key, at);
      await producer.send({ topic, acks: -1, messages: msgs });
    });
    await waitUntil(
      () => [...sentAt.keys()].every((k) => got.has(k)),
      'the kafka floor messages',
      60_000,
      20,
    );
  } finally {
    await consumer.disconnect();
    await producer.disconnect();
  }
  return distribution([...sentAt].map(([k, at]) => got.get(k)! - at));
}

/** BullMQ add -> processor start for one hop, with a stage worker's options, one job every tick. */
async function bullmqHopFloor(ctx: BenchContext, prefix: string, seconds: number): Promise<Distribution> {
  const conn = createRedis(ctx.redisUrl, 'herald-bench-floor');
  const wconn = createRedis(ctx.redisUrl, 'herald-bench-floor-worker');
  const name = '{floor}';
  const q = new Queue(name, { connection: conn, prefix: bullPrefix(prefix) });
  const lat: number[] = [];
  let warm = 0;
  const worker = new Worker(
    name,
    // eslint-disable-next-line @typescript-eslint/require-await -- BullMQ wants a promise
    async (job) => {
      const d = job.data as { at: number; warm: boolean };
      if (d.warm) warm++;
      else lat.push(Date.now() - d.at);
    },
    {
      connection: wconn,
      prefix: bullPrefix(prefix),
      concurrency: ctx.concurrency,
      lockDuration: 30_000,
      stalledInterval: 15_000,
    },
  );
  try {
    await worker.waitUntilReady();
    for (let i = 0; i < 5; i++)
      await q.add('floor', { at: Date.now(), warm: true }, jobOptions('target', `warm-${i}`));
    await waitUntil(() => warm >= 5, 'the bullmq floor warm-up', 30_000, 10);
    const total = Math.round((seconds * 1000) / TICK_MS);
    await paced(seconds, 1000 / TICK_MS, async (from, n) => {
      for (let j = 0; j < n; j++)
        await q.add('floor', { at: Date.now(), warm: false }, jobOptions('target', `hop-${from + j}`));
    });
    await waitUntil(() => lat.length >= total, 'the bullmq floor jobs', 60_000, 10);
  } finally {
    await worker.close();
    await q.obliterate({ force: true }).catch(() => undefined);
    await q.close();
    await conn.quit();
    await wconn.quit();
  }
  return distribution(lat);
}
