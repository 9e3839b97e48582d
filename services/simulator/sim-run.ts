/**
 * Runs the simulated world through the real pipeline under one policy: every worker its own process on an
 * accelerated clock, the world's events published to Kafka when simulated time reaches them, the daily
 * campaign started at its local hour, and every push answered with feedback drawn from the ground truth.
 *
 * Each run has its own namespace (Redis prefix, topics, consumer groups) and removes it when done.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Producer } from 'kafkajs';
import { acceleratedClock, type Clock } from '../../shared/clock';
import { loadConfig } from '../../shared/config';
import { ensureTopics } from '../../shared/kafka/admin';
import { createKafka } from '../../shared/kafka/client';
import type { PushSent } from '../../shared/schemas/events.schema';
import { allTopicNames, topicName, type TopicKey } from '../../shared/topics';
import { sleep } from '../../shared/wait';
import { launchWorkers } from '../operations/launch';
import { dropNamespace } from '../operations/namespace';
import { PipelineProbe } from '../operations/probe';
import {
  DAY_MS,
  HOUR_MS,
  NO_FATIGUE,
  bestHourUtc,
  createRng,
  feedbackEvents,
  generateDay,
  initialEvents,
  productsOf,
  recordPush,
  respond,
  sampleResponse,
  type AnySimEvent,
  type FatigueState,
  type PushSpec,
  type ResponseFactors,
  type World,
} from './world';

export interface PushRecord {
  pushId: string;
  userId: string;
  strategy: string;
  candidateId: string;
  kind: PushSent['candidate']['kind'];
  category: string;
  sentAt: number;
  day: number;
  pOpen: number;
  pClick: number;
  opened: boolean;
  clicked: boolean;
  /** The open probability had the push gone at the user's most active hour of that day. */
  pOpenBestHour: number;
  /** Sent within an hour of the user's most active hour of that day. */
  nearBestHour: boolean;
  /** The response model's factors of the open probability (why it was what it was). */
  factors?: ResponseFactors;
}

/** Where a push's send time stands against the user's most active hour of its day (ground truth). */
export function sendTimeTruth(
  world: World,
  user: string,
  spec: PushSpec,
  sentAt: number,
  fatigue: FatigueState,
): Pick<PushRecord, 'pOpenBestHour' | 'nearBestHour'> {
  const bestAt = bestHourUtc(world, user, Math.floor((sentAt - world.startMs) / DAY_MS));
  const off = (((sentAt - (bestAt + 30 * 60_000)) % DAY_MS) + DAY_MS) % DAY_MS;
  return {
    pOpenBestHour: respond(world, user, spec, bestAt + 30 * 60_000, fatigue).pOpen,
    nearBestHour: off <= 90 * 60_000 || off >= DAY_MS - 90 * 60_000,
  };
}

export interface SimRunOptions {
  /** Runs once the run's namespace exists, before the workers start (e.g. to promote a model in it). */
  prepare?: (vars: { REDIS_URL: string; HERALD_PREFIX: string }) => Promise<void>;
  world: World;
  /**
   * Days of the world published at once before the run (behaviour only, no pushes, no campaigns), so state
   * and the engagement model start from weeks of history. Default 0.
   */
  replayDays?: number;
  /**
   * Burn-in days before the evaluated days: the world and the policy run on them as on any other day (state,
   * clicks and fatigue build up as in production), but their pushes are not measured.
   */
  historyDays: number;
  /** Evaluated days, after the history. */
  days: number;
  /** Real seconds one simulated day takes. */
  daySeconds: number;
  /** The city's zone: the daily campaign starts at `campaignHour` there. */
  timeZone: string;
  campaignHour: number;
  /** Environment of the workers for this policy (STRATEGIES, DAILY_SALE_POLICY, SEND_MODE, ...). */
  env: Record<string, string>;
  brokers: string;
  redisUrl: string;
  outDir: string;
  label: string;
  progress: (line: string) => void;
}

export interface SimRunResult {
  label: string;
  /** The run's decision log, JSON lines: decisions that sent nothing, push.sent, feedback. */
  logs: { decisions: string; pushes: string; feedback: string };
  /** Clock ms the evaluated days start. */
  evalStart: number;
  pushes: PushRecord[];
  eventsPublished: number;
  campaigns: number;
  realSeconds: number;
  /** The pipeline's own counters at the end: events in, dead letters, sends, filter drops, failed jobs. */
  pipeline: {
    stats: Record<string, number>;
    drops: Record<string, number>;
    feedback: Record<string, number>;
    failedJobs: number;
  };
}

/** Real ms granted to start the workers and ingest the profiles and stores before the first day begins. */
const WARMUP_MS = 20_000;

class EventHeap {
  private items: AnySimEvent[] = [];
  push(e: AnySimEvent): void {
    const a = this.items;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]!.at <= a[i]!.at) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }
  peek(): AnySimEvent | undefined {
    return this.items[0];
  }
  pop(): AnySimEvent | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l]!.at < a[m]!.at) m = l;
        if (r < a.length && a[r]!.at < a[m]!.at) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
  get size(): number {
    return this.items.length;
  }
}

async function publish(producer: Producer, prefix: string, events: readonly AnySimEvent[]): Promise<void> {
  const byTopic = new Map<TopicKey, AnySimEvent[]>();
  for (const e of events) {
    const list = byTopic.get(e.topic) ?? [];
    list.push(e);
    byTopic.set(e.topic, list);
  }
  await producer.sendBatch({
    acks: -1,
    topicMessages: [...byTopic].map(([topic, list]) => ({
      topic: topicName(prefix, topic),
      messages: list.map((e) => ({ key: e.key, value: JSON.stringify(e.value) })),
    })),
  });
}

/**
 * What a user sees of a push, looked up in the world by the candidate's id. A product push is read like a
 * sale without a place: its first product's category and discount.
 */
function pushSpecs(world: World): (p: PushSent) => PushSpec | undefined {
  const stores = new Map(world.stores.map((s) => [s.id, s]));
  const sales = new Map(world.sales.flat().map((s) => [s.id, s]));
  const products = productsOf(world).byId;
  return (p) => {
    if (p.candidate.kind === 'product') {
      const s = products.get(p.candidate.id);
      return s && { kind: 'sale', category: s.category, discount: s.discount };
    }
    if (p.candidate.kind === 'store') {
      const s = stores.get(p.candidate.id);
      return (
        s && {
          kind: 'store',
          category: s.category,
          discount: s.discount,
          storeLocation: { lat: s.lat, lon: s.lon },
        }
      );
    }
    const s = sales.get(p.candidate.id);
    return s && { kind: 'sale', category: s.category, discount: s.discount };
  };
}

export async function runSimulation(o: SimRunOptions): Promise<SimRunResult> {
  const started = Date.now();
  const ns = `sim${o.label.replace(/[^a-z0-9]/gi, '')}${randomBytes(3).toString('hex')}`;
  const speed = DAY_MS / (o.daySeconds * 1000);
  const replayDays = o.replayDays ?? 0;
  const simStart = o.world.startMs + replayDays * DAY_MS;
  const evalStart = simStart + o.historyDays * DAY_MS;
  const totalDays = o.historyDays + o.days;
  // Replayed days are ingested during the warm-up: about a second and a half per day of 3,000 users.
  const replayMs = Math.round(replayDays * 1500 * Math.max(1, o.world.users.count / 3000));
  const epoch = Date.now() + WARMUP_MS + replayMs;
  const clock: Clock = acceleratedClock(simStart, speed, epoch);
  const vars: Record<string, string> = {
    REDIS_URL: o.redisUrl,
    KAFKA_BROKERS: o.brokers,
    HERALD_PREFIX: ns,
    KAFKA_TOPIC_PREFIX: `${ns}.`,
    KAFKA_GROUP_PREFIX: ns,
    KAFKA_PARTITIONS: '2',
    CLOCK: `accelerated:${new Date(simStart).toISOString()}:${speed}`,
    CLOCK_EPOCH_MS: String(epoch),
    SINK_FILE: join(o.outDir, `${ns}-pushes.jsonl`),
    SEND_POLL_MS: '20',
    // Herald's own scheduler starts the daily campaign on the accelerated clock, as it would in production.
    DAILY_SALE_CRON: `0 ${o.campaignHour} * * *`,
    DAILY_SALE_TZ: o.timeZone,
    SCHEDULER_POLL_MS: '20',
    LOG_LEVEL: 'error',
    ...o.env,
  };
  const config = loadConfig(vars);
  await ensureTopics(config.KAFKA_BROKERS, allTopicNames(config.KAFKA_TOPIC_PREFIX), config.KAFKA_PARTITIONS);

  if (o.prepare) await o.prepare({ REDIS_URL: o.redisUrl, HERALD_PREFIX: ns });
  const workers = launchWorkers(vars);
  const kafka = createKafka(config.KAFKA_BROKERS, `herald-sim-${ns}`);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const reader = kafka.consumer({ groupId: `${ns}-sim-reader`, maxWaitTimeInMs: 50 });
  const specOf = pushSpecs(o.world);
  const fatigue = new Map<string, FatigueState>();
  const pushes: PushRecord[] = [];
  const seen = new Set<string>();
  const heap = new EventHeap();
  let published = 0;
  // The run's decision log (push.decisions, push.sent, and the feedback the world gave) for offline policy
  // evaluation: JSON lines, written to the output directory when the run ends.
  const decisions: string[] = [];
  const sentLog: string[] = [];
  const feedbackLog: string[] = [];

  try {
    await producer.connect();
    await reader.connect();
    const sentTopic = topicName(config.KAFKA_TOPIC_PREFIX, 'pushSent');
    await reader.subscribe({ topic: sentTopic, fromBeginning: true });
    await reader.subscribe({ topic: topicName(config.KAFKA_TOPIC_PREFIX, 'decisions'), fromBeginning: true });
    const arrived: PushSent[] = [];
    await reader.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          if (!m.value) continue;
          if (batch.topic === sentTopic) arrived.push(JSON.parse(m.value.toString()) as PushSent);
          else decisions.push(m.value.toString());
        }
        await Promise.resolve();
      },
    });

    const initial = initialEvents(o.world, clock.now());
    await publish(producer, config.KAFKA_TOPIC_PREFIX, initial);
    published += initial.length;
    for (let d = 0; d < replayDays; d++) {
      const events = generateDay(o.world, d).filter((e) => e.at < simStart);
      await publish(producer, config.KAFKA_TOPIC_PREFIX, events);
      published += events.length;
    }
    o.progress(
      `${o.label}: ${initial.length} profiles and stores in, ${replayDays} days replayed; the first day starts in ${Math.round((epoch - Date.now()) / 1000)} s`,
    );

    const end = simStart + totalDays * DAY_MS;
    let nextDay = 0;
    let lastReport = 0;
    for (;;) {
      const now = clock.now();
      // Generate each day's behaviour just before the day begins, so memory holds one day at a time.
      while (nextDay < totalDays && now >= simStart + nextDay * DAY_MS - HOUR_MS) {
        for (const e of generateDay(o.world, replayDays + nextDay)) heap.push(e);
        nextDay++;
      }
      const due: AnySimEvent[] = [];
      while (heap.size > 0 && heap.peek()!.at <= now) due.push(heap.pop()!);
      if (due.length > 0) {
        await publish(producer, config.KAFKA_TOPIC_PREFIX, due);
        published += due.length;
      }
      for (const p of arrived.splice(0)) {
        if (seen.has(p.pushId)) continue; // push.sent is at-least-once
        seen.add(p.pushId);
        const spec = specOf(p);
        if (!spec) continue;
        const sentAt = Date.parse(p.sentAt);
        const state = fatigue.get(p.userId) ?? NO_FATIGUE;
        const outcome = sampleResponse(
          createRng(o.world.seed, 'response', p.pushId),
          o.world,
          p.userId,
          spec,
          sentAt,
          state,
        );
        fatigue.set(p.userId, recordPush(state, sentAt, outcome.opened));
        for (const e of feedbackEvents({
          world: o.world,
          pushId: p.pushId,
          user: p.userId,
          strategy: p.strategy,
          candidateId: p.candidate.id,
          outcome,
        })) {
          heap.push(e);
          feedbackLog.push(JSON.stringify(e.value));
        }
        sentLog.push(JSON.stringify(p));
        pushes.push({
          pushId: p.pushId,
          userId: p.userId,
          strategy: p.strategy,
          candidateId: p.candidate.id,
          kind: p.candidate.kind,
          category: p.candidate.category,
          sentAt,
          day: Math.floor((sentAt - evalStart) / DAY_MS),
          pOpen: outcome.probabilities.pOpen,
          pClick: outcome.probabilities.pClick,
          opened: outcome.opened,
          clicked: outcome.clicked,
          factors: outcome.probabilities.factors,
          ...sendTimeTruth(o.world, p.userId, spec, sentAt, state),
        });
      }
      const exited = workers.exited();
      if (exited !== undefined) throw new Error(`the workers exited (${exited}) in the middle of the run`);
      if (now >= end) break;
      if (Date.now() - lastReport > 5000) {
        lastReport = Date.now();
        const simDay = (now - evalStart) / DAY_MS;
        const phase =
          Date.now() < epoch
            ? 'warming up'
            : simDay < 0
              ? `burn-in day ${(simDay + o.historyDays).toFixed(2)} of ${o.historyDays}`
              : `day ${simDay.toFixed(2)} of ${o.days}`;
        o.progress(`${o.label}: ${phase}, ${published} events in, ${pushes.length} pushes`);
      }
      await sleep(25);
    }
    const probe = new PipelineProbe(config);
    const pipeline = { ...(await probe.counters()), failedJobs: await probe.failedJobs() };
    // Campaigns started by Herald's scheduler (completed jobs are kept an hour, longer than any run).
    const campaigns = (await probe.completedJobs()).campaigns ?? 0;
    await probe.close();
    mkdirSync(o.outDir, { recursive: true });
    const logs = {
      decisions: join(o.outDir, `${o.label}-decisions.jsonl`),
      pushes: join(o.outDir, `${o.label}-push-sent.jsonl`),
      feedback: join(o.outDir, `${o.label}-feedback.jsonl`),
    };
    writeFileSync(logs.decisions, decisions.map((l) => `${l}\n`).join(''));
    writeFileSync(logs.pushes, sentLog.map((l) => `${l}\n`).join(''));
    writeFileSync(logs.feedback, feedbackLog.map((l) => `${l}\n`).join(''));
    // Burn-in pushes shaped the state; only the evaluated days are measured.
    return {
      logs,
      evalStart,
      pipeline,
      label: o.label,
      pushes: pushes.filter((p) => p.day >= 0 && p.day < o.days),
      eventsPublished: published,
      campaigns,
      realSeconds: (Date.now() - started) / 1000,
    };
  } finally {
    await workers.stop();
    await reader.disconnect().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    await dropNamespace(config);
  }
}
