/**
 * @jest-environment ./test/helpers/onnx-environment.js
 */
/**
 * The score stage's model path computes its rows and picks with shared work (per user, per category, per
 * group) and tight loops; these tests hold it to the straightforward implementation: one `featureVector`
 * per (user, candidate) pair and pickBest's per-user loop, on a varied batch (zones with DST gaps and
 * repeats, half-hour and 45-minute offsets, an unknown zone, users with and without state, users missing
 * altogether, every built-in strategy plus one without `affinities`). Rows must be equal bit for bit.
 */
import { affinityTable } from '../../services/affinity/affinity-table';
import { createScoreStage, featureRows, pickBest, pickBestRows } from '../../services/pipeline/score';
import {
  FEATURE_COUNT,
  FEATURE_NAMES,
  FEATURE_SCHEMA_HASH,
  NO_ENGAGEMENT,
  featureVector,
  type EngagementCounts,
} from '../../services/ranking/features';
import { rankScore } from '../../services/ranking/heuristic';
import { initMlp } from '../../services/ranking/mlp';
import { loadModel, runModel } from '../../services/ranking/model-server';
import { exportOnnx, type ModelMetadata } from '../../services/ranking/onnx-export';
import { seededRandom } from '../../services/ranking/trainer';
import { DEFAULT_RERANK } from '../../services/recs/rerank';
import { createDailySale } from '../../services/strategies/daily-sale/daily-sale.strategy';
import { createMarketBasket } from '../../services/strategies/market-basket/market-basket.strategy';
import { createOnlineToOffline } from '../../services/strategies/online-to-offline/online-to-offline.strategy';
import { createProductRecs } from '../../services/strategies/product-recs/product-recs.strategy';
import type { StrategyPlugin } from '../../services/strategies';
import type { UserState } from '../../services/state';
import type { Candidate, CandidatePick, Group } from '../../shared/schemas/jobs.schema';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const CATS = ['wine', 'books', 'shoes', 'groceries', 'toys'];
const ZONES = [
  'Europe/Madrid', // DST starts 2026-03-29 01:00 UTC
  'America/New_York', // DST ends 2026-11-01 06:00 UTC: 01:00-02:00 local twice
  'Australia/Lord_Howe', // a 30-minute DST shift
  'Asia/Kathmandu', // +05:45
  'UTC',
  'Not/A_Zone', // invalid: the clock falls back to noon on a Wednesday
];

const strategies = new Map<string, StrategyPlugin>(
  [
    createDailySale({ policy: 'personal', maxCandidates: 10 }),
    createMarketBasket({
      affinity: affinityTable({ version: 1, categories: CATS, follows: {} }),
      maxStores: 5,
      maxAgeMs: HOUR,
      ownWeight: 0.4,
    }),
    createOnlineToOffline({ radiusKm: 1, minDiscount: 0, maxStores: 5, cooldownMs: DAY, maxAgeMs: HOUR }),
    createProductRecs({ perPush: 2, rerank: DEFAULT_RERANK, cooldownMs: DAY, maxAgeMs: HOUR }),
    // No `affinities`: the path falls back to `features` per pair; out-of-range affinities are clamped.
    {
      name: 'custom',
      features: (c: Candidate, u: UserState) => ({
        affinity: u.userId.endsWith('3') ? Number.NaN : c.affinity * 1.7 - 0.2,
      }),
    } as Pick<StrategyPlugin, 'name' | 'features'> as StrategyPlugin,
  ].map((s) => [s.name, s]),
);

function world(seed: number) {
  const r = seededRandom(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)] as T;
  const users = new Map<string, UserState>();
  const engagement = new Map<string, EngagementCounts>();
  const hours = new Map<string, ArrayLike<number>>();
  const T = Date.parse('2026-03-29T01:00:00Z');
  for (let i = 0; i < 60; i++) {
    const userId = `u${i}`;
    const user: UserState = {
      userId,
      timeZone: ZONES[i % ZONES.length] as string,
      locale: 'en',
      optIn: true,
      devices: [],
    };
    if (r() < 0.8) {
      const categories: Record<string, number> = {};
      for (const c of CATS)
        if (r() < 0.5) categories[c] = r() < 0.2 ? 0.5 + r() * 3 : 1 + Math.floor(r() * 6);
      user.categories = categories; // sometimes {}: no purchases
    }
    if (r() < 0.7) user.location = { lat: 40.4 + r() * 0.2, lon: -3.8 + r() * 0.2 };
    if (r() < 0.6) user.lastCategory = pick(CATS);
    if (r() < 0.6) user.lastPurchaseAt = T + Math.floor((r() - 0.9) * 90 * DAY); // some after the send
    users.set(userId, user);
    if (r() < 0.7) {
      const delivered = Math.floor(r() * 20);
      const opened = Math.floor(r() * (delivered + 1));
      engagement.set(userId, { delivered, opened, clicked: Math.floor(r() * (opened + 1)) });
    }
    const h = r();
    if (h < 0.6)
      hours.set(
        userId,
        Array.from({ length: 24 }, () => (r() < 0.5 ? 0 : r() * 5)),
      );
    else if (h < 0.7) hours.set(userId, [1, 2, 3]); // not 24 counters: no evidence
  }
  const sale = (id: string, category: string, discount: number, segment?: string): Candidate => ({
    id,
    kind: 'sale',
    category,
    title: id,
    discount,
    affinity: 0,
    ...(segment ? { segment } : {}),
  });
  const store = (id: string, category: string, withLocation = true): Candidate => ({
    id,
    kind: 'store',
    category,
    title: id,
    discount: Math.round(r() * 100),
    affinity: Math.round(r() * 100) / 100,
    ...(withLocation ? { location: { lat: 40.4 + r() * 0.2, lon: -3.8 + r() * 0.2 } } : {}),
  });
  const all = [...users.keys()];
  const some = (share: number) => all.filter(() => r() < share);
  const groups: Group[] = [
    {
      strategy: 'daily-sale',
      targetId: 'ds-1',
      at: Date.parse('2026-03-29T00:59:30Z'), // Madrid: just before the gap
      userIds: ['ghost-1', ...all, 'ghost-2', 'u7'], // users without state, and one listed twice
      candidates: [
        sale('s1', 'wine', 20),
        sale('s2', 'books', 35),
        sale('s3', 'wine', 10),
        sale('s4', 'shoes', 0),
        sale('s5', 'toys', 120), // discount clamped
        sale('s6', 'groceries', 50, '*'),
        sale('s7', 'books', 50, 'books'),
        sale('s8', 'unknown', 5),
      ],
    },
    {
      strategy: 'daily-sale',
      targetId: 'ds-2',
      at: Date.parse('2026-11-01T06:30:00Z'), // New York: the repeated hour, second time
      userIds: some(0.7),
      candidates: [sale('s1', 'wine', 20), sale('s1', 'books', 40), sale('s9', 'toys', 15)], // a repeated id
    },
    {
      strategy: 'daily-sale',
      targetId: 'ds-3',
      at: Date.parse('2026-11-01T05:30:00Z'), // New York: the repeated hour, first time
      userIds: some(0.5),
      candidates: [sale('s2', 'books', 35), sale('s4', 'shoes', 60)],
    },
    {
      strategy: 'market-basket',
      targetId: 'mb-1',
      at: Date.parse('2026-04-04T15:45:00Z'), // Lord Howe: during its 30-minute DST shift
      userIds: ['u4'],
      candidates: [store('st1', 'wine'), store('st2', 'books'), store('st3', 'wine', false)],
    },
    {
      strategy: 'online-to-offline',
      targetId: 'o2o-1',
      at: Date.parse('2026-03-28T22:15:00Z'), // a Saturday evening in Europe, Sunday morning in Kathmandu
      userIds: some(0.3),
      candidates: [store('st4', 'groceries'), store('st5', 'shoes', false), store('st6', 'shoes')],
    },
    {
      strategy: 'product-recs',
      targetId: 'pr-1',
      at: Date.parse('2026-06-15T12:00:00Z'),
      userIds: ['u10', 'u11', 'ghost-3'],
      candidates: [{ ...sale('p1', 'groceries', 10), kind: 'product', affinity: 0.73 }],
    },
    {
      strategy: 'custom',
      targetId: 'c-1',
      at: Date.parse('2026-03-29T01:30:00Z'), // Madrid: just after the gap
      userIds: some(0.4),
      candidates: [store('st7', 'toys'), store('st8', 'wine'), sale('s10', 'toys', 30)],
    },
    { strategy: 'daily-sale', targetId: 'ds-empty', at: T, userIds: ['u1', 'u2'], candidates: [] },
  ];
  return { users, engagement, hours, groups };
}

/** The straightforward rows: one featureVector per (user, candidate) pair. */
function referenceRows(w: ReturnType<typeof world>): { x: Float32Array; n: number } {
  const rows: Float32Array[] = [];
  for (const g of w.groups) {
    const strategy = strategies.get(g.strategy) as StrategyPlugin;
    for (const userId of g.userIds) {
      const user = w.users.get(userId);
      if (!user) continue;
      const counts = w.hours.get(userId);
      for (const c of g.candidates) {
        rows.push(
          featureVector({
            candidate: c,
            user,
            affinity: strategy.features(c, user).affinity,
            engagement: w.engagement.get(userId) ?? NO_ENGAGEMENT,
            ...(counts ? { hourCounts: counts } : {}),
            at: g.at,
          }),
        );
      }
    }
  }
  const x = new Float32Array(rows.length * FEATURE_COUNT);
  rows.forEach((v, i) => x.set(v, i * FEATURE_COUNT));
  return { x, n: rows.length };
}

/** The straightforward picks: pickBest per group with each row's score, as the path did before. */
function referencePicks(
  w: ReturnType<typeof world>,
  pOpen: ArrayLike<number>,
  pClick: ArrayLike<number>,
  weights: { open: number; click: number },
): CandidatePick[] {
  let row = 0;
  return w.groups.flatMap((g) =>
    pickBest(g, w.users, () => {
      const r = row++;
      return weights.open * (pOpen[r] as number) + weights.click * (pClick[r] as number);
    }),
  );
}

/** The cells whose bits differ, as `row r feature f: fast vs reference`, at most `limit`. */
function bitDifferences(fast: Float32Array, ref: Float32Array, limit = 5): string[] {
  const a = new Uint32Array(fast.buffer, fast.byteOffset, fast.length);
  const b = new Uint32Array(ref.buffer, ref.byteOffset, ref.length);
  const out: string[] = [];
  for (let i = 0; i < Math.max(a.length, b.length) && out.length < limit; i++) {
    if (a[i] !== b[i]) {
      const f = FEATURE_NAMES[i % FEATURE_COUNT];
      out.push(`row ${Math.floor(i / FEATURE_COUNT)} ${f}: ${fast[i]} vs ${ref[i]}`);
    }
  }
  if (a.length !== b.length) out.push(`lengths ${a.length} vs ${b.length}`);
  return out;
}

describe('the score stage’s model path', () => {
  it('builds exactly the rows of one featureVector per pair, bit for bit', () => {
    for (const seed of [1, 2, 3]) {
      const w = world(seed);
      const fast = featureRows(w.groups, w.users, (g) => strategies.get(g.strategy)!, w.engagement, w.hours);
      const ref = referenceRows(w);
      expect(fast.n).toBe(ref.n);
      expect(bitDifferences(fast.x, ref.x)).toEqual([]);
    }
    // The batch is as varied as it claims: several zones' hours, missing state, distances, clamps.
    const { x, n } = referenceRows(world(1));
    const col = (name: (typeof FEATURE_NAMES)[number]) =>
      new Set(Array.from({ length: n }, (_, i) => x[i * FEATURE_COUNT + FEATURE_NAMES.indexOf(name)]));
    expect(col('hour_sin').size).toBeGreaterThanOrEqual(6);
    expect(col('has_distance')).toEqual(new Set([0, 1]));
    expect(col('weekend')).toEqual(new Set([0, 1]));
    expect(col('purchase_recency').has(1)).toBe(true);
    expect(col('affinity').has(0) && col('affinity').has(1)).toBe(true);
  });

  it('gives each built-in strategy’s affinities exactly its features’ affinity', () => {
    const w = world(4);
    const candidates = w.groups.flatMap((g) => g.candidates);
    for (const s of strategies.values()) {
      if (!s.affinities) continue;
      for (const user of w.users.values()) {
        const out = new Float64Array(candidates.length);
        s.affinities(candidates, user, out);
        candidates.forEach((c, k) =>
          expect([s.name, k, out[k]]).toEqual([s.name, k, s.features(c, user).affinity]),
        );
      }
    }
  });

  it('picks what pickBest picks from the same scores, ties and NaN included', () => {
    for (const seed of [5, 6]) {
      const w = world(seed);
      const { n } = referenceRows(w);
      const r = seededRandom(seed);
      const pOpen = new Float32Array(n);
      const pClick = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        // Coarse values make ties; a few NaN rows, some users all NaN.
        pOpen[i] = r() < 0.05 ? Number.NaN : Math.round(r() * 4) / 16;
        pClick[i] = Math.round(r() * 3) / 64;
      }
      for (let i = 0; i < Math.min(n, 16); i++) pOpen[i] = Number.NaN;
      const weights = { open: 1, click: 2 };
      const fast = pickBestRows(w.groups, w.users, pOpen, pClick, weights);
      expect(fast).toEqual(referencePicks(w, pOpen, pClick, weights));
      expect(new Set(fast.map((p) => p.candidate.id)).size).toBeGreaterThan(5);
    }
  });

  it('scores a batch through the stage to the same picks as the straightforward path, with a real model', async () => {
    const model = initMlp({ inputs: FEATURE_COUNT, hidden: [8, 4] }, seededRandom(9));
    const meta: ModelMetadata = {
      schemaHash: FEATURE_SCHEMA_HASH,
      schemaVersion: 2,
      features: [...FEATURE_NAMES],
      window: {},
      counts: {},
      auc: { open: 0.7, click: 0.7 },
      logLoss: { open: 0.1, click: 0.05 },
      ece: { open: 0.01, click: 0.01 },
      heuristicAuc: { open: 0.6, click: 0.6 },
      calibration: {},
      hidden: [8, 4],
      seed: 9,
      trainedAt: '2026-03-07T00:00:00.000Z',
    };
    const loaded = await loadModel('m1', exportOnnx(model, meta));
    const warnings: string[] = [];
    try {
      const w = world(7);
      const weights = { open: 1, click: 2 };
      const stage = createScoreStage({
        users: { getUsers: () => Promise.resolve(w.users) },
        strategies,
        scorer: rankScore,
        model: {
          server: { acquire: () => loaded, release: () => undefined },
          telemetry: { engagementOf: () => Promise.resolve(w.engagement) },
          timing: {
            read: () =>
              Promise.resolve({
                user: new Map([...w.hours].map(([u, values]) => [u, { values: Array.from(values), at: [] }])),
                zone: new Map(),
                all: { values: [], at: [] },
              }),
          },
          weights,
          logger: { warn: (_o: unknown, msg: string) => warnings.push(msg) } as never,
        },
      });
      const ref = referenceRows(w);
      const scored = await runModel(loaded, ref.x, ref.n);
      // Twice, and two at once: the second and the concurrent batches write into matrices reused from earlier.
      const runs = [await stage({ groups: w.groups }, {} as never)];
      runs.push(...(await Promise.all([1, 2].map(() => stage({ groups: w.groups }, {} as never)))));
      expect(warnings).toEqual([]); // the model scored the batches, not the heuristic
      for (const out of runs) {
        const picks = (out[0]?.payload as { picks: CandidatePick[] }).picks;
        expect(picks).toEqual(referencePicks(w, scored.pOpen, scored.pClick, weights));
        expect(new Set(picks.map((p) => p.candidate.id)).size).toBeGreaterThan(3);
      }
    } finally {
      await loaded.session.release();
    }
  });
});
