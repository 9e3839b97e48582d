/**
 * The blend of the three candidate sources and the re-ranking at decision time, one code path for the
 * product-recs strategy and the offline evaluation (DESIGN rule 13).
 *
 * A candidate carries its three parts, each scaled to [0, 1] by the user's best of that source: ALS (the
 * latent-factor preference), item-CF (how close it is to what the user bought) and popularity. The blend is
 * their weighted sum, 40/40/20 by default; a new user has no ALS part, and their blend shares its weight
 * out between the other two (cold start).
 *
 * Re-ranking then reads today's state:
 * - repurchase cycle: a product the user bought less than half its cycle ago is skipped; one whose cycle
 *   has passed since they last bought it is due again, x1.15;
 * - price sensitivity: a product dearer than 1.5x the user's average item price is scaled by 1.5 / ratio,
 *   the ratio capped at 2.0 (so never below x0.75);
 * - upsell: a product dearer than the user's average but within 1.5x gets x(1 + upsell x (ratio - 1));
 * - availability: an unavailable product, or one the catalog does not know, is dropped;
 * - pushes: a product pushed to the user lately is dropped;
 * - the user's own products (with `ownWeight` > 0): each product the user bought that has a cycle is a
 *   candidate too, and every candidate scores (1 - ownWeight) x blend + ownWeight x p, where p is the
 *   chance the user buys it again within `horizonDays` (0 for a product they never bought): the gap to
 *   their next purchase of it is log-normal around its cycle (theirs, with two gaps or more; else the
 *   product's), given that it has not come yet; a product they bought once is one they come back for with
 *   their repeat propensity (the share of their products with a cycle that they did buy again, shrunk
 *   towards `repeatPrior`), less the longer it stays unbought past its cycle.
 */

/** A candidate with its parts, each in [0, 1]. */
export interface RecCandidate {
  id: string;
  als: number;
  cf: number;
  pop: number;
}

export interface BlendWeights {
  als: number;
  cf: number;
  pop: number;
}

/** 40/40/20. */
export const DEFAULT_BLEND: BlendWeights = { als: 0.4, cf: 0.4, pop: 0.2 };

/** The blended score; `cold` (no ALS for the user) shares ALS's weight out between the other two. */
export function blendScore(c: RecCandidate, w: BlendWeights, cold = false): number {
  if (cold) {
    const rest = w.cf + w.pop;
    return rest > 0 ? (w.cf * c.cf + w.pop * c.pop) / rest : 0;
  }
  return w.als * c.als + w.cf * c.cf + w.pop * c.pop;
}

/** Raw source scores of one user's candidates, scaled to [0, 1] by the best of each source (negatives 0). */
export function scaleParts(
  raw: ReadonlyMap<string, { als?: number; cf?: number; pop?: number }>,
): RecCandidate[] {
  let ma = 0;
  let mc = 0;
  let mp = 0;
  for (const r of raw.values()) {
    ma = Math.max(ma, r.als ?? 0);
    mc = Math.max(mc, r.cf ?? 0);
    mp = Math.max(mp, r.pop ?? 0);
  }
  const part = (x: number | undefined, m: number) => (m > 0 && x !== undefined && x > 0 ? x / m : 0);
  return [...raw].map(([id, r]) => ({
    id,
    als: part(r.als, ma),
    cf: part(r.cf, mc),
    pop: part(r.pop, mp),
  }));
}

export interface RerankOptions {
  blend: BlendWeights;
  /** Boost of a product whose repurchase cycle has passed since the user last bought it. Default 0.15. */
  dueBoost: number;
  /** Share of its cycle within which a product bought again is skipped. Default 0.5. */
  skipWithin: number;
  /** Ratio to the user's average item price above which a product is penalised. Default 1.5. */
  priceSoftAbove: number;
  /** The ratio is capped here when penalising. Default 2.0. */
  priceCap: number;
  /** Slope of the boost of products a bit dearer than the user's average (up to priceSoftAbove). Default 0.1. */
  upsell: number;
  /** Weight of the chance of buying again among the user's own products, 0..1. Default 0 (blend only). */
  ownWeight: number;
  /** The horizon of that chance, days. Default 7. */
  horizonDays: number;
  /** Prior chance that a product with a cycle bought once is bought again (shrinks the user's own). Default 0.3. */
  repeatPrior: number;
  /** Log-normal spread (sigma of the log) of the gap between purchases of a product around its cycle. Default 0.5. */
  cycleSpread: number;
}

export const DEFAULT_RERANK: RerankOptions = {
  blend: DEFAULT_BLEND,
  dueBoost: 0.15,
  skipWithin: 0.5,
  priceSoftAbove: 1.5,
  priceCap: 2.0,
  upsell: 0.1,
  ownWeight: 0,
  horizonDays: 7,
  repeatPrior: 0.3,
  cycleSpread: 0.5,
};

/** One line item of the user's history: product, quantity, unit price (0 unknown), instant (ms). */
export interface HistoryLine {
  id: string;
  qty: number;
  price: number;
  at: number;
}

/** What re-ranking reads about a product today. */
export interface ProductFacts {
  price?: number;
  available: boolean;
  /** Repurchase cycle in days, when one is known. */
  cycleDays?: number;
}

export interface RerankContext {
  now: number;
  /** The user's line items, any order. */
  history: readonly HistoryLine[];
  /** The product's facts; undefined for a product the catalog does not know (dropped). */
  facts: (id: string) => ProductFacts | undefined;
  /** Products pushed to the user lately. */
  pushed?: ReadonlySet<string>;
  /** No ALS part for this user (cold start). */
  cold?: boolean;
}

export interface Reranked {
  id: string;
  /** The final score. */
  score: number;
  /** The blend before re-ranking. */
  blended: number;
  /** The factors that moved it: 'due', 'price', 'upsell'. */
  why: string[];
}

const DAY_MS = 86_400_000;

/** The user's mean unit price over their priced line items, or undefined with none. */
export function averageItemPrice(history: readonly HistoryLine[]): number | undefined {
  let sum = 0;
  let n = 0;
  for (const h of history) {
    if (h.price > 0) {
      sum += h.price;
      n++;
    }
  }
  return n > 0 ? sum / n : undefined;
}

/** Purchases of one product less than half a day apart are one shopping trip. */
const TRIP_MS = DAY_MS / 2;

/** The user's shopping trips per product: instants (ms), oldest first, purchases within TRIP_MS merged. */
export function tripsByProduct(history: readonly HistoryLine[]): Map<string, number[]> {
  const all = new Map<string, number[]>();
  for (const h of history) {
    const times = all.get(h.id);
    if (times) times.push(h.at);
    else all.set(h.id, [h.at]);
  }
  for (const [id, times] of all) {
    times.sort((a, b) => a - b);
    all.set(
      id,
      times.filter((t, i) => i === 0 || t - times[i - 1]! >= TRIP_MS),
    );
  }
  return all;
}

/** P(Z > z) of a standard normal (erfc, Numerical Recipes' Chebyshev fit, relative error < 1.2e-7). */
function normalTail(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const erfc =
    t *
    Math.exp(
      -x * x -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return z >= 0 ? erfc / 2 : 1 - erfc / 2;
}

/**
 * The user's repeat propensity: of their products with a cycle first bought at least a cycle ago, the
 * share they bought again, shrunk towards `prior` as if two more such products had been seen.
 */
export function repeatPropensity(
  trips: ReadonlyMap<string, readonly number[]>,
  cycleOf: (id: string) => number | undefined,
  now: number,
  prior: number,
): number {
  let eligible = 0;
  let again = 0;
  for (const [id, t] of trips) {
    const cycle = cycleOf(id);
    if (!cycle || now - t[0]! < cycle * DAY_MS) continue;
    eligible++;
    if (t.length > 1) again++;
  }
  return (again + 2 * prior) / (eligible + 2);
}

/**
 * The chance that a user buys a product again within `horizonDays` of `now`, from their trips for it
 * (oldest first), its cycle and their repeat propensity `rho` (see the module's header).
 */
export function rebuyProbability(
  trips: readonly number[],
  cycleDays: number,
  now: number,
  rho: number,
  o: Pick<RerankOptions, 'horizonDays' | 'cycleSpread'>,
): number {
  const last = trips[trips.length - 1];
  if (last === undefined || !(cycleDays > 0)) return 0;
  const gaps = trips.slice(1).map((t, i) => (t - trips[i]!) / DAY_MS);
  const median = gaps.length >= 2 ? [...gaps].sort((a, b) => a - b)[gaps.length >> 1]! : cycleDays;
  const since = Math.max(0, (now - last) / DAY_MS);
  const tail = (days: number) => (days <= 0 ? 1 : normalTail(Math.log(days / median) / o.cycleSpread));
  const notYet = tail(since);
  const within = notYet - tail(since + o.horizonDays);
  // Bought again before: they come back for it. Bought once: with their propensity, weighed by the wait.
  const r = trips.length > 1 ? 1 : rho;
  const denominator = r * notYet + (1 - r);
  return denominator > 0 ? (r * within) / denominator : 0;
}

/** Blends, re-ranks and sorts the candidates (best first, ties by id); drops what must not be sent. */
export function rerank(
  candidates: readonly RecCandidate[],
  ctx: RerankContext,
  o: RerankOptions = DEFAULT_RERANK,
): Reranked[] {
  const lastBought = new Map<string, number>();
  for (const h of ctx.history) lastBought.set(h.id, Math.max(lastBought.get(h.id) ?? -Infinity, h.at));
  const avg = averageItemPrice(ctx.history);
  const trips = o.ownWeight > 0 ? tripsByProduct(ctx.history) : undefined;
  const rho = trips ? repeatPropensity(trips, (id) => ctx.facts(id)?.cycleDays, ctx.now, o.repeatPrior) : 0;
  const pool: RecCandidate[] = [...candidates];
  const fromHistory = new Set<string>();
  if (trips) {
    const seen = new Set(candidates.map((c) => c.id));
    for (const id of trips.keys()) {
      if (seen.has(id)) continue;
      pool.push({ id, als: 0, cf: 0, pop: 0 });
      fromHistory.add(id);
    }
  }
  const out: Reranked[] = [];
  for (const c of pool) {
    const facts = ctx.facts(c.id);
    if (!facts || !facts.available || ctx.pushed?.has(c.id)) continue;
    let blended = blendScore(c, o.blend, ctx.cold);
    const own = trips?.get(c.id);
    if (trips) {
      const p = own && facts.cycleDays ? rebuyProbability(own, facts.cycleDays, ctx.now, rho, o) : 0;
      // An own product no source named is worth only its chance of being bought again.
      if (p === 0 && fromHistory.has(c.id)) continue;
      blended = (1 - o.ownWeight) * blended + o.ownWeight * p;
    }
    let score = blended;
    const why: string[] = [];
    const last = lastBought.get(c.id);
    // A product nobody buys again has no cycle: the user who has it is not offered it again.
    if (last !== undefined && !(facts.cycleDays !== undefined && facts.cycleDays > 0)) continue;
    if (last !== undefined && facts.cycleDays !== undefined) {
      const since = (ctx.now - last) / DAY_MS;
      if (since < o.skipWithin * facts.cycleDays) continue;
      if (since >= facts.cycleDays) {
        score *= 1 + o.dueBoost;
        why.push('due');
      }
    }
    if (avg !== undefined && facts.price !== undefined && facts.price > 0) {
      const ratio = facts.price / avg;
      if (ratio > o.priceSoftAbove) {
        score *= o.priceSoftAbove / Math.min(ratio, o.priceCap);
        why.push('price');
      } else if (ratio > 1 && o.upsell > 0) {
        score *= 1 + o.upsell * (ratio - 1);
        why.push('upsell');
      }
    }
    out.push({ id: c.id, score, blended, why });
  }
  return out.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Neighbours of a product as stored: [product id, similarity][]. */
export type Neighbours = ReadonlyArray<readonly [string, number]>;

/**
 * Candidates of a user with no trained row (new since the last training): item-CF from the neighbours of
 * their first purchased product, and popularity among the most bought of their first categories (or of
 * everything, with no category yet). Each part is scaled to [0, 1]; the ALS part is 0.
 */
export function coldStartCandidates(
  firstNeighbours: Neighbours,
  popular: ReadonlyArray<readonly [string, number]>,
): RecCandidate[] {
  const raw = new Map<string, { cf?: number; pop?: number }>();
  for (const [id, sim] of firstNeighbours) raw.set(id, { cf: sim });
  for (const [id, n] of popular) raw.set(id, { ...raw.get(id), pop: n });
  return scaleParts(raw);
}
