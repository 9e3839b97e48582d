/**
 * Rankings of the categories that follow a purchase in A, from the miner's counts (basket-counts.ts). Every
 * ranking is a total order over the categories seen: its score first, then popularity, then the name, so
 * two methods differ only where their scores do.
 *
 * Naive lift (P(B|A) / P(B)) puts rare categories first: one co-purchase of two rare categories is a huge
 * lift. The rankings Herald can choose from need support and shrink toward the population rate:
 * - `bayes`: P(B|A) smoothed toward P(B) with `priorStrength` pseudo-episodes, (n(A,B) + m P(B)) / (n(A) + m);
 * - `bayes-lift`: that over P(B), a lift that shrinks to 1 without support;
 * - `lcb-lift`: the Wilson lower bound of P(B|A) over P(B), below `minSupport` episodes nothing;
 * - `lcb-diff`: the Wilson lower bound of P(B|A) minus P(B), the same support rule.
 * P(B) is the rate at which an episode of any category is followed by B.
 *
 * The 2nd-purchase variant (the case study's lift over the population that made a second purchase) divides
 * P(B|A) and P(B) by the share of episodes followed by anything: within one A that only rescales every
 * score, so it ranks exactly as naive lift does. The table carries it as a figure (`lift2`), not as a ranking.
 */
import type { BasketCounts } from './basket-counts';

export const RANKINGS = [
  'popularity',
  'p-b-given-a',
  'naive-lift',
  'bayes',
  'bayes-lift',
  'lcb-lift',
  'lcb-diff',
] as const;
export type Ranking = (typeof RANKINGS)[number];

/** The ranking production uses, chosen on the offline command (README: market-basket miner). */
export const HERALD_RANKING: Ranking = 'bayes';

/**
 * Weight of the user's own share of purchases in B blended with HERALD_RANKING's score, as the
 * market-basket strategy scores a candidate (MARKET_BASKET_OWN_WEIGHT's default).
 */
export const HERALD_OWN_WEIGHT = 0.5;

export interface RankOptions {
  /** Pseudo-episodes of the prior in `bayes` and `bayes-lift`. Default 5. */
  priorStrength: number;
  /** Episodes of A followed by B below which `lcb-*` give nothing. Default 5. */
  minSupport: number;
  /** z of the Wilson bound. Default 1.96. */
  z: number;
}

export const DEFAULT_RANK: RankOptions = { priorStrength: 5, minSupport: 5, z: 1.96 };

/** Totals derived once from the counts. */
export interface CountsView {
  counts: BasketCounts;
  /** Categories, by popularity (episodes) then name. */
  categories: string[];
  /** Episodes in all. */
  episodes: number;
  /** Episodes followed by another category's purchase. */
  followed: number;
  /** B -> episodes (of any A) followed by B. */
  followedBy: Map<string, number>;
}

export function viewCounts(counts: BasketCounts): CountsView {
  let episodes = 0;
  let followed = 0;
  for (const v of counts.n.values()) episodes += v;
  for (const v of counts.next.values()) followed += v;
  const followedBy = new Map<string, number>();
  for (const row of counts.pairs.values()) {
    for (const [b, v] of row) followedBy.set(b, (followedBy.get(b) ?? 0) + v);
  }
  const categories = [...counts.n.keys()].sort(
    (a, b) => (counts.n.get(b) ?? 0) - (counts.n.get(a) ?? 0) || (a < b ? -1 : a > b ? 1 : 0),
  );
  return { counts, categories, episodes, followed, followedBy };
}

/** Lower bound of the Wilson score interval of k successes in n. */
export function wilsonLower(k: number, n: number, z: number): number {
  if (n <= 0) return 0;
  const p = k / n;
  const z2 = z * z;
  const centre = p + z2 / (2 * n);
  const margin = z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return Math.max(0, (centre - margin) / (1 + z2 / n));
}

export interface FollowStat {
  category: string;
  /** Episodes of A followed by B. */
  support: number;
  /** n(A,B) / n(A). */
  pBA: number;
  /** The base rate P(B). */
  pB: number;
  lift: number;
  /** The 2nd-purchase variant: (n(A,B) / next(A)) / (followed-by(B) / followed). */
  lift2: number;
}

/** The figures of B after A. */
export function followStat(view: CountsView, a: string, b: string): FollowStat {
  const nA = view.counts.n.get(a) ?? 0;
  const nextA = view.counts.next.get(a) ?? 0;
  const support = view.counts.pairs.get(a)?.get(b) ?? 0;
  const fb = view.followedBy.get(b) ?? 0;
  const pB = view.episodes > 0 ? fb / view.episodes : 0;
  const pBA = nA > 0 ? support / nA : 0;
  const pB2 = view.followed > 0 ? fb / view.followed : 0;
  return {
    category: b,
    support,
    pBA,
    pB,
    lift: pB > 0 ? pBA / pB : 0,
    lift2: pB2 > 0 && nextA > 0 ? support / nextA / pB2 : 0,
  };
}

/** The score of B after A under a ranking (higher first). */
export function score(
  view: CountsView,
  method: Ranking,
  a: string,
  b: string,
  opts: RankOptions = DEFAULT_RANK,
): number {
  if (method === 'popularity') return view.counts.n.get(b) ?? 0;
  const s = followStat(view, a, b);
  const nA = view.counts.n.get(a) ?? 0;
  switch (method) {
    case 'p-b-given-a':
      return s.pBA;
    case 'naive-lift':
      return s.lift;
    case 'bayes':
      return (s.support + opts.priorStrength * s.pB) / (nA + opts.priorStrength);
    case 'bayes-lift':
      return s.pB > 0 ? (s.support + opts.priorStrength * s.pB) / (nA + opts.priorStrength) / s.pB : 0;
    case 'lcb-lift':
      return s.support >= opts.minSupport && s.pB > 0 ? wilsonLower(s.support, nA, opts.z) / s.pB : 0;
    case 'lcb-diff':
      return s.support >= opts.minSupport ? wilsonLower(s.support, nA, opts.z) - s.pB : -1;
  }
}

export interface Ranked {
  category: string;
  score: number;
}

/** Every category but A, best first under `method`. */
export function rankAfter(
  view: CountsView,
  method: Ranking,
  a: string,
  opts: RankOptions = DEFAULT_RANK,
): Ranked[] {
  const out: Ranked[] = [];
  // view.categories is popularity order, and sort is stable: ties keep it.
  for (const b of view.categories)
    if (b !== a) out.push({ category: b, score: score(view, method, a, b, opts) });
  return out.sort((x, y) => y.score - x.score);
}
