/**
 * The mined follow-up table: what the miner's counts say follows each category, ranked by Herald's chosen
 * ranking (basket-rank.ts), with the figures an operator needs to judge it (support, P(B|A), lift and the
 * 2nd-purchase lift). It is written whole with a version and the instant it was built
 * (services/state/basket.store.ts), and read by the market-basket strategy through `effectiveAffinity`: a
 * category whose mined row has too little support keeps the static table's row (the cold-start seed).
 */
import { affinityTable, type AffinityTable } from './affinity-table';
import type { BasketCounts } from './basket-counts';
import {
  DEFAULT_RANK,
  HERALD_RANKING,
  followStat,
  rankAfter,
  viewCounts,
  type RankOptions,
  type Ranking,
} from './basket-rank';

export interface MinedFollow {
  category: string;
  /** The ranking's score; with `bayes` a smoothed probability that B follows A within the window. */
  score: number;
  /** Episodes of A followed by B. */
  support: number;
  pBA: number;
  lift: number;
  lift2: number;
}

export interface MinedRow {
  /** Episodes of A. */
  n: number;
  /** Episodes of A followed by another category. */
  next: number;
  follows: MinedFollow[];
}

export interface MinedTable {
  /** Bumped by each write; 0 for a table not yet written. */
  version: number;
  /** Clock ms when it was built. */
  builtAt: number;
  ranking: Ranking;
  windowDays: number;
  episodes: number;
  followed: number;
  rows: Record<string, MinedRow>;
}

export interface BuildOptions {
  /** Follow-ups kept per category. Default 10. */
  top: number;
  windowDays: number;
  ranking: Ranking;
  rank: RankOptions;
}

export const DEFAULT_BUILD: BuildOptions = {
  top: 10,
  windowDays: 14,
  ranking: HERALD_RANKING,
  rank: DEFAULT_RANK,
};

/** Pure: the table of the counts (version 0 until written). Follow-ups nobody made are left out. */
export function buildMinedTable(
  counts: BasketCounts,
  builtAt: number,
  options: Partial<BuildOptions> = {},
): MinedTable {
  const o = { ...DEFAULT_BUILD, ...options };
  const view = viewCounts(counts);
  const rows: Record<string, MinedRow> = {};
  for (const a of view.categories) {
    const follows: MinedFollow[] = [];
    for (const r of rankAfter(view, o.ranking, a, o.rank)) {
      if (follows.length >= o.top) break;
      const s = followStat(view, a, r.category);
      if (s.support === 0) continue;
      const round = (x: number) => Math.round(x * 1e6) / 1e6;
      follows.push({
        category: r.category,
        score: round(r.score),
        support: s.support,
        pBA: round(s.pBA),
        lift: round(s.lift),
        lift2: round(s.lift2),
      });
    }
    rows[a] = { n: counts.n.get(a) ?? 0, next: counts.next.get(a) ?? 0, follows };
  }
  return {
    version: 0,
    builtAt,
    ranking: o.ranking,
    windowDays: o.windowDays,
    episodes: view.episodes,
    followed: view.followed,
    rows,
  };
}

/**
 * The table targeting reads: for each category, the mined follow-ups when the category has at least
 * `minEpisodes` mined episodes and some follow-up, else the seed's (the static file). The mined affinity is
 * the ranking's score clamped to 0..1.
 */
export function effectiveAffinity(
  mined: MinedTable | null,
  seed: AffinityTable,
  minEpisodes: number,
): AffinityTable & { source(category: string): 'mined' | 'seed' } {
  const follows: Record<string, Array<{ category: string; affinity: number }>> = {};
  const source = new Map<string, 'mined' | 'seed'>();
  const categories = new Set(seed.categories);
  for (const c of seed.categories) {
    follows[c] = [...seed.following(c)];
    source.set(c, 'seed');
  }
  for (const [a, row] of Object.entries(mined?.rows ?? {})) {
    if (row.n < minEpisodes || row.follows.length === 0) continue;
    categories.add(a);
    follows[a] = row.follows.map((f) => ({
      category: f.category,
      affinity: Math.min(1, Math.max(0, f.score)),
    }));
    source.set(a, 'mined');
  }
  const table = affinityTable({ version: 1, categories: [...categories], follows });
  return { ...table, source: (c) => source.get(c) ?? 'seed' };
}

/** An operator's view: the top follow-ups of each category with support and score, as text. */
export function renderMinedTable(t: MinedTable, top = 5): string {
  const lines = [
    `basket table v${t.version}, built ${new Date(t.builtAt).toISOString()}, ranking ${t.ranking}, window ${t.windowDays} days`,
    `${t.episodes} purchase episodes, ${t.followed} followed by another category within the window`,
    '',
  ];
  const rows = Object.entries(t.rows).sort((x, y) => y[1].n - x[1].n || (x[0] < y[0] ? -1 : 1));
  for (const [a, row] of rows) {
    const f = row.follows
      .slice(0, top)
      .map((x) => `${x.category} (${x.support}, ${x.score.toFixed(3)}, lift ${x.lift.toFixed(2)})`)
      .join(', ');
    lines.push(`${a} [${row.n} episodes, ${row.next} followed]: ${f || '-'}`);
  }
  return `${lines.join('\n')}\n`;
}
