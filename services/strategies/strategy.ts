/**
 * A strategy is a plugin (DESIGN rule 10): it names itself, turns its triggers into targets (what could be
 * notified, and to whom), and renders its pushes. Adding one touches its folder and one line in index.ts.
 */
import type { Candidate, Target, Trigger } from '../../shared/schemas/jobs.schema';
import type { AffinityTable } from '../affinity/affinity-table';
import type { SaleState, StoreState } from '../state/state-store';

/** What targeting may read. */
export interface Catalog {
  affinity: AffinityTable;
  storesInCategories(categories: readonly string[]): Promise<StoreState[]>;
  activeSales(now: number, day: string): Promise<Array<SaleState & { clicks: number }>>;
}

export interface Rendered {
  title: string;
  body: string;
  deepLink: string;
}

export interface StrategyPlugin {
  readonly name: string;
  /** The target of a trigger, or null when there is nothing worth notifying. */
  target(trigger: Trigger, catalog: Catalog): Promise<Target | null>;
  render(candidate: Candidate, locale: string): Rendered;
}
