import { planIngest } from '../../services/pipeline/ingest';
import type { Consumed } from '../../shared/kafka/consumer';
import type { IngestTopic } from '../../shared/topics';

const c = (topic: IngestTopic, event: object): Consumed<IngestTopic> =>
  ({ topic, event, partition: 0, offset: '0' }) as Consumed<IngestTopic>;

describe('planIngest', () => {
  it('folds every topic and makes one market-basket trigger per purchase', () => {
    const plan = planIngest([
      c('purchases', { eventId: 'p2', userId: 'u1', storeId: 's', category: 'wine', at: '2026-11-22T10:05:00Z' }),
      c('locations', { eventId: 'l1', userId: 'u1', lat: 1, lon: 2, at: '2026-11-22T10:00:00Z' }),
      c('purchases', { eventId: 'p1', userId: 'u2', storeId: 's', category: 'groceries', at: '2026-11-22T10:00:00Z' }),
      c('profiles', { eventId: 'f1', userId: 'u3', at: '2026-11-22T09:00:00Z' }),
    ]);
    expect(plan.fold.locations).toHaveLength(1);
    expect(plan.fold.profiles).toHaveLength(1);
    expect(plan.triggers.map((t) => [t.userId, t.strategy, t.data.category])).toEqual([
      ['u2', 'market-basket', 'groceries'],
      ['u1', 'market-basket', 'wine'],
    ]);
  });
});
