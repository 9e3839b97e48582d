/**
 * Market basket (real time): a purchase in category A makes a nearby store of a category B that usually
 * follows A worth suggesting. What follows A comes from the mined table (services/affinity, rebuilt from the
 * purchases stream) when A has enough mined episodes, else from the static file, the cold-start seed.
 */
import { z } from 'zod';
import { SchemaError } from '../../../shared/errors';
import { stableId } from '../../../shared/ids';
import { Category, GeoPoint } from '../../../shared/schemas/common';
import type { Candidate, Trigger } from '../../../shared/schemas/jobs.schema';
import type { AnyPurchase } from '../../../shared/schemas/events.schema';
import { loadAffinity, type AffinityTable } from '../../affinity/affinity-table';
import { effectiveAffinity, type MinedTable } from '../../affinity/basket-table';
import { HERALD_OWN_WEIGHT } from '../../affinity/basket-rank';
import { defineStrategy, storeCandidate, type StrategyPlugin } from '../strategy';

export const MARKET_BASKET = 'market-basket';

const TriggerData = z.object({ category: Category, storeId: z.string(), location: GeoPoint.optional() });

/** A suggestion is worth this long after the purchase. */
const VALID_MS = 24 * 3_600_000;

export function marketBasketTrigger(p: AnyPurchase): Trigger {
  return {
    strategy: MARKET_BASKET,
    triggerId: stableId('mb', p.eventId),
    at: Date.parse(p.at),
    userId: p.userId,
    data: { category: p.category, storeId: p.storeId, ...(p.location ? { location: p.location } : {}) },
  };
}

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export interface MarketBasketOptions {
  /** The static follow-up table, used for a category until the mined table has enough support for it. */
  affinity: AffinityTable;
  /** Mined episodes of a category below which its static row is used. Default 50. */
  minEpisodes?: number;
  /**
   * Weight of the user's own share of purchases in the candidate's category, blended with the follow-up's
   * affinity (the offline command's `+own`). Default 0: the affinity alone.
   */
  ownWeight?: number;
  /** Stores suggested per trigger, best affinity first. */
  maxStores: number;
  /** A purchase older than this (by its own time, against Herald's clock) triggers nothing. */
  maxAgeMs: number;
}

export function createMarketBasket(opts: MarketBasketOptions): StrategyPlugin {
  const minEpisodes = opts.minEpisodes ?? 50;
  const own = opts.ownWeight ?? 0;
  // The effective table of the mined version last seen: rebuilt only when the version moves.
  let seen: { mined: MinedTable | null; table: AffinityTable } = { mined: null, table: opts.affinity };
  const tableOf = (mined: MinedTable | null): AffinityTable => {
    if (mined === seen.mined || (mined && seen.mined && mined.version === seen.mined.version))
      return seen.table;
    seen = { mined, table: effectiveAffinity(mined, opts.affinity, minEpisodes) };
    return seen.table;
  };
  return {
    name: MARKET_BASKET,
    events: {
      topics: ['purchases'],
      trigger(e, { now }) {
        if (e.topic !== 'purchases') return null;
        // A replay or a late batch is folded into state but is too old for a real-time suggestion.
        return Date.parse(e.event.at) >= now - opts.maxAgeMs ? marketBasketTrigger(e.event) : null;
      },
    },
    async target(trigger, catalog) {
      const data = TriggerData.safeParse(trigger.data);
      if (!data.success || !trigger.userId) {
        throw new SchemaError(
          `trigger ${trigger.triggerId}`,
          'market-basket trigger needs userId, category, storeId',
        );
      }
      const affinity = tableOf(catalog.basketTable ? await catalog.basketTable() : null);
      const follows = affinity.following(data.data.category);
      const weight = new Map(follows.map((f) => [f.category, f.affinity]));
      const stores = await catalog.storesInCategories(follows.map((f) => f.category));
      const candidates: Candidate[] = stores
        .filter((s) => s.storeId !== data.data.storeId)
        .map((s) => storeCandidate(s, weight.get(s.category) ?? 0, trigger.at + VALID_MS))
        .sort((a, b) => b.affinity - a.affinity || b.discount - a.discount || a.id.localeCompare(b.id))
        .slice(0, opts.maxStores);
      if (candidates.length === 0) return null;
      return {
        strategy: MARKET_BASKET,
        targetId: trigger.triggerId,
        at: trigger.at,
        audience: { kind: 'user', userId: trigger.userId },
        candidates,
      };
    },
    usesCategories: own > 0,
    // A store carries the affinity of its category for the purchase that triggered it, blended with how much
    // of what the user buys is in that category.
    features: (c, user) => {
      if (own === 0) return { affinity: c.affinity };
      const cats = user.categories ?? {};
      const total = Object.values(cats).reduce((s, n) => s + n, 0);
      const share = total > 0 ? (cats[c.category] ?? 0) / total : 0;
      return { affinity: (1 - own) * c.affinity + own * share };
    },
    render(c) {
      const deal = c.discount > 0 ? ` ${Math.round(c.discount)}% off today.` : '';
      return {
        title: `${c.title} is near you`,
        body: `Shoppers like you often head to ${c.category.replace(/_/g, ' ')} next.${deal}`,
        deepLink: c.deepLink ?? `herald://store/${c.id}`,
      };
    },
  };
}

export const marketBasket = defineStrategy({
  name: MARKET_BASKET,
  config: {
    /** The follow-up table (JSON). Default infra/data/affinity.json. */
    AFFINITY_PATH: z.string().min(1).default('infra/data/affinity.json'),
    /** Stores suggested per market-basket trigger, best affinity first. Default 20. */
    MARKET_BASKET_MAX_STORES: int(1, 1000).default(20),
    /** Mined purchase episodes of a category below which the static table's row is used. Default 50. */
    MARKET_BASKET_MIN_EPISODES: int(0, 1_000_000_000).default(50),
    /** Weight (0..1) of the user's own purchase share of a store's category in its affinity. Default 0.5. */
    MARKET_BASKET_OWN_WEIGHT: z.coerce.number().min(0).max(1).default(HERALD_OWN_WEIGHT),
    /** A purchase older than this (by its own time) is folded but triggers no real-time push. Default 60. */
    MARKET_BASKET_MAX_AGE_MINUTES: z.coerce
      .number()
      .positive()
      .max(7 * 24 * 60)
      .default(60),
  },
  create: (c) =>
    createMarketBasket({
      affinity: loadAffinity(c.AFFINITY_PATH),
      maxStores: c.MARKET_BASKET_MAX_STORES,
      maxAgeMs: c.MARKET_BASKET_MAX_AGE_MINUTES * 60_000,
      minEpisodes: c.MARKET_BASKET_MIN_EPISODES,
      ownWeight: c.MARKET_BASKET_OWN_WEIGHT,
    }),
});
