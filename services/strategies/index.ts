/** The registered strategies. One line per strategy. */
import type { StrategyPlugin } from './strategy';
import { createMarketBasket } from './market-basket/market-basket.strategy';
import { createDailySale } from './daily-sale/daily-sale.strategy';

import type { Config } from '../../shared/config';

export type StrategyOptions = Pick<
  Config,
  'STRATEGIES' | 'MARKET_BASKET_MAX_STORES' | 'DAILY_SALE_POLICY' | 'DAILY_SALE_CANDIDATES'
>;

/** The enabled strategies, by name. */
export function createStrategies(opts: StrategyOptions): Map<string, StrategyPlugin> {
  const list: StrategyPlugin[] = [
    createMarketBasket({ maxStores: opts.MARKET_BASKET_MAX_STORES }),
    createDailySale({ policy: opts.DAILY_SALE_POLICY, maxCandidates: opts.DAILY_SALE_CANDIDATES }),
  ];
  return new Map(
    list.filter((s) => (opts.STRATEGIES as readonly string[]).includes(s.name)).map((s) => [s.name, s]),
  );
}

export type { StrategyPlugin, Catalog } from './strategy';
