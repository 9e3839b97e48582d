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
 * - pushes: a product pushed to the user lately is dropped.
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
}

export const DEFAULT_RERANK: RerankOptions = {
  blend: DEFAULT_BLEND,
  dueBoost: 0.15,
  skipWithin: 0.5,
  priceSoftAbove: 1.5,
  priceCap: 2.0,
  upsell: 0.1,
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

/** Blends, re-ranks and sorts the candidates (best first, ties by id); drops what must not be sent. */
export function rerank(
  candidates: readonly RecCandidate[],
  ctx: RerankContext,
  o: RerankOptions = DEFAULT_RERANK,
): Reranked[] {
  const lastBought = new Map<string, number>();
  for (const h of ctx.history) lastBought.set(h.id, Math.max(lastBought.get(h.id) ?? -Infinity, h.at));
  const avg = averageItemPrice(ctx.history);
  const out: Reranked[] = [];
  for (const c of candidates) {
    const facts = ctx.facts(c.id);
    if (!facts || !facts.available || ctx.pushed?.has(c.id)) continue;
    const blended = blendScore(c, o.blend, ctx.cold);
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
