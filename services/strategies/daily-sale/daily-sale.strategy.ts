/**
 * Daily sale (batch): once a day, the baseline policy sends everyone the day's most-clicked sale (ties go
 * to the larger discount). Later policies pick per user; this one is the yardstick.
 */
import { DateTime } from 'luxon';
import { z } from 'zod';
import { SchemaError } from '../../../shared/errors';
import type { Trigger } from '../../../shared/schemas/jobs.schema';
import type { StrategyPlugin } from '../strategy';

export const DAILY_SALE = 'daily-sale';

const TriggerData = z.object({ day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/) });

/** The campaign of the day that contains `at` in `tz`; the same day gives the same trigger id. */
export function dailySaleTrigger(at: number, tz: string): Trigger {
  const day = DateTime.fromMillis(at, { zone: tz }).toISODate()!;
  return { strategy: DAILY_SALE, triggerId: `ds-${day}`, at, data: { day } };
}

export function createDailySale(): StrategyPlugin {
  return {
    name: DAILY_SALE,
    async target(trigger, catalog) {
      const data = TriggerData.safeParse(trigger.data);
      if (!data.success) throw new SchemaError(`trigger ${trigger.triggerId}`, 'daily-sale trigger needs data.day');
      const sales = await catalog.activeSales(trigger.at, data.data.day);
      const best = sales.sort(
        (a, b) => b.clicks - a.clicks || b.discount - a.discount || a.saleId.localeCompare(b.saleId),
      )[0];
      if (!best) return null;
      return {
        strategy: DAILY_SALE,
        targetId: trigger.triggerId,
        at: trigger.at,
        audience: { kind: 'all', after: '', page: 0 },
        candidates: [
          {
            id: best.saleId,
            kind: 'sale',
            category: best.category,
            title: best.title,
            discount: best.discount,
            affinity: 0,
            deepLink: best.deepLink,
            deadline: best.validTo,
          },
        ],
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
