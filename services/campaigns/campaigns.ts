/**
 * Campaigns: the daily sale starts on a cron in a configured time zone (a BullMQ job scheduler). Each tick
 * becomes the day's trigger with id `ds-<day>`, so a second tick on the same day adds nothing.
 */
import type { Queue } from 'bullmq';
import type { Clock } from '../../shared/clock';
import { stableId } from '../../shared/ids';
import { BULK_PRIORITY, enqueue, type Queues } from '../../shared/queue';
import { DAILY_SALE, dailySaleTrigger } from '../strategies/daily-sale/daily-sale.strategy';

export async function scheduleDailySale(campaigns: Queue, cron: string, tz: string): Promise<void> {
  await campaigns.upsertJobScheduler(
    DAILY_SALE,
    { pattern: cron, tz },
    { name: DAILY_SALE, data: { campaign: DAILY_SALE, tz } },
  );
}

/** Starts the daily-sale campaign of the day that holds `clock.now()` in `tz`. Returns its trigger id. */
export async function startDailySale(queues: Queues, clock: Clock, tz: string): Promise<string> {
  const trigger = dailySaleTrigger(clock.now(), tz);
  await enqueue(queues, [
    {
      queue: 'target',
      id: stableId('target', trigger.triggerId),
      payload: { triggers: [trigger] },
      priority: BULK_PRIORITY,
    },
  ]);
  return trigger.triggerId;
}
