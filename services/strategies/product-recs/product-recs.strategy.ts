/**
 * Product recommendations: a push naming a few products picked for the user. Candidates come from the
 * trained version (services/recs, on Spark: ALS, item-CF and popularity, blended) and are re-ranked here
 * with today's state: the user's line items (repurchase cycles, their average item price, upsell), the
 * catalog (availability, price) and what was pushed to them lately (a cooldown per product). A user the
 * training has not seen (new since) gets cold start: item-CF from their first purchase and popularity in
 * their first categories.
 *
 * Triggered by a purchase with line items (in real time, like market-basket) and by a new trained version
 * for each user whose picks changed (the trainer sends those triggers, services/recs/train.ts).
 */
import { z } from 'zod';
import { SchemaError } from '../../../shared/errors';
import { stableId } from '../../../shared/ids';
import { TimeZone } from '../../../shared/schemas/common';
import { lineItems } from '../../../shared/schemas/events.schema';
import type { Candidate, Trigger } from '../../../shared/schemas/jobs.schema';
import {
  DEFAULT_RERANK,
  coldStartCandidates,
  rerank,
  type RecCandidate,
  type RerankOptions,
} from '../../recs/rerank';
import { defineStrategy, type Catalog, type StrategyPlugin } from '../strategy';

export const PRODUCT_RECS = 'product-recs';

/** A push is worth this long after its trigger. */
const VALID_MS = 24 * 3_600_000;
/** Popular products read per first category for cold start. */
const COLD_POPULAR = 50;
/** Separates the named products in a candidate's title. */
const SEP = ' · ';

const TriggerData = z.object({ version: z.string().optional() });

/** The trigger the trainer sends for a user whose picks changed in a new version. */
export function productRecsTrigger(userId: string, version: string, at: number): Trigger {
  return {
    strategy: PRODUCT_RECS,
    triggerId: stableId('pr', version, userId),
    at,
    userId,
    data: { version },
  };
}

export interface ProductRecsOptions {
  /** Products named per push. Default 3. */
  perPush: number;
  rerank: RerankOptions;
  /** A product named in a push is not named again to the user for this long. */
  cooldownMs: number;
  /** A purchase older than this (by its own time) triggers nothing. */
  maxAgeMs: number;
}

/** The user's candidates (trained, or cold start) and whether they are cold. */
async function candidatesOf(
  products: NonNullable<Catalog['products']>,
  version: string | null,
  userId: string,
  history: ReadonlyArray<{ productId: string }>,
): Promise<{ candidates: RecCandidate[]; cold: boolean }> {
  const row = version ? await products.userRecs(version, userId) : undefined;
  if (row) return { candidates: row.c.map(([id, als, cf, pop]) => ({ id, als, cf, pop })), cold: false };
  const first = history[0]?.productId;
  const firstProducts = [...new Set(history.map((h) => h.productId))].slice(0, 5);
  const known = await products.getProducts(firstProducts);
  const categories = [...new Set(firstProducts.flatMap((id) => known.get(id)?.category ?? []))].slice(0, 2);
  const neighbours = version && first ? ((await products.items(version, [first])).get(first)?.n ?? []) : [];
  const popular: Array<[string, number]> = [];
  for (const c of categories.length > 0 ? categories : ['*']) {
    popular.push(
      ...(version ? await products.popular(version, c) : await products.livePopular(c, COLD_POPULAR)),
    );
  }
  return { candidates: coldStartCandidates(neighbours, popular), cold: true };
}

export function createProductRecs(opts: ProductRecsOptions): StrategyPlugin {
  return {
    name: PRODUCT_RECS,
    events: {
      topics: ['purchases'],
      trigger(e, { now }) {
        if (e.topic !== 'purchases' || lineItems(e.event).length === 0) return null;
        if (Date.parse(e.event.at) < now - opts.maxAgeMs) return null;
        return {
          strategy: PRODUCT_RECS,
          triggerId: stableId('pr', e.event.eventId),
          at: Date.parse(e.event.at),
          userId: e.event.userId,
          data: {},
        };
      },
    },
    async target(trigger, catalog) {
      if (!trigger.userId || !TriggerData.safeParse(trigger.data).success)
        throw new SchemaError(`trigger ${trigger.triggerId}`, 'product-recs trigger needs userId');
      const products = catalog.products;
      if (!products) return null;
      const userId = trigger.userId;
      const [version, lines] = await Promise.all([products.current(), products.history(userId)]);
      const { candidates, cold } = await candidatesOf(products, version, userId, lines);
      if (candidates.length === 0) return null;
      const ids = candidates.map((c) => c.id);
      const [known, trained] = await Promise.all([
        products.getProducts(ids),
        version ? products.items(version, ids) : Promise.resolve(new Map<string, { c?: number }>()),
      ]);
      const ranked = rerank(
        candidates,
        {
          now: trigger.at,
          cold,
          history: lines.map((l) => ({ id: l.productId, qty: l.quantity, price: l.unitPrice, at: l.at })),
          facts: (id) => {
            const p = known.get(id);
            const cycleDays = trained.get(id)?.c;
            return p && { available: p.available, price: p.price, ...(cycleDays ? { cycleDays } : {}) };
          },
        },
        opts.rerank,
      );
      // Products pushed lately are claimed by another trigger: take the next ones, a few rounds at most.
      const picked: string[] = [];
      let next = 0;
      for (let round = 0; round < 3 && picked.length < opts.perPush && next < ranked.length; round++) {
        const want = ranked.slice(next, next + opts.perPush - picked.length).map((r) => r.id);
        next += want.length;
        const free = catalog.claimCooldowns
          ? await catalog.claimCooldowns(PRODUCT_RECS, userId, want, trigger.triggerId, opts.cooldownMs)
          : want;
        picked.push(...want.filter((id) => free.includes(id)));
      }
      const top = picked[0] !== undefined ? known.get(picked[0]) : undefined;
      if (!top) return null;
      const best = ranked.find((r) => r.id === top.productId)!;
      const candidate: Candidate = {
        id: top.productId,
        kind: 'product',
        category: top.category,
        title: picked
          .map((id) => known.get(id)!.title.replaceAll(SEP, ' '))
          .join(SEP)
          .slice(0, 200),
        discount: top.discount,
        affinity: Math.min(1, best.score),
        deepLink: `herald://products/${picked.join(',')}`,
        deadline: trigger.at + VALID_MS,
      };
      return {
        strategy: PRODUCT_RECS,
        targetId: trigger.triggerId,
        at: trigger.at,
        audience: { kind: 'user', userId },
        candidates: [candidate],
      };
    },
    features: (c) => ({ affinity: c.affinity }),
    render(c) {
      const [first, ...rest] = c.title.split(SEP);
      const deal = c.discount > 0 ? ` ${Math.round(c.discount)}% off today.` : '';
      return {
        title: `Picked for you: ${first}`,
        body: rest.length > 0 ? `Also for you: ${rest.join(', ')}.${deal}` : `Back in your basket?${deal}`,
        deepLink: c.deepLink ?? `herald://products/${c.id}`,
      };
    },
  };
}

const num = (min: number, max: number) => z.coerce.number().min(min).max(max);
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** `a,b,c` as blend weights of ALS, item-CF and popularity. */
const Blend = z
  .string()
  .regex(/^\s*[\d.]+\s*,\s*[\d.]+\s*,\s*[\d.]+\s*$/, 'three weights: ALS,item-CF,popularity')
  .transform((s) => {
    const [als, cf, pop] = s.split(',').map(Number) as [number, number, number];
    return { als, cf, pop };
  });

export const productRecs = defineStrategy({
  name: PRODUCT_RECS,
  config: {
    /** Products named per push. Default 3. */
    PRODUCT_RECS_PER_PUSH: int(1, 10).default(3),
    /** Weights of ALS, item-CF and popularity in the blend (training and re-ranking). Default 0.4,0.4,0.2. */
    PRODUCT_RECS_BLEND: Blend.default(DEFAULT_RERANK.blend),
    /** Boost of a product due again (its repurchase cycle passed). Default 0.15. */
    PRODUCT_RECS_DUE_BOOST: num(0, 10).default(DEFAULT_RERANK.dueBoost),
    /** Share of its cycle within which a product bought is skipped. Default 0.5. */
    PRODUCT_RECS_SKIP_WITHIN: num(0, 1).default(DEFAULT_RERANK.skipWithin),
    /** Ratio to the user's average item price above which a product is penalised. Default 1.5. */
    PRODUCT_RECS_PRICE_SOFT: num(1, 100).default(DEFAULT_RERANK.priceSoftAbove),
    /** The price ratio is capped here when penalising. Default 2.0. */
    PRODUCT_RECS_PRICE_CAP: num(1, 100).default(DEFAULT_RERANK.priceCap),
    /** Upsell slope for products a bit dearer than the user's average. Default 0.1. */
    PRODUCT_RECS_UPSELL: num(0, 10).default(DEFAULT_RERANK.upsell),
    /** A product named in a push is not named to the user again for this many days. Default 7. */
    PRODUCT_RECS_COOLDOWN_DAYS: num(0, 365).default(7),
    /** A purchase older than this (by its own time) triggers no real-time push. Default 60. */
    PRODUCT_RECS_MAX_AGE_MINUTES: num(1, 7 * 24 * 60).default(60),

    // ---- training (services/recs/train.ts; `npm run recs:train`, or the scheduler on the cron)
    /** Cron of the training, run by the scheduler on Herald's clock; empty: by hand only. Default empty. */
    PRODUCT_RECS_TRAIN_CRON: z.string().default(''),
    /** Time zone of PRODUCT_RECS_TRAIN_CRON. Default UTC. */
    PRODUCT_RECS_TRAIN_TZ: TimeZone.default('UTC'),
    /** Days of purchases the training reads. Default 180. */
    PRODUCT_RECS_HISTORY_DAYS: num(1, 3650).default(180),
    /** Candidates kept per user in a version. Default 20. */
    PRODUCT_RECS_CANDIDATES: int(1, 200).default(20),
    /** Candidates taken from each source before the blend. Default 50. */
    PRODUCT_RECS_SOURCE_TOP: int(1, 1000).default(50),
    /** ALS: latent factors. Default 16. */
    PRODUCT_RECS_ALS_RANK: int(1, 500).default(16),
    /** ALS: iterations. Default 10. */
    PRODUCT_RECS_ALS_ITERATIONS: int(1, 100).default(10),
    /** ALS: regularisation. Default 0.1. */
    PRODUCT_RECS_ALS_REG: num(0, 100).default(0.1),
    /** ALS: confidence slope on implicit strengths. Default 10. */
    PRODUCT_RECS_ALS_ALPHA: num(0, 10_000).default(10),
    /** Heap of the local Spark JVM, MB. Default 4096. */
    PRODUCT_RECS_SPARK_HEAP_MB: int(512, 1_000_000).default(4096),
    /** Where the trainer keeps its exports and Spark's output. Default out/recs. */
    PRODUCT_RECS_DIR: z.string().min(1).default('out/recs'),
    /** Send a product-recs trigger to each user whose top picks changed with a new version. Default true. */
    PRODUCT_RECS_PUSH_ON_CHANGE: z
      .enum(['true', 'false'])
      .default('true')
      .transform((s) => s === 'true'),
  },
  create: (c) =>
    createProductRecs({
      perPush: c.PRODUCT_RECS_PER_PUSH,
      rerank: {
        blend: c.PRODUCT_RECS_BLEND,
        dueBoost: c.PRODUCT_RECS_DUE_BOOST,
        skipWithin: c.PRODUCT_RECS_SKIP_WITHIN,
        priceSoftAbove: c.PRODUCT_RECS_PRICE_SOFT,
        priceCap: c.PRODUCT_RECS_PRICE_CAP,
        upsell: c.PRODUCT_RECS_UPSELL,
      },
      cooldownMs: c.PRODUCT_RECS_COOLDOWN_DAYS * 86_400_000,
      maxAgeMs: c.PRODUCT_RECS_MAX_AGE_MINUTES * 60_000,
    }),
});
