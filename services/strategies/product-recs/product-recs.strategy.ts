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
import type { Candidate, Target, Trigger } from '../../../shared/schemas/jobs.schema';
import type { ItemRow, RecsRow } from '../../state';
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

/** Claims in order: in one call when the catalog can, else one call each; each claim's free ids. */
async function claimAll(
  catalog: Catalog,
  claims: ReadonlyArray<{ userId: string; ids: string[]; token: string }>,
  cooldownMs: number,
): Promise<string[][]> {
  if (catalog.claimCooldownsMany) return catalog.claimCooldownsMany(PRODUCT_RECS, claims, cooldownMs);
  const out: string[][] = [];
  for (const c of claims) {
    out.push(
      catalog.claimCooldowns
        ? await catalog.claimCooldowns(PRODUCT_RECS, c.userId, c.ids, c.token, cooldownMs)
        : c.ids,
    );
  }
  return out;
}

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

type Products = NonNullable<Catalog['products']>;

/** Several users' line items: one round trip when the store can, else one read each, all at once. */
function historiesOf(products: Products, userIds: readonly string[]) {
  return products.histories
    ? products.histories(userIds)
    : Promise.all(userIds.map((u) => products.history(u)));
}

/** Several users' trained rows in `version`, the same way. */
function rowsOf(products: Products, version: string, userIds: readonly string[]) {
  return products.usersRecs
    ? products.usersRecs(version, userIds)
    : Promise.all(userIds.map((u) => products.userRecs(version, u)));
}

/** The distinct products of a history, first bought first: the first five name a new user's categories. */
const firstProducts = (history: ReadonlyArray<{ productId: string }>) =>
  [...new Set(history.map((h) => h.productId))].slice(0, 5);

/**
 * Each user's candidates (trained, or cold start) and whether they are cold, for a batch of users: the
 * reads of all the cold ones are shared (their first products, those products' neighbours, the popular
 * products of their categories).
 */
async function candidatesOf(
  products: Products,
  version: string | null,
  rows: ReadonlyArray<RecsRow | undefined>,
  histories: ReadonlyArray<ReadonlyArray<{ productId: string }>>,
): Promise<Array<{ candidates: RecCandidate[]; cold: boolean }>> {
  const coldOnes = histories.flatMap((h, i) => (rows[i] ? [] : [h]));
  const firsts = [...new Set(coldOnes.flatMap((h) => h[0]?.productId ?? []))];
  const [known, neighbours] = await Promise.all([
    products.getProducts([...new Set(coldOnes.flatMap(firstProducts))]),
    version && firsts.length > 0
      ? products.items(version, firsts)
      : Promise.resolve(new Map<string, ItemRow>()),
  ]);
  const categoriesOf = (h: ReadonlyArray<{ productId: string }>) => {
    const cs = [...new Set(firstProducts(h).flatMap((id) => known.get(id)?.category ?? []))].slice(0, 2);
    return cs.length > 0 ? cs : ['*'];
  };
  const categories = [...new Set(coldOnes.flatMap(categoriesOf))];
  const popular = new Map(
    await Promise.all(
      categories.map(
        async (c) =>
          [
            c,
            version ? await products.popular(version, c) : await products.livePopular(c, COLD_POPULAR),
          ] as const,
      ),
    ),
  );
  return histories.map((h, i) => {
    const row = rows[i];
    if (row) return { candidates: row.c.map(([id, als, cf, pop]) => ({ id, als, cf, pop })), cold: false };
    const first = h[0]?.productId;
    const fromPopular = categoriesOf(h).flatMap((c) => popular.get(c) ?? []);
    return {
      candidates: coldStartCandidates((first && neighbours.get(first)?.n) || [], fromPopular),
      cold: true,
    };
  });
}

/** Splits triggers into waves in which a user appears once, keeping their order (see targetBatch). */
function waves<T extends { userId?: string | undefined }>(triggers: readonly T[]): Array<Array<[number, T]>> {
  const out: Array<Array<[number, T]>> = [];
  const seen = new Map<string, number>();
  triggers.forEach((t, i) => {
    const w = seen.get(t.userId ?? '') ?? 0;
    seen.set(t.userId ?? '', w + 1);
    (out[w] ??= []).push([i, t]);
  });
  return out;
}

export function createProductRecs(opts: ProductRecsOptions): StrategyPlugin {
  /**
   * The targets of a batch of triggers, in their order. A user's second trigger in the batch goes in a
   * later wave, after their first has claimed its products, so the outcome is that of one trigger after
   * another; within a wave users are distinct and their reads and claims touch nothing of each other.
   */
  async function targetMany(triggers: readonly Trigger[], catalog: Catalog): Promise<Array<Target | null>> {
    for (const t of triggers) {
      if (!t.userId || !TriggerData.safeParse(t.data).success)
        throw new SchemaError(`trigger ${t.triggerId}`, 'product-recs trigger needs userId');
    }
    const out: Array<Target | null> = triggers.map(() => null);
    const products = catalog.products;
    if (!products) return out;
    for (const wave of waves(triggers)) {
      const got = await targetBatch(
        wave.map(([, t]) => t),
        products,
        catalog,
      );
      wave.forEach(([i], j) => (out[i] = got[j] ?? null));
    }
    return out;
  }

  /** Targets of triggers of distinct users: every read and each claim round is one batch for all of them. */
  async function targetBatch(
    triggers: readonly Trigger[],
    products: Products,
    catalog: Catalog,
  ): Promise<Array<Target | null>> {
    const userIds = triggers.map((t) => t.userId!);
    const [version, lines] = await Promise.all([products.current(), historiesOf(products, userIds)]);
    const rows = version ? await rowsOf(products, version, userIds) : userIds.map(() => undefined);
    const users = await candidatesOf(products, version, rows, lines);
    // With an own weight, re-ranking also weighs the user's own products: their facts are read too.
    const ids = [
      ...new Set([
        ...users.flatMap((u) => u.candidates.map((c) => c.id)),
        ...(opts.rerank.ownWeight > 0 ? lines.flatMap((l) => l.map((x) => x.productId)) : []),
      ]),
    ];
    const [known, trained] = await Promise.all([
      products.getProducts(ids),
      version ? products.items(version, ids) : Promise.resolve(new Map<string, ItemRow>()),
    ]);
    const ranked = triggers.map((trigger, i) =>
      users[i]!.candidates.length === 0 && (opts.rerank.ownWeight === 0 || lines[i]!.length === 0)
        ? []
        : rerank(
            users[i]!.candidates,
            {
              now: trigger.at,
              cold: users[i]!.cold,
              history: lines[i]!.map((l) => ({
                id: l.productId,
                qty: l.quantity,
                price: l.unitPrice,
                at: l.at,
              })),
              facts: (id) => {
                const p = known.get(id);
                const cycleDays = trained.get(id)?.c;
                return p && { available: p.available, price: p.price, ...(cycleDays ? { cycleDays } : {}) };
              },
            },
            opts.rerank,
          ),
    );
    // Products pushed lately are claimed by another trigger: take the next ones, a few rounds at most.
    const picked: string[][] = triggers.map(() => []);
    const next: number[] = triggers.map(() => 0);
    for (let round = 0; round < 3; round++) {
      const claims = triggers.flatMap((trigger, i) => {
        if (picked[i]!.length >= opts.perPush || next[i]! >= ranked[i]!.length) return [];
        const want = ranked[i]!.slice(next[i], next[i]! + opts.perPush - picked[i]!.length).map((r) => r.id);
        next[i]! += want.length;
        return [{ i, userId: userIds[i]!, ids: want, token: trigger.triggerId }];
      });
      if (claims.length === 0) break;
      const free = await claimAll(catalog, claims, opts.cooldownMs);
      claims.forEach((c, j) => picked[c.i]!.push(...c.ids.filter((id) => free[j]!.includes(id))));
    }
    return triggers.map((trigger, i) => {
      const ids = picked[i]!;
      const top = ids[0] !== undefined ? known.get(ids[0]) : undefined;
      if (!top) return null;
      const best = ranked[i]!.find((r) => r.id === top.productId)!;
      const candidate: Candidate = {
        id: top.productId,
        kind: 'product',
        category: top.category,
        title: ids
          .map((id) => known.get(id)!.title.replaceAll(SEP, ' '))
          .join(SEP)
          .slice(0, 200),
        discount: top.discount,
        affinity: Math.min(1, best.score),
        deepLink: `herald://products/${ids.join(',')}`,
        deadline: trigger.at + VALID_MS,
      };
      return {
        strategy: PRODUCT_RECS,
        targetId: trigger.triggerId,
        at: trigger.at,
        audience: { kind: 'user', userId: userIds[i]! },
        candidates: [candidate],
      };
    });
  }

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
      return (await targetMany([trigger], catalog))[0] ?? null;
    },
    targetMany,
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
    /**
     * Weight of the chance that the user buys one of their own products again within
     * PRODUCT_RECS_HORIZON_DAYS, against the blend (`npm run offline -- recs` learns it from a history).
     * Default 0 (the blend only).
     */
    PRODUCT_RECS_OWN_WEIGHT: num(0, 1).default(DEFAULT_RERANK.ownWeight),
    /** Horizon of that chance, days. Default 7. */
    PRODUCT_RECS_HORIZON_DAYS: num(0.01, 365).default(DEFAULT_RERANK.horizonDays),
    /** Prior chance that a product with a cycle bought once is bought again. Default 0.3. */
    PRODUCT_RECS_REPEAT_PRIOR: num(0, 1).default(DEFAULT_RERANK.repeatPrior),
    /** Log-normal spread of the gap between purchases of a product around its cycle. Default 0.5. */
    PRODUCT_RECS_CYCLE_SPREAD: num(0.01, 5).default(DEFAULT_RERANK.cycleSpread),
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
        ownWeight: c.PRODUCT_RECS_OWN_WEIGHT,
        horizonDays: c.PRODUCT_RECS_HORIZON_DAYS,
        repeatPrior: c.PRODUCT_RECS_REPEAT_PRIOR,
        cycleSpread: c.PRODUCT_RECS_CYCLE_SPREAD,
      },
      cooldownMs: c.PRODUCT_RECS_COOLDOWN_DAYS * 86_400_000,
      maxAgeMs: c.PRODUCT_RECS_MAX_AGE_MINUTES * 60_000,
    }),
});
