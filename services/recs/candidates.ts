/**
 * Candidate generation that needs no cluster: popularity, item-based collaborative filtering (cosine over
 * implicit strengths) and repurchase cycles. The Spark job computes the same three at scale; the offline
 * evaluation and cold start run these. Items and users are dense integer indexes here.
 */

/** Per user, product -> implicit strength (services/recs/strength.ts). */
export type Strengths = ReadonlyArray<ReadonlyMap<number, number>>;

/** Buyers per product (a user counts once per product). */
export function popularity(strengths: Strengths, items: number): Float64Array {
  const pop = new Float64Array(items);
  for (const u of strengths) for (const i of u.keys()) pop[i]! += 1;
  return pop;
}

/** The `n` highest entries of `score` as [index, score], best first; ties to the lower index. */
export function topN(
  score: ArrayLike<number>,
  n: number,
  keep?: (i: number) => boolean,
): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < score.length; i++) {
    const s = score[i]!;
    if (s <= 0 || (keep && !keep(i))) continue;
    if (out.length === n && s <= out[n - 1]![1]) continue;
    let j = out.length < n ? out.length : n - 1;
    if (out.length < n) out.push([i, s]);
    while (j > 0 && out[j - 1]![1] < s) {
      out[j] = out[j - 1]!;
      j--;
    }
    out[j] = [i, s];
  }
  return out;
}

export interface ItemCfOptions {
  /** Neighbours kept per product. Default 20. */
  neighbours: number;
  /** A user's strongest products taken into the co-occurrence (bounds the pairs per user). Default 50. */
  maxPerUser: number;
}

export const DEFAULT_ITEM_CF: ItemCfOptions = { neighbours: 20, maxPerUser: 50 };

/**
 * Each product's most similar products: cosine similarity of their strength vectors over users,
 * sim(i, j) = sum_u s_ui s_uj / (|s_i| |s_j|), top `neighbours` per product.
 */
export function itemNeighbours(
  strengths: Strengths,
  items: number,
  o: ItemCfOptions = DEFAULT_ITEM_CF,
): Array<Array<[number, number]>> {
  const norm = new Float64Array(items);
  const dots = Array.from({ length: items }, () => new Map<number, number>());
  for (const u of strengths) {
    const top = [...u].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, o.maxPerUser);
    for (const [i, si] of top) {
      norm[i]! += si * si;
      const row = dots[i]!;
      for (const [j, sj] of top) if (j !== i) row.set(j, (row.get(j) ?? 0) + si * sj);
    }
  }
  return dots.map((row, i) => {
    const sims: Array<[number, number]> = [];
    for (const [j, d] of row) sims.push([j, d / Math.sqrt(norm[i]! * norm[j]!)]);
    return sims.sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, o.neighbours);
  });
}

/**
 * Item-CF score of the user's products and their neighbours: sum over their products j of s_uj sim(j, i),
 * with sim(i, i) = 1. A product the user bought scores at least its own strength: whether it may be offered
 * again is the re-ranking's call (its repurchase cycle), not the candidates'.
 */
export function itemCfScores(
  user: ReadonlyMap<number, number>,
  neighbours: ReadonlyArray<ReadonlyArray<readonly [number, number]>>,
): Map<number, number> {
  const out = new Map<number, number>();
  for (const [j, s] of user) {
    out.set(j, (out.get(j) ?? 0) + s);
    for (const [i, sim] of neighbours[j] ?? []) out.set(i, (out.get(i) ?? 0) + s * sim);
  }
  return out;
}

/** A purchase of a product by a user, for the cycles: user, product, instant (ms). */
export interface Bought {
  user: number;
  item: number;
  at: number;
}

/**
 * Each product's repurchase cycle in days: the median gap between a user's consecutive purchases of it
 * (gaps under half a day are one shopping trip), over every user, when at least `minGaps` gaps were seen.
 * Products nobody buys twice have none.
 */
export function repurchaseCycles(bought: readonly Bought[], minGaps = 3): Map<number, number> {
  const last = new Map<string, number>();
  const gaps = new Map<number, number[]>();
  const sorted = [...bought].sort((a, b) => a.at - b.at);
  for (const b of sorted) {
    const key = `${b.user}|${b.item}`;
    const prev = last.get(key);
    if (prev !== undefined) {
      const days = (b.at - prev) / 86_400_000;
      if (days < 0.5) continue;
      const g = gaps.get(b.item) ?? [];
      g.push(days);
      gaps.set(b.item, g);
    }
    last.set(key, b.at);
  }
  const out = new Map<number, number>();
  for (const [item, g] of gaps) {
    if (g.length < minGaps) continue;
    g.sort((a, b) => a - b);
    const m = g.length >> 1;
    out.set(item, g.length % 2 ? g[m]! : (g[m - 1]! + g[m]!) / 2);
  }
  return out;
}
