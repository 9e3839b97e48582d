/**
 * The market-basket miner as a service: rebuild the mined table from the streamed counts (on the
 * scheduler's period, or on demand), and show it to an operator. The counts are folded by ingest
 * (services/state/basket.store.ts `record`); the table is read by the market-basket strategy.
 */
import type { BasketStore } from '../state';
import { buildMinedTable, renderMinedTable, type BuildOptions, type MinedTable } from './basket-table';

export interface RebuildDeps {
  basket: Pick<BasketStore, 'counts' | 'writeTable' | 'builtAt'>;
  now: () => number;
  build?: Partial<BuildOptions>;
}

/** Builds the table from the current counts and writes it under the next version. */
export async function rebuildBasketTable(deps: RebuildDeps): Promise<{ version: number; table: MinedTable }> {
  const table = buildMinedTable(await deps.basket.counts(), deps.now(), deps.build);
  const version = await deps.basket.writeTable(table);
  return { version, table: { ...table, version } };
}

/**
 * The scheduler's round: rebuilds when the current table is older than `periodMs` of Herald's clock (or
 * missing). Returns 1 when it rebuilt. Replicas racing here each write a version; the later one is current.
 */
export function basketRebuildRound(deps: RebuildDeps & { periodMs: number }): () => Promise<number> {
  return async () => {
    if (deps.periodMs <= 0) return 0;
    const builtAt = await deps.basket.builtAt();
    if (builtAt !== null && deps.now() - builtAt < deps.periodMs) return 0;
    await rebuildBasketTable(deps);
    return 1;
  };
}

/** What an operator sees: the current table's top follow-ups per category with support and score. */
export async function showBasketTable(
  basket: Pick<BasketStore, 'current'>,
  top = 5,
): Promise<{ table: MinedTable | null; text: string }> {
  const table = await basket.current();
  return { table, text: table ? renderMinedTable(table, top) : 'no mined basket table yet\n' };
}
