/**
 * Online to offline (real time): a location ping within a radius of a discounted store, in a category the
 * user buys, makes that store worth suggesting. Each (user, store) pair is suggested at most once per
 * cooldown, and only to users who opted in to location-based pushes (the filter checks it).
 *
 * The store's distance is scored from where the user was just seen (the ping), since a real-time push goes
 * while they are there.
 */
import { z } from 'zod';
import { SchemaError } from '../../../shared/errors';
import { stableId } from '../../../shared/ids';
import type { Candidate, Trigger } from '../../../shared/schemas/jobs.schema';
import type { LocationPing } from '../../../shared/schemas/events.schema';
import { defineStrategy, storeCandidate, type StrategyPlugin } from '../strategy';

export const ONLINE_TO_OFFLINE = 'online-to-offline';

const TriggerData = z.object({ lat: z.number(), lon: z.number() });

/** A suggestion is worth this long after the ping. */
const VALID_MS = 2 * 3_600_000;

/** Stores looked up around a ping before filtering by discount and category. */
const NEAR_LIMIT = 50;

export function onlineToOfflineTrigger(p: LocationPing): Trigger {
  return {
    strategy: ONLINE_TO_OFFLINE,
    triggerId: stableId('o2o', p.eventId),
    at: Date.parse(p.at),
    userId: p.userId,
    data: { lat: p.lat, lon: p.lon },
  };
}

export interface OnlineToOfflineOptions {
  /** A store farther than this from the ping is not suggested (km). */
  radiusKm: number;
  /** Stores with a smaller discount (%) are not suggested. */
  minDiscount: number;
  /** Stores suggested per trigger, nearest first. */
  maxStores: number;
  /** A (user, store) pair suggested once is not suggested again for this long (clock ms). */
  cooldownMs: number;
  /** A ping older than this (by its own time, against Herald's clock) triggers nothing. */
  maxAgeMs: number;
}

export function createOnlineToOffline(opts: OnlineToOfflineOptions): StrategyPlugin {
  return {
    name: ONLINE_TO_OFFLINE,
    usesCategories: true,
    needsLocationOptIn: true,
    events: {
      topics: ['locations'],
      trigger(e, { now }) {
        if (e.topic !== 'locations') return null;
        return Date.parse(e.event.at) >= now - opts.maxAgeMs ? onlineToOfflineTrigger(e.event) : null;
      },
    },
    async target(trigger, catalog) {
      const data = TriggerData.safeParse(trigger.data);
      if (!data.success || !trigger.userId) {
        throw new SchemaError(
          `trigger ${trigger.triggerId}`,
          'online-to-offline trigger needs userId, lat, lon',
        );
      }
      if (!catalog.storesNear || !catalog.userCategories || !catalog.claimCooldowns) return null;
      const userId = trigger.userId;
      const [near, bought] = await Promise.all([
        catalog.storesNear(data.data, opts.radiusKm, NEAR_LIMIT),
        catalog.userCategories(userId),
      ]);
      const fit = near
        .filter((s) => s.discount >= opts.minDiscount && (bought[s.category] ?? 0) > 0)
        .slice(0, opts.maxStores);
      if (fit.length === 0) return null;
      const free = new Set(
        await catalog.claimCooldowns(
          ONLINE_TO_OFFLINE,
          userId,
          fit.map((s) => s.storeId),
          trigger.triggerId,
          opts.cooldownMs,
        ),
      );
      const total = Object.values(bought).reduce((s, n) => s + n, 0);
      const candidates: Candidate[] = fit
        .filter((s) => free.has(s.storeId))
        .map((s) =>
          storeCandidate(s, total > 0 ? (bought[s.category] ?? 0) / total : 0, trigger.at + VALID_MS),
        );
      if (candidates.length === 0) return null;
      return {
        strategy: ONLINE_TO_OFFLINE,
        targetId: trigger.triggerId,
        at: trigger.at,
        audience: { kind: 'user', userId },
        candidates,
      };
    },
    // How much of what the user buys is in the store's category.
    features: (c, user) => {
      const cats = user.categories ?? {};
      const total = Object.values(cats).reduce((s, n) => s + n, 0);
      return { affinity: total > 0 ? (cats[c.category] ?? 0) / total : c.affinity };
    },
    render(c) {
      return {
        title: `${Math.round(c.discount)}% off at ${c.title}, close to you`,
        body: `A ${c.category.replace(/_/g, ' ')} deal a few minutes away.`,
        deepLink: c.deepLink ?? `herald://store/${c.id}`,
      };
    },
  };
}

const num = (min: number, max: number) => z.coerce.number().min(min).max(max);

export const onlineToOffline = defineStrategy({
  name: ONLINE_TO_OFFLINE,
  config: {
    /** A discounted store within this many km of a ping is suggested. Default 1. */
    ONLINE_TO_OFFLINE_RADIUS_KM: num(0.01, 100).default(1),
    /** The smallest discount (%) worth a location-based push. Default 10. */
    ONLINE_TO_OFFLINE_MIN_DISCOUNT: num(0, 100).default(10),
    /** Stores suggested per ping, nearest first. Default 3. */
    ONLINE_TO_OFFLINE_MAX_STORES: z.coerce.number().int().min(1).max(50).default(3),
    /** Hours of Herald's clock before a store is suggested to the same user again. Default 72. */
    ONLINE_TO_OFFLINE_COOLDOWN_HOURS: num(0, 24 * 365).default(72),
    /** A ping older than this (by its own time) is folded but triggers nothing. Default 15. */
    ONLINE_TO_OFFLINE_MAX_AGE_MINUTES: num(0.1, 24 * 60).default(15),
  },
  create: (c) =>
    createOnlineToOffline({
      radiusKm: c.ONLINE_TO_OFFLINE_RADIUS_KM,
      minDiscount: c.ONLINE_TO_OFFLINE_MIN_DISCOUNT,
      maxStores: c.ONLINE_TO_OFFLINE_MAX_STORES,
      cooldownMs: c.ONLINE_TO_OFFLINE_COOLDOWN_HOURS * 3_600_000,
      maxAgeMs: c.ONLINE_TO_OFFLINE_MAX_AGE_MINUTES * 60_000,
    }),
});
