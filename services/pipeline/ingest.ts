/**
 * Ingest: folds validated events into state and asks each strategy that listens to an event's topic for its
 * trigger. The triggers of a Kafka batch travel as target jobs whose ids derive from their trigger ids, so a
 * redelivered batch adds nothing new; an event that comes twice in different batches gives the same trigger
 * id, and the contact ledger keeps its push single.
 */
import { DateTime } from 'luxon';
import type { Consumed } from '../../shared/kafka/consumer';
import { chunk, stableId } from '../../shared/ids';
import type { Outgoing } from '../../shared/queue-factory';
import type { Trigger } from '../../shared/schemas/jobs.schema';
import type { IngestTopic } from '../../shared/topics';
import type {
  Browse,
  LocationPing,
  Product,
  Profile,
  Purchase,
  Sale,
  Store,
} from '../../shared/schemas/events.schema';
import type { IngestEvent, StrategyPlugin } from '../strategies';
import type { State } from '../state';
import {
  DEFAULT_ENGAGEMENT,
  activityEvidence,
  type Activity,
  type EvidenceWeights,
} from '../timing/engagement';

export interface IngestPlan {
  fold: {
    profiles: Profile[];
    stores: Store[];
    sales: Sale[];
    purchases: Purchase[];
    locations: LocationPing[];
    browse: Browse[];
    products: Product[];
  };
  triggers: Trigger[];
}

/** Pure: what to fold, in event time order, and the triggers the strategies make of the events. */
export function planIngest(
  events: ReadonlyArray<Consumed<IngestTopic>>,
  strategies: Iterable<StrategyPlugin>,
  now: number,
): IngestPlan {
  const fold: IngestPlan['fold'] = {
    profiles: [],
    stores: [],
    sales: [],
    purchases: [],
    locations: [],
    browse: [],
    products: [],
  };
  const listeners = new Map<IngestTopic, StrategyPlugin[]>();
  for (const s of strategies) {
    for (const t of s.events?.topics ?? []) listeners.set(t, [...(listeners.get(t) ?? []), s]);
  }
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
      case 'products':
        fold.products.push(c.event as Product);
        break;
    }
  }
  // Fold in event time order so the latest location or profile wins within a batch.
  for (const list of Object.values(fold)) list.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  const triggers: Trigger[] = [];
  const ordered = [...events].sort((a, b) => Date.parse(a.event.at) - Date.parse(b.event.at));
  for (const c of ordered) {
    for (const s of listeners.get(c.topic) ?? []) {
      const t = s.events!.trigger({ topic: c.topic, event: c.event } as IngestEvent, { now });
      if (t) triggers.push(t);
    }
  }
  return { fold, triggers };
}

export function createIngest(deps: {
  state: Pick<State, 'users' | 'catalog' | 'telemetry' | 'timing' | 'basket' | 'places' | 'products'>;
  strategies: Map<string, StrategyPlugin>;
  batchSize: number;
  now: () => number;
  /** Evidence weights of purchases and browsing for the engagement-time model. */
  weights?: EvidenceWeights;
}) {
  const { users, catalog, telemetry, timing, basket, places, products } = deps.state;
  const weights = deps.weights ?? DEFAULT_ENGAGEMENT.weights;
  return async function ingest(events: ReadonlyArray<Consumed<IngestTopic>>): Promise<Outgoing[]> {
    const plan = planIngest(events, deps.strategies.values(), deps.now());
    // Disjoint keys: one round trip's wait for all five. Counted as seen only once they are folded. The
    // basket miner recognises a purchase it has counted by itself, so it takes every purchase, fresh or not.
    await Promise.all([
      catalog.fold(plan.fold),
      users.fold(plan.fold),
      users.countCategories(plan.fold.purchases),
      basket.record(plan.fold.purchases),
      products.fold(plan.fold),
    ]);
    const fresh = await telemetry.markSeen(
      events.map((e) => `${e.topic}-${(e.event as { eventId: string }).eventId}`),
      (i) => `in:${events[i]!.topic}`,
    );
    // When users are active, from the events seen for the first time (a redelivery counts nothing twice).
    const activities: Activity[] = [];
    events.forEach((e, i) => {
      if (!fresh[i] || (e.topic !== 'purchases' && e.topic !== 'browse')) return;
      const ev = e.event as Purchase | Browse;
      activities.push({
        userId: ev.userId,
        at: Date.parse(ev.at),
        kind: e.topic === 'purchases' ? 'purchase' : 'browse',
      });
    });
    // Where users are, from the pings seen for the first time, at the local hour of each.
    const pings = events.flatMap((e, i) =>
      fresh[i] && e.topic === 'locations' ? [e.event as LocationPing] : [],
    );
    if (activities.length > 0 || pings.length > 0) {
      const zones = await users.timeZones([
        ...activities.map((a) => a.userId),
        ...pings.map((p) => p.userId),
      ]);
      await Promise.all([
        activities.length > 0 ? timing.record(activityEvidence(activities, zones, weights)) : undefined,
        places.foldPings(
          pings.map((p) => {
            const at = Date.parse(p.at);
            const zone = zones.get(p.userId) ?? 'UTC';
            return {
              userId: p.userId,
              lat: p.lat,
              lon: p.lon,
              at,
              localHour: DateTime.fromMillis(at, { zone }).hour,
            };
          }),
        ),
      ]);
    }
    return chunk(plan.triggers, deps.batchSize).map((triggers) => ({
      queue: 'target' as const,
      id: stableId('target', ...triggers.map((t) => t.triggerId)),
      payload: { triggers },
    }));
  };
}
