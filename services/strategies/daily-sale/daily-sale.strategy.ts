/**
 * Daily sale (batch): once a day, on its cron, every user gets one of the day's sales. The policy decides
 * which: `baseline` (the day's most-clicked sale to everyone, the yardstick), `segments` (the most-clicked
 * sale of each user's dominant category), or `personal` (the default: each user the best of the day's top
 * sales for their purchase mix, picked by the score stage).
 */
import { DateTime } from 'luxon';
import { z } from 'zod';
import { NotReadyError, SchemaError } from '../../../shared/errors';
import { TimeZone } from '../../../shared/schemas/common';
import type { Candidate, Trigger } from '../../../shared/schemas/jobs.schema';
import type { SaleState, UserState } from '../../state';
import { defineStrategy, type StrategyPlugin } from '../strategy';

export const DAILY_SALE = 'daily-sale';

const TriggerData = z.object({ day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/) });

/** The campaign of the day that contains `at` in `tz`; the same day gives the same trigger id. */
export function dailySaleTrigger(at: number, tz: string): Trigger {
  const day = DateTime.fromMillis(at, { zone: tz }).toISODate()!;
  return { strategy: DAILY_SALE, triggerId: `ds-${day}`, at, data: { day } };
}

export type DailySalePolicy = 'baseline' | 'segments' | 'personal';

type RankedSale = SaleState & { clicks: number };

/** Most clicked first; ties go to the larger discount, then the id. */
const byPopularity = (a: RankedSale, b: RankedSale) =>
  b.clicks - a.clicks || b.discount - a.discount || a.saleId.localeCompare(b.saleId);

function candidateOf(s: RankedSale, segment?: string): Candidate {
  return {
    id: s.saleId,
    kind: 'sale',
    category: s.category,
    title: s.title,
    discount: s.discount,
    affinity: 0,
    deepLink: s.deepLink,
    deadline: s.validTo,
    ...(segment ? { segment } : {}),
  };
}

/**
 * The candidates a policy offers every user; the score stage picks per user among them.
 * - baseline: the day's most-clicked sale, for everyone (v1.0).
 * - segments: the most-clicked sale of each category, for the users whose dominant category it is, and the
 *   day's most-clicked sale (segment '*') for everyone else (v1.1).
 * - personal: the day's `maxCandidates` most popular sales; each user gets the one that fits their mix best.
 */
export function dailySaleCandidates(
  sales: readonly RankedSale[],
  policy: DailySalePolicy,
  maxCandidates: number,
): Candidate[] {
  const ranked = [...sales].sort(byPopularity);
  const top = ranked[0];
  if (!top) return [];
  if (policy === 'baseline') return [candidateOf(top)];
  if (policy === 'personal') return ranked.slice(0, maxCandidates).map((s) => candidateOf(s));
  const bestOfCategory = new Map<string, RankedSale>();
  for (const s of ranked) if (!bestOfCategory.has(s.category)) bestOfCategory.set(s.category, s);
  // A sale that heads its category and the day stands for both; the '*' copy serves the users outside.
  return [...[...bestOfCategory].map(([category, s]) => candidateOf(s, category)), candidateOf(top, '*')];
}

/** The category the user buys most in, if any (ties go to the first in name order). */
export function mostBoughtCategory(
  categories: Readonly<Record<string, number>> | undefined,
): string | undefined {
  let best: string | undefined;
  let n = 0;
  for (const [c, k] of Object.entries(categories ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    if (k > n) [best, n] = [c, k];
  }
  return best;
}

/**
 * How well a sale fits a user. A segment candidate is 1 for the users of its segment, 0.5 for the
 * catch-all ('*') and 0 otherwise, so each user lands in their segment or the catch-all. Any other sale is
 * the share of the user's purchases in its category.
 */
export function saleAffinity(candidate: Candidate, user: UserState): number {
  if (candidate.segment !== undefined) {
    if (candidate.segment === '*') return 0.5;
    return candidate.segment === mostBoughtCategory(user.categories) ? 1 : 0;
  }
  const counts = Object.values(user.categories ?? {});
  const total = counts.reduce((a, b) => a + b, 0);
  return total > 0 ? (user.categories?.[candidate.category] ?? 0) / total : 0;
}

/** saleAffinity of each candidate for one user, with the user's total and top category read once. */
export function saleAffinities(candidates: readonly Candidate[], user: UserState, out: Float64Array): void {
  let total: number | undefined;
  let top: string | undefined;
  let topRead = false;
  for (let k = 0; k < candidates.length; k++) {
    const c = candidates[k] as Candidate;
    if (c.segment !== undefined) {
      if (c.segment === '*') out[k] = 0.5;
      else {
        if (!topRead) {
          top = mostBoughtCategory(user.categories);
          topRead = true;
        }
        out[k] = c.segment === top ? 1 : 0;
      }
      continue;
    }
    total ??= Object.values(user.categories ?? {}).reduce((a, b) => a + b, 0);
    out[k] = total > 0 ? (user.categories?.[c.category] ?? 0) / total : 0;
  }
}

export interface DailySaleOptions {
  policy: DailySalePolicy;
  /** Sales offered to the score stage per user under the personal policy. */
  maxCandidates: number;
  /** The campaign's cron and its zone. */
  cron?: string;
  tz?: string;
}

export function createDailySale(
  opts: DailySaleOptions = { policy: 'baseline', maxCandidates: 1 },
): StrategyPlugin {
  return {
    name: DAILY_SALE,
    schedule: { cron: opts.cron ?? '0 9 * * *', tz: opts.tz ?? 'UTC', trigger: dailySaleTrigger },
    async target(trigger, catalog) {
      const data = TriggerData.safeParse(trigger.data);
      if (!data.success)
        throw new SchemaError(`trigger ${trigger.triggerId}`, 'daily-sale trigger needs data.day');
      const candidates = dailySaleCandidates(
        await catalog.activeSales(trigger.at, data.data.day),
        opts.policy,
        opts.maxCandidates,
      );
      // The day's sales may not be ingested yet when the tick fires: retry (with backoff) instead of
      // spending the day's campaign on nothing.
      if (candidates.length === 0)
        throw new NotReadyError(`daily sale ${data.data.day}: no sale is valid yet`);
      return {
        strategy: DAILY_SALE,
        targetId: trigger.triggerId,
        at: trigger.at,
        audience: { kind: 'all', after: '', page: 0 },
        candidates,
      };
    },
    usesCategories: true,
    features: (c, user) => ({ affinity: saleAffinity(c, user) }),
    affinities: saleAffinities,
    render(c) {
      return {
        title: c.discount > 0 ? `${Math.round(c.discount)}% off: ${c.title}` : c.title,
        body: `Today's sale in ${c.category.replace(/_/g, ' ')}. Tap to see it before it ends.`,
        deepLink: c.deepLink ?? `herald://sale/${c.id}`,
      };
    },
  };
}

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const dailySale = defineStrategy({
  name: DAILY_SALE,
  config: {
    /**
     * How the daily sale picks: `baseline` (the day's most-clicked sale to everyone), `segments` (the
     * most-clicked sale of each user's dominant category), `personal` (the best of the day's top sales for
     * each user by the score stage, from the user's purchase mix). Default personal.
     */
    DAILY_SALE_POLICY: z.enum(['baseline', 'segments', 'personal']).default('personal'),
    /** Sales offered to the score stage per user under the personal policy. Default 20. */
    DAILY_SALE_CANDIDATES: int(1, 200).default(20),
    /** Cron of the daily-sale campaign, run by the scheduler on Herald's clock. Default 0 9 * * * (09:00). */
    DAILY_SALE_CRON: z.string().min(9).default('0 9 * * *'),
    /** Time zone of DAILY_SALE_CRON. Default UTC. */
    DAILY_SALE_TZ: TimeZone.default('UTC'),
  },
  create: (c) =>
    createDailySale({
      policy: c.DAILY_SALE_POLICY,
      maxCandidates: c.DAILY_SALE_CANDIDATES,
      cron: c.DAILY_SALE_CRON,
      tz: c.DAILY_SALE_TZ,
    }),
});
