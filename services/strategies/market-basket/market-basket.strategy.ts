/**
 * Market basket (real time): a purchase in category A makes a nearby store of a category B that usually
 * follows A worth suggesting.
 */
import { z } from 'zod';
import { SchemaError } from '../../../shared/errors';
import { stableId } from '../../../shared/ids';
import { Category, GeoPoint } from '../../../shared/schemas/common';
import type { Candidate, Trigger } from '../../../shared/schemas/jobs.schema';
import type { Purchase } from '../../../shared/schemas/events.schema';
import type { StrategyPlugin } from '../strategy';

export const MARKET_BASKET = 'market-basket';

const TriggerData = z.object({ category: Category, storeId: z.string(), location: GeoPoint.optional() });

/** A suggestion is worth this long after the purchase. */
const VALID_MS = 24 * 3_600_000;

export function marketBasketTrigger(p: Purchase): Trigger {
  return {
    strategy: MARKET_BASKET,
    triggerId: stableId('mb', p.eventId),
    at: Date.parse(p.at),
    userId: p.userId,
    data: { category: p.category, storeId: p.storeId, ...(p.location ? { location: p.location } : {}) },
  };
}

export function createMarketBasket(opts: { maxStores: number }): StrategyPlugin {
  return {
    name: MARKET_BASKET,
    async target(trigger, catalog) {
      const data = TriggerData.safeParse(trigger.data);
      if (!data.success || !trigger.userId) {
        throw new SchemaError(
          `trigger ${trigger.triggerId}`,
          'market-basket trigger needs userId, category, storeId',
        );
      }
      const follows = catalog.affinity.following(data.data.category);
      const weight = new Map(follows.map((f) => [f.category, f.affinity]));
      const stores = await catalog.storesInCategories(follows.map((f) => f.category));
      const candidates: Candidate[] = stores
        .filter((s) => s.storeId !== data.data.storeId)
        .map((s) => ({
          id: s.storeId,
          kind: 'store' as const,
          category: s.category,
          title: s.name,
          discount: s.discount,
          affinity: weight.get(s.category) ?? 0,
          location: s.location,
          deepLink: `herald://store/${s.storeId}`,
          deadline: trigger.at + VALID_MS,
        }))
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
