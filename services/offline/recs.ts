/**
 * The product-recommendation evaluation behind `npm run offline -- recs`: how often each way of picking k
 * products names one the user buys next, trained with the same functions production runs (services/recs).
 *
 * Protocol. The split instant is the `split` quantile of the rows' timestamps (the row at rank
 * floor(split * n) in time order). Everything before it trains: implicit strengths per (user, product),
 * popularity, item-CF neighbours, repurchase cycles, each product's last price, and ALS (the TypeScript
 * implicit ALS: same model as Spark's, no JVM). A user is evaluated when they bought before the split and
 * buy anything in the `horizon` after it; their truth is the set of products bought then. For each method,
 * k products: hit@k (any of them in the truth), precision@k (share of the k in the truth), recall@k (share
 * of the truth among the k), averaged over the evaluated users. Repurchases count: buying again what was
 * recommended is a hit.
 *
 * Methods: `popularity` (most buyers), `own` (the user's most bought products, by line items, latest
 * first on ties), `item-cf`, `als`, `blend` (the 40/40/20 blend of the three) and `herald` (what
 * production sends: the blend's best `candidates`, as the Spark job keeps them, re-ranked as the strategy
 * does at decision time, at the split instant; availability and past pushes are unknown offline, so every
 * product is available and none was pushed).
 */
import { alsScores, DEFAULT_ALS, trainAls, type AlsOptions } from '../recs/als';
import {
  itemCfScores,
  itemNeighbours,
  popularity,
  repurchaseCycles,
  topN,
  DEFAULT_ITEM_CF,
} from '../recs/candidates';
import {
  blendScore,
  DEFAULT_RERANK,
  rerank,
  scaleParts,
  type HistoryLine,
  type RecCandidate,
  type RerankOptions,
} from '../recs/rerank';
import { userStrengths, type Line } from '../recs/strength';
import type { PurchaseLog } from './basket';

const DAY_MS = 86_400_000;

export const RECS_METHODS = ['popularity', 'own', 'item-cf', 'als', 'blend', 'herald'] as const;
export type RecsMethod = (typeof RECS_METHODS)[number];

export interface RecsEvalOptions {
  k: number;
  split: number;
  horizonDays: number;
  /** Candidates taken from each source before blending (production: PRODUCT_RECS_SOURCE_TOP). */
  sourceTop: number;
  /** Blended candidates kept per user for re-ranking (production: PRODUCT_RECS_CANDIDATES). */
  candidates: number;
  als: AlsOptions;
  rerank: RerankOptions;
}

export const DEFAULT_RECS_EVAL: RecsEvalOptions = {
  k: 5,
  split: 0.8,
  horizonDays: 14,
  sourceTop: 50,
  candidates: 20,
  als: DEFAULT_ALS,
  rerank: DEFAULT_RERANK,
};

export interface RecsRates {
  hit: number;
  precision: number;
  recall: number;
}

export interface RecsEvalResult {
  users: number;
  k: number;
  methods: Record<RecsMethod, RecsRates>;
  rows: number;
  trainRows: number;
  products: number;
  trainUsers: number;
  splitAt: number;
  /** Seconds spent training ALS. */
  alsSeconds: number;
}

/**
 * The k products each method picks for one user, from what was trained. Exported so a test can check a
 * method on a hand-made history.
 */
export interface Trained {
  strengths: Array<Map<number, number>>;
  history: HistoryLine[][];
  pop: Float64Array;
  popTop: Array<[number, number]>;
  neighbours: Array<Array<[number, number]>>;
  cycles: Map<number, number>;
  lastPrice: Float64Array;
  als: ReturnType<typeof trainAls>;
}

export function evaluateRecs(log: PurchaseLog, options: Partial<RecsEvalOptions> = {}): RecsEvalResult {
  const o = { ...DEFAULT_RECS_EVAL, ...options };
  const n = log.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => log.at[a]! - log.at[b]!);
  const splitAt = n > 0 ? log.at[order[Math.min(n - 1, Math.floor(o.split * n))]!]! : 0;
  const end = splitAt + o.horizonDays * DAY_MS;
  const lines: Line[][] = log.users.map(() => []);
  const truth = new Map<number, Set<number>>();
  const lastPrice = new Float64Array(log.items.length);
  let trainRows = 0;
  for (const r of order) {
    const u = log.user[r]!;
    const at = log.at[r]!;
    if (at < splitAt) {
      lines[u]!.push({ item: log.item[r]!, qty: log.qty[r]!, price: log.price[r]!, at });
      if (log.price[r]! > 0) lastPrice[log.item[r]!] = log.price[r]!;
      trainRows++;
    } else if (at < end) {
      const t = truth.get(u) ?? new Set<number>();
      t.add(log.item[r]!);
      truth.set(u, t);
    }
  }
  const strengths = lines.map((l) => userStrengths(l));
  const items = log.items.length;
  const alsStarted = performance.now();
  const trained: Trained = {
    strengths,
    history: lines.map((l) => l.map((x) => ({ id: String(x.item), qty: x.qty, price: x.price, at: x.at }))),
    pop: popularity(strengths, items),
    popTop: [],
    neighbours: itemNeighbours(strengths, items, DEFAULT_ITEM_CF),
    cycles: repurchaseCycles(lines.flatMap((l, user) => l.map((x) => ({ user, item: x.item, at: x.at })))),
    lastPrice,
    als: trainAls(strengths, items, o.als),
  };
  const alsSeconds = (performance.now() - alsStarted) / 1000;
  trained.popTop = topN(trained.pop, Math.max(o.k, o.sourceTop));

  const sums = Object.fromEntries(
    RECS_METHODS.map((m) => [m, { hit: 0, precision: 0, recall: 0 }]),
  ) as Record<RecsMethod, RecsRates>;
  let users = 0;
  for (const [u, t] of truth) {
    if (lines[u]!.length === 0) continue;
    users++;
    const picks = recommendAll(trained, u, splitAt, o);
    for (const m of RECS_METHODS) {
      const k = picks[m].slice(0, o.k);
      const hits = k.filter((i) => t.has(i)).length;
      sums[m].hit += hits > 0 ? 1 : 0;
      sums[m].precision += hits / o.k;
      sums[m].recall += hits / t.size;
    }
  }
  const methods = Object.fromEntries(
    RECS_METHODS.map((m) => [
      m,
      {
        hit: users ? sums[m].hit / users : 0,
        precision: users ? sums[m].precision / users : 0,
        recall: users ? sums[m].recall / users : 0,
      },
    ]),
  ) as Record<RecsMethod, RecsRates>;
  return {
    users,
    k: o.k,
    methods,
    rows: n,
    trainRows,
    products: items,
    trainUsers: lines.filter((l) => l.length > 0).length,
    splitAt,
    alsSeconds,
  };
}

/** Every method's ranked picks for user `u` at `now`. */
export function recommendAll(
  t: Trained,
  u: number,
  now: number,
  o: RecsEvalOptions,
): Record<RecsMethod, number[]> {
  const own = new Map<number, { n: number; last: number }>();
  for (const h of t.history[u]!) {
    const i = Number(h.id);
    const e = own.get(i) ?? { n: 0, last: 0 };
    own.set(i, { n: e.n + 1, last: Math.max(e.last, h.at) });
  }
  const cf = itemCfScores(t.strengths[u]!, t.neighbours);
  const als = alsScores(t.als, u);
  const cfArr = new Float64Array(t.pop.length);
  for (const [i, s] of cf) cfArr[i] = s;
  const alsTop = topN(als, o.sourceTop);
  const cfTop = topN(cfArr, o.sourceTop);
  // The candidates production gets from Spark: each source's best, and the user's own products.
  const pool = new Set<number>([...alsTop, ...cfTop, ...t.popTop.slice(0, o.sourceTop)].map(([i]) => i));
  for (const i of own.keys()) pool.add(i);
  const raw = new Map<string, { als: number; cf: number; pop: number }>();
  for (const i of pool) raw.set(String(i), { als: als[i]!, cf: cfArr[i]!, pop: t.pop[i]! });
  const candidates: RecCandidate[] = scaleParts(raw);
  const blended = candidates
    .map((c) => ({ id: c.id, s: blendScore(c, o.rerank.blend) }))
    .sort((a, b) => b.s - a.s || Number(a.id) - Number(b.id));
  // Production keeps each user's best `candidates` of the blend (Spark) and re-ranks those at decision time.
  const kept = new Set(blended.slice(0, o.candidates).map((b) => b.id));
  const reranked = rerank(
    candidates.filter((c) => kept.has(c.id)),
    {
      now,
      history: t.history[u]!,
      facts: (id) => {
        const i = Number(id);
        const price = t.lastPrice[i]!;
        const cycleDays = t.cycles.get(i);
        return { available: true, ...(price > 0 ? { price } : {}), ...(cycleDays ? { cycleDays } : {}) };
      },
    },
    o.rerank,
  );
  return {
    popularity: t.popTop.map(([i]) => i),
    own: [...own].sort((a, b) => b[1].n - a[1].n || b[1].last - a[1].last).map(([i]) => i),
    'item-cf': cfTop.map(([i]) => i),
    als: alsTop.map(([i]) => i),
    blend: blended.map((b) => Number(b.id)),
    herald: reranked.map((r) => Number(r.id)),
  };
}
