/**
 * Part 3: ingest throughput. Valid profile and location events (half each) are produced to the ingest
 * topics first; then a no-op kafkajs eachBatch consumer with Herald's consumer settings (and the same
 * resolve / commit / heartbeat per batch) reads them all, as the reference; then Herald's ingest worker
 * process starts and is timed until its consumer group has committed them all (probe.ts groupCaughtUp).
 */
import { loadConfig } from '../../shared/config';
import { commitBatch, MANUAL_COMMIT_RUN } from '../../shared/kafka/consumer';
import { createKafka } from '../../shared/kafka/client';
import { topicName } from '../../shared/topics';
import { sleep, waitFor } from '../../shared/wait';
import { groupCaughtUp } from '../operations/probe';
import type { BenchContext } from './fanout';
import type { ProfileSummary } from './cpu-profile';
import { heraldVars, ProcMeter, readProfiles, startWorkers, stopProcs, type ProcFigures } from './herald';
import { anyExited, memStatus } from './procs';
import { delta, resetRedis, snapshot, type RedisDelta } from './redis';
import { CENTER, ZONES, userId } from './seed';
import { fmt, fmtBytes, say } from './util';

export interface ConsumeRun {
  events: number;
  /** consumer start (or process spawn) -> everything consumed / committed, seconds */
  wallS: number;
  /** first progress seen -> done: the steady rate, events/s */
  steadyPerS: number;
  wallPerS: number;
}

export interface IngestResult {
  events: number;
  produceS: number;
  noop: ConsumeRun;
  ingest: ConsumeRun & {
    caughtUp: boolean;
    commandsPerEvent: number;
    proc: ProcFigures | undefined;
    redisCpuS: number;
  };
  /** RSS of an ingest process that has joined its group on empty topics: the reference of its peak RSS */
  idleRss: number;
  redis: RedisDelta;
  profiles: Record<string, ProfileSummary>;
}

export async function runIngest(ctx: BenchContext, events: number): Promise<IngestResult> {
  const tag = 'ingest';
  let result: IngestResult;
  const prefix = `${ctx.runId}-ing`;
  const topicPrefix = `${prefix}.`;
  await resetRedis(ctx.redis);
  await ctx.kafka.topics(topicPrefix, 3);
  const topics = [topicName(topicPrefix, 'profiles'), topicName(topicPrefix, 'locations')];
  const kafka = createKafka(ctx.kafka.brokers, 'herald-bench-ingest');

  say(`${tag}: producing ${fmt(events)} events (${fmt(events / 2)} profiles, ${fmt(events / 2)} locations)`);
  const at = new Date(Date.now() - 60_000).toISOString();
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const p0 = Date.now();
  const half = Math.floor(events / 2);
  try {
    for (let i = 0; i < half; i += 2000) {
      const ids = Array.from({ length: Math.min(2000, half - i) }, (_, j) => i + j);
      await producer.sendBatch({
        acks: -1,
        topicMessages: [
          {
            topic: topics[0]!,
            messages: ids.map((n) => {
              const id = userId('i', n);
              return {
                key: id,
                value: JSON.stringify({
                  v: 1,
                  eventId: `ing-prof-${n}`,
                  userId: id,
                  timeZone: ZONES[n % ZONES.length],
                  locale: 'es-ES',
                  pushOptIn: n % 20 !== 0,
                  devices: [{ platform: 'android', token: `fcm-${id}-${'x'.repeat(140)}` }],
                  home: CENTER,
                  at,
                }),
              };
            }),
          },
          {
            topic: topics[1]!,
            messages: ids.map((n) => {
              const id = userId('i', n);
              return {
                key: id,
                value: JSON.stringify({
                  v: 1,
                  eventId: `ing-loc-${n}`,
                  userId: id,
                  lat: CENTER.lat + (n % 100) / 1e4,
                  lon: CENTER.lon,
                  accuracyM: 25,
                  at,
                }),
              };
            }),
          },
        ],
      });
    }
  } finally {
    await producer.disconnect();
  }
  const total = await ctx.kafka.ends(topics);
  const produceS = (Date.now() - p0) / 1000;
  say(`${tag}: produced ${fmt(total)} in ${produceS.toFixed(1)} s; reference: a no-op eachBatch consumer`);

  const noop = await noopConsumer(kafka, topics, `${prefix}-noop`, total, (n, s) =>
    say(`${tag}: no-op consumer ${fmt(n)}/${fmt(total)} at ${s.toFixed(1)} s`),
  );
  say(
    `${tag}: no-op consumer: ${fmt(noop.steadyPerS)} events/s steady, ${fmt(noop.wallPerS)} events/s from start`,
  );

  const idleRss = await idleIngestRss(ctx, prefix);
  say(`${tag}: an idle ingest process (joined, nothing to read) holds ${fmtBytes(idleRss)}`);
  const vars = heraldVars({
    redisUrl: ctx.redisUrl,
    prefix,
    topicPrefix,
    brokers: ctx.kafka.brokers.join(','),
    concurrency: ctx.concurrency,
  });
  const groupId = `${prefix}-ingest`;
  const before = await snapshot(ctx.redis);
  const t0 = Date.now();
  const procs = startWorkers(['ingest'], vars, ctx.logDir, ctx.profileDir);
  const meter = new ProcMeter(procs);
  meter.start();
  let firstAt = 0;
  let firstCommitted = 0;
  let lastSay = Date.now();
  try {
    for (;;) {
      const committed = await ctx.kafka.committed(groupId, topics);
      if (committed > 0 && firstAt === 0) {
        firstAt = Date.now();
        firstCommitted = committed;
      }
      if (committed >= total) break;
      if (procs[0]!.hasExited()) throw new Error(`bench: the ingest worker exited; see ${procs[0]!.logFile}`);
      if (Date.now() - t0 > 600_000) throw new Error('bench: ingest did not catch up within 10 minutes');
      if (Date.now() - lastSay > ctx.progressS * 1000) {
        lastSay = Date.now();
        say(
          `${tag}: ingest committed ${fmt(committed)}/${fmt(total)} at ${((Date.now() - t0) / 1000).toFixed(1)} s`,
        );
      }
      await sleep(100);
    }
    const t1 = Date.now();
    const caughtUp = await groupCaughtUp(loadConfig(vars), groupId, ['profiles', 'locations']);
    const after = await snapshot(ctx.redis);
    const proc = meter.read().ingest;
    const d = delta(before, after);
    const wallS = (t1 - t0) / 1000;
    const steadyS = (t1 - firstAt) / 1000;
    const ingest = {
      events: total,
      wallS,
      wallPerS: total / wallS,
      steadyPerS: steadyS > 0 ? (total - firstCommitted) / steadyS : NaN,
      caughtUp,
      commandsPerEvent: d.commands / total,
      proc,
      redisCpuS: d.cpu,
    };
    say(
      `${tag}: ingest: ${fmt(ingest.steadyPerS)} events/s steady, ${fmt(ingest.wallPerS)} events/s from spawn; caught up: ${caughtUp}`,
    );
    result = { events: total, produceS, noop, ingest, idleRss, redis: d, profiles: {} };
  } finally {
    await stopProcs(procs);
  }
  result.profiles = readProfiles(ctx.profileDir, vars, ['ingest']);
  return result;
}

/** An ingest process on empty topics, once its consumer group is stable: its resident set. */
async function idleIngestRss(ctx: BenchContext, prefix: string): Promise<number> {
  const idlePrefix = `${prefix}-idle`;
  await ctx.kafka.topics(`${idlePrefix}.`, 3);
  const vars = heraldVars({
    redisUrl: ctx.redisUrl,
    prefix: idlePrefix,
    topicPrefix: `${idlePrefix}.`,
    brokers: ctx.kafka.brokers.join(','),
    concurrency: ctx.concurrency,
  });
  const [proc] = startWorkers(['ingest'], vars, ctx.logDir);
  try {
    await waitFor(
      async () => {
        const { groups } = await ctx.kafka.admin.describeGroups([`${idlePrefix}-ingest`]);
        return groups[0]?.state === 'Stable';
      },
      'the idle ingest group',
      { timeoutMs: 60_000, intervalMs: 200, abort: anyExited([proc!]) },
    );
    await sleep(1000);
    return memStatus(proc!.pid)?.rss ?? NaN;
  } finally {
    await stopProcs([proc!]);
  }
}

async function noopConsumer(
  kafka: ReturnType<typeof createKafka>,
  topics: readonly string[],
  groupId: string,
  total: number,
  progress: (n: number, s: number) => void,
): Promise<ConsumeRun> {
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: 30_000,
    heartbeatInterval: 3_000,
    maxWaitTimeInMs: 100,
  });
  let n = 0;
  let firstAt = 0;
  let firstN = 0;
  let doneAt = 0;
  const t0 = Date.now();
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [...topics], fromBeginning: true });
    await consumer.run({
      ...MANUAL_COMMIT_RUN,
      eachBatch: async (payload) => {
        const { batch } = payload;
        if (!payload.isRunning() || payload.isStale() || batch.messages.length === 0) return;
        await commitBatch(consumer, payload);
        if (firstAt === 0) {
          firstAt = Date.now();
          firstN = batch.messages.length;
        }
        n += batch.messages.length;
        if (n >= total && doneAt === 0) doneAt = Date.now();
      },
    });
    let lastSay = Date.now();
    while (doneAt === 0) {
      if (Date.now() - t0 > 300_000)
        throw new Error('bench: the no-op consumer did not finish within 5 minutes');
      if (Date.now() - lastSay > 3000) {
        lastSay = Date.now();
        progress(n, (Date.now() - t0) / 1000);
      }
      await sleep(20);
    }
  } finally {
    await consumer.disconnect();
  }
  const wallS = (doneAt - t0) / 1000;
  const steadyS = (doneAt - firstAt) / 1000;
  return { events: n, wallS, wallPerS: n / wallS, steadyPerS: steadyS > 0 ? (n - firstN) / steadyS : NaN };
}
