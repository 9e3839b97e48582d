/** The registered strategies. One line per strategy. */
import { z } from 'zod';
import { dailySale } from './daily-sale/daily-sale.strategy';
import { marketBasket } from './market-basket/market-basket.strategy';
import { onlineToOffline } from './online-to-offline/online-to-offline.strategy';
import { productRecs } from './product-recs/product-recs.strategy';
import type { StrategyDefinition, StrategyPlugin } from './strategy';

export const STRATEGY_DEFINITIONS = [marketBasket, dailySale, onlineToOffline, productRecs] as const;

type Definition = (typeof STRATEGY_DEFINITIONS)[number];
type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void
  ? I
  : never;
type ShapeOf<D> = D extends StrategyDefinition<infer S> ? S : never;

/** The settings of every registered strategy, as one zod shape for Herald's config. */
export type StrategiesShape = UnionToIntersection<ShapeOf<Definition>>;
export const strategiesConfigShape = Object.assign(
  {},
  ...STRATEGY_DEFINITIONS.map((d) => d.config),
) as StrategiesShape;

export const STRATEGY_NAMES = STRATEGY_DEFINITIONS.map((d) => d.name);

/** Enabled strategies, comma-separated. Default: every registered one. */
export const StrategiesList = z
  .string()
  .default(STRATEGY_NAMES.join(','))
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.enum(STRATEGY_NAMES as [string, ...string[]])).min(1));

/** The enabled strategies, by name, built from Herald's config. */
export function createStrategies(
  config: z.infer<z.ZodObject<StrategiesShape>> & { STRATEGIES: readonly string[] },
): Map<string, StrategyPlugin> {
  const out = new Map<string, StrategyPlugin>();
  for (const d of STRATEGY_DEFINITIONS as readonly StrategyDefinition[]) {
    if (config.STRATEGIES.includes(d.name)) out.set(d.name, d.create(config));
  }
  return out;
}

export type { StrategyPlugin, Catalog, CandidateFeatures, IngestEvent, Rendered } from './strategy';
