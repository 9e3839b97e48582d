/**
 * Daily sale (batch): once a day, the baseline policy sends everyone the day's most-clicked sale (ties go
 * to the larger discount). Later policies pick per user; this one is the yardstick.
 */
import { DateTime } from 'luxon';
import { z } from 'zod';
import { SchemaError } from '../../../shared/errors';
import type { Candidate, Trigger } from '../../../shared/schemas/jobs.schema';
import type { SaleState } from '../../state/state-store';
import type { StrategyPlugin } from '../strategy';

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

export function createDailySale(
  opts: { policy: DailySalePolicy; maxCandidates: number } = { policy: 'baseline', maxCandidates: 1 },
): StrategyPlugin {
  return {
    name: DAILY_SALE,
    async target(trigger, catalog) {
      const data = TriggerData.safeParse(trigger.data);
      if (!data.success)
        throw new SchemaError(`trigger ${trigger.triggerId}`, 'daily-sale trigger needs data.day');
      const candidates = dailySaleCandidates(
        await catalog.activeSales(trigger.at, data.data.day),
        opts.policy,
        opts.maxCandidates,
      );
      if (candidates.length === 0) return null;
      return {
        strategy: DAILY_SALE,
        targetId: trigger.triggerId,
        at: trigger.at,
        audience: { kind: 'all', after: '', page: 0 },
        candidates,
      };
    },
    render(c) {
      return {
        title: c.discount > 0 ? `${Math.round(c.discount)}% off: ${c.title}` : c.title,
        body: `Today's sale in ${c.category.replace(/_/g, ' ')}. Tap to see it before it ends.`,
        deepLink: c.deepLink ?? `herald://sale/${c.id}`,
      };
    },
  };
}
