/** The registered strategies. One line per strategy. */
import type { StrategyPlugin } from './strategy';
import { createMarketBasket } from './market-basket/market-basket.strategy';
import { createDailySale } from './daily-sale/daily-sale.strategy';

export interface StrategyOptions {
  marketBasketMaxStores: number;
}

export function createStrategies(opts: StrategyOptions): Map<string, StrategyPlugin> {
  const list: StrategyPlugin[] = [
    createMarketBasket({ maxStores: opts.marketBasketMaxStores }),
    createDailySale(),
  ];
  return new Map(list.map((s) => [s.name, s]));
}

export type { StrategyPlugin, Catalog } from './strategy';
