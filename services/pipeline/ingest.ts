/**
 * Ingest: folds validated events into state and turns purchases into market-basket triggers. The triggers
 * of a Kafka batch travel as one target job whose id derives from their event ids, so a redelivered batch
 * adds nothing new; a purchase that comes twice in different batches gives the same trigger id, and the
 * contact ledger keeps its push single.
 */
import type { Consumed } from '../../shared/kafka/consumer';
import { chunk, stableId } from '../../shared/ids';
import type { Outgoing } from '../../shared/queue';
import type { Trigger } from '../../shared/schemas/jobs.schema';
import type { IngestTopic } from '../../shared/topics';
import type {
  Browse,
  LocationPing,
  Profile,
  Purchase,
  Sale,
  Store,
} from '../../shared/schemas/events.schema';
import { marketBasketTrigger } from '../strategies/market-basket/market-basket.strategy';
import type { StateStore } from '../state/state-store';

export interface IngestPlan {
  fold: {
    profiles: Profile[];
    stores: Store[];
    sales: Sale[];
    purchases: Purchase[];
    locations: LocationPing[];
    browse: Browse[];
  };
  triggers: Trigger[];
}

/**
 * `marketBasket`: whether to trigger at all; `freshAfter`: purchases before this instant are history (a
 * replay, a late batch), folded into state but too old for a real-time suggestion.
 */
export function planIngest(
  events: ReadonlyArray<Consumed<IngestTopic>>,
  opts: { marketBasket: boolean; freshAfter: number } = { marketBasket: true, freshAfter: -Infinity },
): IngestPlan {
  const fold: IngestPlan['fold'] = {
    profiles: [],
    stores: [],
    sales: [],
    purchases: [],
    locations: [],
    browse: [],
  };
  for (const c of events) {
    switch (c.topic) {
      case 'profiles':
        fold.profiles.push(c.event as Profile);
        break;
      case 'stores':
        fold.stores.push(c.event as Store);
        break;
      case 'sales':
        fold.sales.push(c.event as Sale);
        break;
      case 'purchases':
        fold.purchases.push(c.event as Purchase);
        break;
      case 'locations':
        fold.locations.push(c.event as LocationPing);
        break;
      case 'browse':
        fold.browse.push(c.event as Browse);
        break;
    }
  }
  // Fold in event time order so the latest location or profile wins within a batch.
  for (const list of Object.values(fold)) list.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  const fresh = fold.purchases.filter((p) => Date.parse(p.at) >= opts.freshAfter);
  return { fold, triggers: opts.marketBasket ? fresh.map(marketBasketTrigger) : [] };
}

export function createIngest(deps: {
  store: StateStore;
  batchSize: number;
  marketBasket: boolean;
  /** Purchases older than this trigger nothing. */
  maxTriggerAgeMs: number;
  now: () => number;
}) {
  return async function ingest(events: ReadonlyArray<Consumed<IngestTopic>>): Promise<Outgoing[]> {
    const plan = planIngest(events, {
      marketBasket: deps.marketBasket,
      freshAfter: deps.now() - deps.maxTriggerAgeMs,
    });
    await deps.store.fold(plan.fold);
    await deps.store.countCategories(plan.fold.purchases);
    await deps.store.markSeen(
      events.map((e) => `${e.topic}-${eventIdOf(e)}`),
      (i) => `in:${events[i]!.topic}`,
    );
    return chunk(plan.triggers, deps.batchSize).map((triggers) => ({
      queue: 'target' as const,
      id: stableId('target', ...triggers.map((t) => t.triggerId)),
      payload: { triggers },
    }));
  };
}

function eventIdOf(c: Consumed<IngestTopic>): string {
  return (c.event as { eventId: string }).eventId;
}
