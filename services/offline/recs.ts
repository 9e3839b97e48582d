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
 * first on ties), `item-cf`, `als`, `blend` (the 40/40/20 blend of the three), `herald-default` (what
 * production sends with its default settings: the blend's best `candidates`, as the Spark job keeps them,
 * re-ranked as the strategy does at decision time, at the split instant) and `herald` (the same functions
 * with the blend weights and the own weight learned on a validation split of the training rows, and
 * without the half-cycle skip, `skipWithin`, a rule about when a push goes rather than what the user
 * buys; the chance of buying again is taken over the evaluation's horizon). Availability and past pushes
 * are unknown offline, so every product is available and none was pushed. The test rows are read only
 * after the weights are learned.
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
  type BlendWeights,
  type HistoryLine,
  type RecCandidate,
  type RerankOptions,
} from '../recs/rerank';
import { userStrengths, type Line } from '../recs/strength';
import type { PurchaseLog } from './basket';

const DAY_MS = 86_400_000;

export const RECS_METHODS = [
  'popularity',
  'own',
  'item-cf',
  'als',
  'blend',
  'herald-default',
  'herald',
] as const;
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
  /** Production's re-ranking settings: the `herald-default` row, and where learning starts. */
  rerank: RerankOptions;
  /**
   * The half-cycle skip of the `herald` row. Default 0: the skip is a rule about the instant a push goes
   * (not now: bought Tuesday), while the truth here is everything bought in the horizon after it.
   */
  skipWithin: number;
  /** Learn the blend weights and the own weight on a validation split of the training rows. Default true. */
  learn: boolean;
}

export const DEFAULT_RECS_EVAL: RecsEvalOptions = {
  k: 5,
  split: 0.8,
  horizonDays: 14,
  sourceTop: 50,
  candidates: 20,
  als: DEFAULT_ALS,
  rerank: DEFAULT_RERANK,
  skipWithin: 0,
  learn: true,
};

/** What the validation split chose for the `herald` row. */
export interface Learned {
  blend: BlendWeights;
  ownWeight: number;
  /** hit@k on the validation split with these, and with production's defaults (skip as `skipWithin`). */
  validationHit: number;
  validationHitDefaults: number;
  validationUsers: number;
}

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
  /** Seconds spent training ALS (both trainings). */
  alsSeconds: number;
  learned: Learned;
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

/** The rows before `splitAt` as each user's lines, the products bought in [splitAt, end) as their truth. */
function splitRows(log: PurchaseLog, order: readonly number[], splitAt: number, end: number) {
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
  return { lines, truth, lastPrice, trainRows };
}

/** Everything the methods read, trained on each user's lines. */
function train(lines: Line[][], lastPrice: Float64Array, items: number, o: RecsEvalOptions): Trained {
  const strengths = lines.map((l) => userStrengths(l));
  const pop = popularity(strengths, items);
  return {
    strengths,
    history: lines.map((l) => l.map((x) => ({ id: String(x.item), qty: x.qty, price: x.price, at: x.at }))),
    pop,
    popTop: topN(pop, Math.max(o.k, o.sourceTop)),
    neighbours: itemNeighbours(strengths, items, DEFAULT_ITEM_CF),
    cycles: repurchaseCycles(lines.flatMap((l, user) => l.map((x) => ({ user, item: x.item, at: x.at })))),
    lastPrice,
    als: trainAls(strengths, items, o.als),
  };
}

/** Validation users scored when learning, at most (the first ones by index). */
const LEARN_USERS = 2000;

/**
 * The blend weights (a 0.1 grid over the simplex) and the own weight (0 to 1 by 0.1) with the best hit@k
 * on a validation split carved from the training rows by time, the same way the test split is carved
 * from all rows: train on the training rows before their `split` quantile, truth in the horizon after it
 * (and before the test split). Coordinate ascent from production's defaults: the blend, then the own
 * weight, twice; a step is taken only when it scores strictly better.
 */
function learn(
  log: PurchaseLog,
  order: readonly number[],
  splitAt: number,
  o: RecsEvalOptions,
): { learned: Learned; alsSeconds: number } {
  const before = order.filter((r) => log.at[r]! < splitAt);
  const valAt = before.length > 0 ? log.at[before[Math.floor(o.split * before.length)]!]! : 0;
  const v = splitRows(log, before, valAt, Math.min(splitAt, valAt + o.horizonDays * DAY_MS));
  const t0 = performance.now();
  const t = train(v.lines, v.lastPrice, log.items.length, o);
  const alsSeconds = (performance.now() - t0) / 1000;
  const users = [...v.truth.keys()]
    .filter((u) => v.lines[u]!.length > 0)
    .sort((a, b) => a - b)
    .slice(0, LEARN_USERS);
  const pools = new Map(users.map((u) => [u, candidatePool(t, u, o).candidates]));
  const hitAt = (r: RerankOptions) => {
    let hits = 0;
    for (const u of users) {
      const picks = heraldPicks(t, u, pools.get(u)!, valAt, o, r).slice(0, o.k);
      if (picks.some((i) => v.truth.get(u)!.has(i))) hits++;
    }
    return users.length > 0 ? hits / users.length : 0;
  };
  const base = { ...o.rerank, skipWithin: o.skipWithin };
  let best = { ...base };
  let bestHit = hitAt(best);
  const defaultsHit = bestHit;
  const blends: BlendWeights[] = [];
  for (let a = 0; a <= 10; a++) {
    for (let c = 0; a + c <= 10; c++) blends.push({ als: a / 10, cf: c / 10, pop: (10 - a - c) / 10 });
  }
  for (let pass = 0; pass < 2 && o.learn; pass++) {
    for (const blend of blends) {
      const h = hitAt({ ...best, blend });
      if (h > bestHit) [best, bestHit] = [{ ...best, blend }, h];
    }
    for (let w = 0; w <= 10; w++) {
      const h = hitAt({ ...best, ownWeight: w / 10 });
      if (h > bestHit) [best, bestHit] = [{ ...best, ownWeight: w / 10 }, h];
    }
  }
  return {
    learned: {
      blend: best.blend,
      ownWeight: best.ownWeight,
      validationHit: bestHit,
      validationHitDefaults: defaultsHit,
      validationUsers: users.length,
    },
    alsSeconds,
  };
}

export function evaluateRecs(log: PurchaseLog, options: Partial<RecsEvalOptions> = {}): RecsEvalResult {
  const o = { ...DEFAULT_RECS_EVAL, ...options };
  const n = log.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => log.at[a]! - log.at[b]!);
  const splitAt = n > 0 ? log.at[order[Math.min(n - 1, Math.floor(o.split * n))]!]! : 0;
  const end = splitAt + o.horizonDays * DAY_MS;
  // Learned first, on the training rows only: nothing after the split is read until the weights are set.
  const { learned, alsSeconds: learnAlsSeconds } = learn(log, order, splitAt, o);
  const { lines, truth, lastPrice, trainRows } = splitRows(log, order, splitAt, end);
  const items = log.items.length;
  const alsStarted = performance.now();
  const trained = train(lines, lastPrice, items, o);
  const alsSeconds = learnAlsSeconds + (performance.now() - alsStarted) / 1000;
  const heraldOptions: RerankOptions = {
    ...o.rerank,
    skipWithin: o.skipWithin,
    blend: learned.blend,
    ownWeight: learned.ownWeight,
  };

  const sums = Object.fromEntries(
    RECS_METHODS.map((m) => [m, { hit: 0, precision: 0, recall: 0 }]),
  ) as Record<RecsMethod, RecsRates>;
  let users = 0;
  for (const [u, t] of truth) {
    if (lines[u]!.length === 0) continue;
    users++;
    const picks = recommendAll(trained, u, splitAt, o, heraldOptions);
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
    learned,
  };
}

/**
 * A user's candidates as production gets them from Spark (each source's best `sourceTop`, the most
 * popular, and the user's own products, each part scaled to the user's best), with the sources' rankings.
 */
function candidatePool(t: Trained, u: number, o: RecsEvalOptions) {
  const cf = itemCfScores(t.strengths[u]!, t.neighbours);
  const als = alsScores(t.als, u);
  const cfArr = new Float64Array(t.pop.length);
  for (const [i, s] of cf) cfArr[i] = s;
  const alsTop = topN(als, o.sourceTop);
  const cfTop = topN(cfArr, o.sourceTop);
  const pool = new Set<number>([...alsTop, ...cfTop, ...t.popTop.slice(0, o.sourceTop)].map(([i]) => i));
  for (const h of t.history[u]!) pool.add(Number(h.id));
  const raw = new Map<string, { als: number; cf: number; pop: number }>();
  for (const i of pool) raw.set(String(i), { als: als[i]!, cf: cfArr[i]!, pop: t.pop[i]! });
  return { candidates: scaleParts(raw), alsTop, cfTop };
}

/** The blend's order of a user's candidates under `blend`, best first (ties to the lower id). */
function blendOrder(candidates: readonly RecCandidate[], blend: BlendWeights) {
  return candidates
    .map((c) => ({ c, s: blendScore(c, blend) }))
    .sort((a, b) => b.s - a.s || Number(a.c.id) - Number(b.c.id));
}

/**
 * What production sends: the blend's best `candidates` (the Spark job keeps those, blended with the same
 * weights) re-ranked at `now` with `r`. Every product is available offline and none was pushed.
 */
function heraldPicks(
  t: Trained,
  u: number,
  candidates: readonly RecCandidate[],
  now: number,
  o: RecsEvalOptions,
  r: RerankOptions,
): number[] {
  const kept = blendOrder(candidates, r.blend)
    .slice(0, o.candidates)
    .map((b) => b.c);
  return rerank(
    kept,
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
    r,
  ).map((x) => Number(x.id));
}

/**
 * Every method's ranked picks for user `u` at `now`; `herald` re-ranks with `herald` (default: production's
 * settings with the offline skip), `herald-default` with production's settings as they are.
 */
export function recommendAll(
  t: Trained,
  u: number,
  now: number,
  o: RecsEvalOptions,
  herald: RerankOptions = { ...o.rerank, skipWithin: o.skipWithin },
): Record<RecsMethod, number[]> {
  const own = new Map<number, { n: number; last: number }>();
  for (const h of t.history[u]!) {
    const i = Number(h.id);
    const e = own.get(i) ?? { n: 0, last: 0 };
    own.set(i, { n: e.n + 1, last: Math.max(e.last, h.at) });
  }
  const { candidates, alsTop, cfTop } = candidatePool(t, u, o);
  return {
    popularity: t.popTop.map(([i]) => i),
    own: [...own].sort((a, b) => b[1].n - a[1].n || b[1].last - a[1].last).map(([i]) => i),
    'item-cf': cfTop.map(([i]) => i),
    als: alsTop.map(([i]) => i),
    blend: blendOrder(candidates, o.rerank.blend).map((b) => Number(b.c.id)),
    'herald-default': heraldPicks(t, u, candidates, now, o, o.rerank),
    herald: heraldPicks(t, u, candidates, now, o, herald),
  };
}
