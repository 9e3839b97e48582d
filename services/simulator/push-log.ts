/**
 * A push log drawn from the simulated world without Kafka or Redis: what Herald would have logged had it
 * sent one push a day to every reachable user for `days` days, each push's opens and clicks drawn from the
 * world's response model. It is the trainer's quick source (`npm run train -- --from-simulator`).
 *
 * Features are computed as the score stage computes them, from what Herald sees (profiles, purchases,
 * location pings, its own pushes' feedback), folded up to the start of the push's day; never from the
 * world's hidden preferences. The logging policy picks among the day's sales and a few stores that follow
 * the user's last purchase: with probability `explore` uniformly at random, otherwise the heuristic's best;
 * each row carries the probability of the candidate it sent (its propensity).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { distanceKm } from '../../shared/geo';
import type { GeoPoint } from '../../shared/schemas/common';
import { FEATURE_COUNT, writeFeatures, type EngagementCounts, type FeatureInput } from '../ranking/features';
import type { Examples } from '../ranking/trainer';
import { DEFAULT_ENGAGEMENT, localHour } from '../timing/engagement';
import {
  DAY_MS,
  NO_FATIGUE,
  createRng,
  createWorld,
  generateDay,
  initialEvents,
  recordPush,
  sampleResponse,
  type FatigueState,
  type PushSpec,
  type World,
} from './world';

export interface PushLogOptions {
  users: number;
  /** Days with pushes. */
  days: number;
  /** Days of behaviour before the first push, so users have a history. Default 14. */
  warmupDays?: number;
  seed?: number;
  /** ISO date of the first warm-up day. Default 2026-03-02. */
  start?: string;
  /** Share of pushes whose candidate is drawn uniformly (the rest: the heuristic's best). Default 0.5. */
  explore?: number;
  /** Sales per day. Default 20. */
  salesPerDay?: number;
  /** Store candidates per push. Default 3. */
  storeCandidates?: number;
  /** The follow-up table (JSON). Default infra/data/affinity.json. */
  affinity?: unknown;
}

export interface PushLog extends Examples {
  /** Probability that the logging policy sent this row's candidate. */
  propensity: Float64Array;
  /** The world's true open and click probabilities of each row (for the ceiling AUC; never a feature). */
  truthOpen: Float64Array;
  truthClick: Float64Array;
  /** Rows sent as stores. */
  stores: number;
  /** Reachable users skipped on a day because they had no candidate; unreachable pushes. */
  unreachable: number;
}

interface Seen {
  timeZone: string;
  location?: GeoPoint;
  lastCategory?: string;
  lastPurchaseAt?: number;
  categories: Record<string, number>;
  engagement: EngagementCounts;
  fatigue: FatigueState;
  /** Engagement-hour evidence by local hour, as services/timing counts it (undecayed here). */
  hours: Float64Array;
}

const W = DEFAULT_ENGAGEMENT.weights;

export function loadAffinity(): unknown {
  for (const p of [
    join(process.cwd(), 'infra/data/affinity.json'),
    join(__dirname, '../../infra/data/affinity.json'),
    join(__dirname, '../../../infra/data/affinity.json'),
  ]) {
    try {
      return JSON.parse(readFileSync(p, 'utf8')) as unknown;
    } catch {
      // next candidate path
    }
  }
  throw new Error('push-log: infra/data/affinity.json not found');
}

export function simulatePushLog(opts: PushLogOptions): PushLog {
  const warmup = opts.warmupDays ?? 14;
  const seed = opts.seed ?? 7;
  const explore = opts.explore ?? 0.5;
  const storeK = opts.storeCandidates ?? 3;
  const world: World = createWorld({
    seed,
    users: opts.users,
    stores: Math.max(60, Math.round(opts.users / 10)),
    salesPerDay: opts.salesPerDay ?? 20,
    days: warmup + opts.days,
    start: opts.start ?? '2026-03-02',
    affinity: opts.affinity ?? loadAffinity(),
  });
  const seen: Seen[] = [];
  const byId = new Map<string, number>();
  const fold = (events: ReturnType<typeof generateDay>) => {
    for (const e of events) {
      switch (e.topic) {
        case 'profiles': {
          const v = e.value;
          let i = byId.get(v.userId);
          if (i === undefined) {
            i = seen.length;
            byId.set(v.userId, i);
            seen.push({
              timeZone: v.timeZone,
              categories: {},
              engagement: { delivered: 0, opened: 0, clicked: 0 },
              fatigue: NO_FATIGUE,
              hours: new Float64Array(24),
            });
          }
          const s = seen[i] as Seen;
          s.timeZone = v.timeZone;
          if (!s.location && v.home) s.location = { lat: v.home.lat, lon: v.home.lon };
          break;
        }
        case 'purchases': {
          const s = seenOf(e.value.userId);
          if (!s) break;
          s.categories[e.value.category] = (s.categories[e.value.category] ?? 0) + 1;
          s.lastCategory = e.value.category;
          s.lastPurchaseAt = e.at;
          if (e.value.location) s.location = e.value.location;
          bump(s, e.at, W.purchase);
          break;
        }
        case 'browse': {
          const s = seenOf(e.value.userId);
          if (s) bump(s, e.at, W.browse);
          break;
        }
        case 'locations': {
          const s = seenOf(e.value.userId);
          if (s) s.location = { lat: e.value.lat, lon: e.value.lon };
          break;
        }
        default:
          break;
      }
    }
  };
  const bump = (s: Seen, atMs: number, w: number) => {
    const h = localHour(atMs, s.timeZone);
    s.hours[h] = (s.hours[h] as number) + w;
  };
  const seenOf = (id: string) => {
    const i = byId.get(id);
    return i === undefined ? undefined : seen[i];
  };
  fold(initialEvents(world));
  for (let d = 0; d < warmup; d++) fold(generateDay(world, d, { includeSales: false }));

  const rows: number[] = [];
  const x: number[] = [];
  const opened: number[] = [];
  const clicked: number[] = [];
  const at: number[] = [];
  const propensity: number[] = [];
  const truthOpen: number[] = [];
  const truthClick: number[] = [];
  let stores = 0;
  let unreachable = 0;
  const row = new Float64Array(FEATURE_COUNT);
  for (let d = warmup; d < warmup + opts.days; d++) {
    const dayStart = world.startMs + d * DAY_MS;
    const sales = world.sales[d] ?? [];
    const rng = createRng(seed, 'push-log', d);
    for (let i = 0; i < world.users.count; i++) {
      const s = seen[i];
      if (!s) continue;
      const sendAt = dayStart + Math.floor(rng.next() * DAY_MS);
      type Cand = { input: FeatureInput; spec: PushSpec; heuristic: number };
      const cands: Cand[] = [];
      const total = Object.values(s.categories).reduce((a, b) => a + b, 0);
      const base = {
        user: { ...s },
        engagement: s.engagement,
        hourCounts: Float64Array.from(s.hours),
        at: sendAt,
      };
      for (const sale of sales) {
        const candidate = { kind: 'sale' as const, category: sale.category, discount: sale.discount };
        const affinity = total > 0 ? (s.categories[sale.category] ?? 0) / total : 0;
        cands.push({
          input: { ...base, candidate, affinity },
          spec: { category: sale.category, discount: sale.discount, kind: 'sale' },
          heuristic: 0.5 * affinity + 0.2 * (sale.discount / 100),
        });
      }
      const last = s.lastCategory === undefined ? undefined : world.categoryIndex.get(s.lastCategory);
      if (last !== undefined && s.location) {
        const here = s.location;
        const near = (world.follows[last] ?? [])
          .flatMap((edge) =>
            Array.from(world.storesByCategory[edge.to] ?? [], (si) => {
              const st = world.stores[si] as (typeof world.stores)[number];
              return { st, affinity: edge.affinity, km: distanceKm(here, { lat: st.lat, lon: st.lon }) };
            }),
          )
          .sort((a, b) => a.km - b.km)
          .slice(0, storeK);
        for (const n of near) {
          const location = { lat: n.st.lat, lon: n.st.lon };
          const candidate = {
            kind: 'store' as const,
            category: n.st.category,
            discount: n.st.discount,
            location,
          };
          cands.push({
            input: { ...base, candidate, affinity: n.affinity },
            spec: {
              category: n.st.category,
              discount: n.st.discount,
              kind: 'store',
              storeLocation: location,
            },
            heuristic: 0.5 * n.affinity + 0.3 * Math.max(0, 1 - n.km / 5) + 0.2 * (n.st.discount / 100),
          });
        }
      }
      if (cands.length === 0) continue;
      let best = 0;
      cands.forEach((c, k) => {
        if (c.heuristic > (cands[best] as Cand).heuristic) best = k;
      });
      const pick = rng.next() < explore ? Math.floor(rng.next() * cands.length) : best;
      const chosen = cands[pick] as Cand;
      const p = explore / cands.length + (pick === best ? 1 - explore : 0);
      const out = sampleResponse(rng, world, i, chosen.spec, sendAt, s.fatigue);
      if (!out.delivered) {
        unreachable++;
        continue;
      }
      writeFeatures(chosen.input, row);
      for (let j = 0; j < FEATURE_COUNT; j++) x.push(row[j] as number);
      rows.push(i);
      opened.push(out.opened ? 1 : 0);
      clicked.push(out.clicked ? 1 : 0);
      at.push(sendAt);
      propensity.push(p);
      truthOpen.push(out.probabilities.pOpen);
      truthClick.push(out.probabilities.pOpenClick);
      if (chosen.spec.kind === 'store') stores++;
      if (out.openedAt !== null) bump(s, out.openedAt, W.opened);
      if (out.clickedAt !== null) bump(s, out.clickedAt, W.clicked);
      s.fatigue = recordPush(s.fatigue, sendAt, out.opened);
      s.engagement = {
        delivered: s.engagement.delivered + 1,
        opened: s.engagement.opened + (out.opened ? 1 : 0),
        clicked: s.engagement.clicked + (out.clicked ? 1 : 0),
      };
    }
    fold(generateDay(world, d, { includeSales: false }));
  }
  return {
    x: Float32Array.from(x),
    n: rows.length,
    d: FEATURE_COUNT,
    opened: Uint8Array.from(opened),
    clicked: Uint8Array.from(clicked),
    at: Float64Array.from(at),
    propensity: Float64Array.from(propensity),
    truthOpen: Float64Array.from(truthOpen),
    truthClick: Float64Array.from(truthClick),
    stores,
    unreachable,
  };
}
