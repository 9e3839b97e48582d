/**
 * Per-item CPU costs of the pure code on the hot paths, measured in the benchmark process, each beside
 * the cheaper way of getting the same answer, so a per-stage CPU figure can be traced to a line of code:
 * - send-time: dueTime() per user (luxon in the user's zone) vs the same answer memoised per zone;
 * - ingest: parseEvent() of a profile (zod, whose TimeZone refine builds an Intl.DateTimeFormat each
 *   time) vs that of a location, and IANAZone.isValidZone vs a Set lookup;
 * - every stage: validatePayload of a 500-user filter job, per user.
 */
import { IANAZone } from 'luxon';
import { z } from 'zod';
import { ProfileV1 } from '../../shared/schemas/events.schema';
import { createQueues, validatePayload } from '../../shared/queue-factory';
import { createRedis } from '../../shared/redis';
import { Winner as WinnerSchema } from '../../shared/schemas/jobs.schema';
import { parseEvent } from '../../shared/validate';
import { dueTime } from '../timing/send-time';
import { predictedPlan, zonePrior } from '../pipeline/send-time';
import { addEvidence, emptyCounters, HOURS } from '../timing/engagement';
import { createState } from '../state';
import { filterPayload, CAMPAIGN_CANDIDATE } from './refs';
import { info } from './redis';
import { seedStores, seedUsers, ZONES } from './seed';

export interface MicroFigure {
  name: string;
  /** microseconds per operation (bytes per user for the state figure) */
  us: number;
  reference: string;
  refUs: number;
}

function time(n: number, f: (i: number) => unknown): number {
  let sink = 0;
  for (let i = 0; i < Math.min(n, 1000); i++) if (f(i)) sink++;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) if (f(i)) sink++;
  const us = Number(process.hrtime.bigint() - t0) / 1000 / n;
  return sink >= 0 ? us : NaN;
}

export function runMicro(scale = 1): MicroFigure[] {
  const now = Date.now();
  const deadline = now + 2 * 86_400_000;
  const out: MicroFigure[] = [];

  const due = time(Math.round(10_000 * scale), (i) =>
    dueTime({ now, tz: ZONES[i % ZONES.length]!, mode: 'local-hour', localHour: 10, deadline }),
  );
  // Planning a predicted send per user: the posterior over 24 hours and the next 24 local hour starts
  // (luxon), against today's fixed-hour booking with its per-zone memo.
  const prior = Array.from({ length: HOURS }, (_, h) => 10 + h);
  const counters = emptyCounters();
  for (let k = 0; k < 30; k++) addEvidence(counters, (k * 7) % HOURS, 1, now - k * 3_600_000, 30);
  const opts = {
    quiet: { start: 22, end: 8 },
    explore: 0.05,
    waitMargin: 0.2,
    halfLifeDays: 30,
    priorStrength: 4,
    contactWindowMs: 20 * 3_600_000,
  };
  const booked = {
    decisionId: 'push-x',
    strategy: 's',
    targetId: 't',
    candidate: { ...CAMPAIGN_CANDIDATE, deadline },
    score: 0.4,
    at: now,
  };
  // A batch shrinks each zone's prior once (send-time's stage does the same).
  const shared = zonePrior(prior, prior);
  const planned = time(Math.round(5_000 * scale), (i) =>
    predictedPlan(
      opts,
      now,
      { userId: 'u', timeZone: ZONES[i % ZONES.length]!, locale: 'en', optIn: true, devices: [] },
      { ...booked, decisionId: `push-${i}` },
      { user: counters, prior: shared },
      'bulk',
    ),
  );
  const memo = new Map<string, number>();
  const dueMemo = time(Math.round(10_000 * scale), (i) => {
    const tz = ZONES[i % ZONES.length]!;
    let d = memo.get(tz);
    if (d === undefined) {
      d = dueTime({ now, tz, mode: 'local-hour', localHour: 10, deadline });
      memo.set(tz, d);
    }
    return d;
  });
  out.push({
    name: 'send-time: predicted plan per user',
    us: planned,
    reference: 'fixed-hour booking, dueTime memoised per zone',
    refUs: dueMemo,
  });
  out.push({
    name: 'send-time: dueTime() per user',
    us: due,
    reference: 'dueTime memoised per zone per batch',
    refUs: dueMemo,
  });

  const at = new Date(now - 60_000).toISOString();
  const profiles = Array.from({ length: 1000 }, (_, i) =>
    Buffer.from(
      JSON.stringify({
        v: 1,
        eventId: `e${i}`,
        userId: `u${i}`,
        timeZone: ZONES[i % ZONES.length],
        locale: 'es-ES',
        pushOptIn: true,
        devices: [{ platform: 'android', token: 'x'.repeat(152) }],
        home: { lat: 40.4, lon: -3.7 },
        at,
      }),
    ),
  );
  const locations = Array.from({ length: 1000 }, (_, i) =>
    Buffer.from(
      JSON.stringify({ v: 1, eventId: `l${i}`, userId: `u${i}`, lat: 40.4, lon: -3.7, accuracyM: 25, at }),
    ),
  );
  const prof = time(Math.round(4000 * scale), (i) => parseEvent('profiles', profiles[i % 1000]!, now).ok);
  const loc = time(Math.round(20_000 * scale), (i) => parseEvent('locations', locations[i % 1000]!, now).ok);
  out.push({ name: 'ingest: parseEvent(profile)', us: prof, reference: 'parseEvent(location)', refUs: loc });
  const zones = new Set<string>(ZONES);
  const valid = time(Math.round(4000 * scale), (i) => IANAZone.isValidZone(ZONES[i % ZONES.length]!));
  const cached = time(Math.round(20_000 * scale), (i) => zones.has(ZONES[i % ZONES.length]!));
  out.push({
    name: 'ingest: IANAZone.isValidZone per event',
    us: valid,
    reference: 'a Set of zones seen valid',
    refUs: cached,
  });
  // The fix, measured: the same contract with the zone check memoised (valid zones do not become invalid).
  const validZones = new Set<string>();
  const memoZone = (tz: string) =>
    validZones.has(tz) || (IANAZone.isValidZone(tz) && validZones.add(tz).size > 0);
  const ProfileMemo = ProfileV1.extend({ timeZone: z.string().refine(memoZone, 'not an IANA time zone') });
  const profMemo = time(
    Math.round(4000 * scale),
    (i) => ProfileMemo.safeParse(JSON.parse(profiles[i % 1000]!.toString('utf8'))).success,
  );
  out.push({
    name: 'ingest: parseEvent(profile)',
    us: prof,
    reference: 'its schema with the zone check memoised',
    refUs: profMemo,
  });
  const json = time(
    Math.round(20_000 * scale),
    (i) => JSON.parse(profiles[i % 1000]!.toString('utf8')) as unknown,
  );
  out.push({
    name: 'ingest: parseEvent(profile)',
    us: prof,
    reference: 'JSON.parse of the same bytes',
    refUs: json,
  });

  const job = filterPayload(0);
  const validate = time(Math.round(2000 * scale), () => validatePayload('filter', job, 'bench')) / 500;
  const parse = time(Math.round(2000 * scale), () => JSON.parse(JSON.stringify(job)) as unknown) / 500;
  out.push({
    name: 'stage: validatePayload(filter job), per user',
    us: validate,
    reference: 'JSON round trip of the job, per user',
    refUs: parse,
  });

  const winner = JSON.stringify({
    decisionId: 'push-abc',
    strategy: 'daily-sale',
    targetId: 'ds-x',
    candidate: CAMPAIGN_CANDIDATE,
    score: 0.07,
    at: now,
  });
  const wz = time(Math.round(50_000 * scale), () => WinnerSchema.parse(JSON.parse(winner)));
  const wj = time(Math.round(50_000 * scale), () => JSON.parse(winner) as unknown);
  out.push({
    name: 'send-time: Winner.parse(JSON.parse) per user',
    us: wz,
    reference: 'JSON.parse alone',
    refUs: wj,
  });
  return out;
}

/**
 * The target stage's catalog reads against the benchmark's Redis, on a connection that carries BullMQ's
 * scripts as a worker's does: one storesInCategories() per trigger (two pipelines each, what a market-basket
 * trigger costs now) vs one lookup of the batch's distinct categories; and what building an ioredis
 * pipeline costs on such a connection vs on a plain one (ioredis copies every defined script into it).
 */
export async function runRedisMicro(
  redisUrl: string,
  prefix: string,
  categories: readonly string[],
  scale = 1,
): Promise<MicroFigure[]> {
  const plain = createRedis(redisUrl, 'herald-bench-micro-plain');
  const shared = createRedis(redisUrl, 'herald-bench-micro-shared');
  const queues = createQueues(shared, prefix);
  const out: MicroFigure[] = [];
  try {
    await Promise.all(Object.values(queues).map((q) => q.waitUntilReady()));
    await seedStores(shared, prefix, categories, 5);
    const store = createState(shared, prefix).catalog;
    createState(plain, prefix);
    const pipeShared = time(Math.round(20_000 * scale), () => shared.pipeline().length === 0);
    const pipePlain = time(Math.round(20_000 * scale), () => plain.pipeline().length === 0);
    out.push({
      name: 'stage: redis.pipeline() on a BullMQ-shared connection',
      us: pipeShared,
      reference: "on a connection with only Herald's scripts",
      refUs: pipePlain,
    });

    const affinity = categories.map((c, i) => [
      categories[(i + 1) % categories.length]!,
      categories[(i + 2) % categories.length]!,
      c,
    ]);
    const triggers = 200;
    const t0 = performance.now();
    for (let i = 0; i < triggers; i++) await store.storesInCategories(affinity[i % affinity.length]!);
    const perTrigger = ((performance.now() - t0) * 1000) / triggers;
    const t1 = performance.now();
    for (let round = 0; round < 2; round++) {
      const wanted = new Set<string>();
      for (let i = round * 100; i < (round + 1) * 100; i++)
        for (const c of affinity[i % affinity.length]!) wanted.add(c);
      await store.storesInCategories([...wanted]);
    }
    const batched = ((performance.now() - t1) * 1000) / triggers;
    out.push({
      name: 'target: storesInCategories() per trigger',
      us: perTrigger,
      reference: 'one lookup per 100-trigger batch, per trigger',
      refUs: batched,
    });

    // The engagement model's bytes per user: counters at 1, 4 and all 24 hours, against the user hash.
    {
      const m0 = Number((await info(plain, 'memory')).used_memory);
      const n = Math.round(5_000 * scale);
      const timing = createState(plain, `${prefix}-hours`).timing;
      for (let u = 0; u < n; u += 500) {
        const evidence = [];
        for (let k = u; k < Math.min(n, u + 500); k++)
          for (let h = 0; h < HOURS; h++)
            evidence.push({ userId: `h${k}`, tz: 'UTC', hour: h, weight: 1, at: Date.now() });
        await timing.record(evidence);
      }
      const bytes = (Number((await info(plain, 'memory')).used_memory) - m0) / n;
      out.push({
        name: 'state: engagement model bytes per user (all 24 hours)',
        us: bytes,
        reference: '24 float64 counters and times, raw',
        refUs: HOURS * 16,
      });
    }

    // The user hash holds the devices JSON (an FCM token alone is ~152 bytes): over Redis's default
    // hash-max-listpack-value of 64 the hash becomes a hashtable.
    const users = Math.round(20_000 * scale);
    const limit = ((await plain.config('GET', 'hash-max-listpack-value')) as string[])[1] ?? '64';
    const used = async () => Number((await info(plain, 'memory')).used_memory);
    const perUser = async (value: string, p: string) => {
      await plain.config('SET', 'hash-max-listpack-value', value);
      const m0 = await used();
      await seedUsers(plain, p, { idPrefix: 'u', count: users, indexed: false });
      return (await used()) - m0;
    };
    try {
      const small = await perUser('64', `${prefix}-lp64`);
      const large = await perUser('512', `${prefix}-lp512`);
      out.push({
        name: 'state: user hash bytes, hash-max-listpack-value 64 (default)',
        us: small / users,
        reference: 'the same users at hash-max-listpack-value 512',
        refUs: large / users,
      });
    } finally {
      await plain.config('SET', 'hash-max-listpack-value', limit);
    }
  } finally {
    await Promise.all(Object.values(queues).map((q) => q.close()));
    await shared.quit();
    await plain.quit();
  }
  return out;
}
