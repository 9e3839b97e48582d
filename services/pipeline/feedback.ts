/**
 * Feedback: folds deliveries, opens, clicks and conversions into per-user engagement, per-strategy
 * counters, and the day's clicks per sale (which the daily-sale baseline ranks by). Each event counts once.
 */
import { DateTime } from 'luxon';
import { TTL } from '../../shared/keys';
import type { Feedback } from '../../shared/schemas/events.schema';
import type { StateStore } from '../state/state-store';

export function createFeedback(deps: { store: Pick<StateStore, 'redis' | 'keys'> }) {
  const { redis, keys } = deps.store;
  return async function fold(events: readonly Feedback[]): Promise<number> {
    const p = redis.pipeline();
    for (const e of events) {
      const day = DateTime.fromISO(e.at, { zone: 'utc' }).toISODate()!;
      p.foldFeedback(
        keys.seen(`fb-${e.eventId}`),
        keys.engagement(e.userId),
        keys.strategyStats,
        keys.saleClicks(day),
        TTL.seen,
        e.type,
        `${e.strategy}:${e.type}`,
        e.candidateId ?? '',
        TTL.engagement,
        TTL.saleClicks,
      );
    }
    const res = (await p.exec()) ?? [];
    let folded = 0;
    for (const [err, v] of res) {
      if (err) throw err;
      folded += v === 1 ? 1 : 0;
    }
    return folded;
  };
}
