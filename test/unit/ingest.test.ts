import { planIngest } from '../../services/pipeline/ingest';
import { affinityTable } from '../../services/affinity/affinity-table';
import { createMarketBasket } from '../../services/strategies/market-basket/market-basket.strategy';
import { createDailySale } from '../../services/strategies/daily-sale/daily-sale.strategy';
import type { Consumed } from '../../shared/kafka/consumer';
import type { IngestTopic } from '../../shared/topics';

const marketBasket = createMarketBasket({
  affinity: affinityTable({ version: 1, categories: ['wine'], follows: {} }),
  maxStores: 5,
  maxAgeMs: 3_600_000,
});
const NOW = Date.parse('2026-11-22T10:10:00Z');

const c = (topic: IngestTopic, event: object): Consumed<IngestTopic> =>
  ({ topic, event, partition: 0, offset: '0' }) as Consumed<IngestTopic>;

describe('planIngest', () => {
  it('folds every topic and makes one market-basket trigger per purchase', () => {
    const plan = planIngest(
      [
        c('purchases', {
          eventId: 'p2',
          userId: 'u1',
          storeId: 's',
          category: 'wine',
          at: '2026-11-22T10:05:00Z',
        }),
        c('locations', { eventId: 'l1', userId: 'u1', lat: 1, lon: 2, at: '2026-11-22T10:00:00Z' }),
        c('purchases', {
          eventId: 'p1',
          userId: 'u2',
          storeId: 's',
          category: 'groceries',
          at: '2026-11-22T10:00:00Z',
        }),
        c('profiles', { eventId: 'f1', userId: 'u3', at: '2026-11-22T09:00:00Z' }),
      ],
      [marketBasket],
      NOW,
    );
    expect(plan.fold.locations).toHaveLength(1);
    expect(plan.fold.profiles).toHaveLength(1);
    expect(plan.triggers.map((t) => [t.userId, t.strategy, t.data.category])).toEqual([
      ['u2', 'market-basket', 'groceries'],
      ['u1', 'market-basket', 'wine'],
    ]);
  });
});

describe('planIngest freshness', () => {
  it('folds an old purchase but triggers nothing for it', () => {
    const plan = planIngest(
      [
        c('purchases', {
          eventId: 'old',
          userId: 'u1',
          storeId: 's',
          category: 'wine',
          at: '2026-11-20T10:00:00Z',
        }),
        c('purchases', {
          eventId: 'new',
          userId: 'u2',
          storeId: 's',
          category: 'wine',
          at: '2026-11-22T10:00:00Z',
        }),
      ],
      [marketBasket],
      Date.parse('2026-11-22T10:00:00Z'),
    );
    expect(plan.fold.purchases).toHaveLength(2);
    expect(plan.triggers.map((t) => t.userId)).toEqual(['u2']);
  });

  it('triggers nothing when no enabled strategy listens to purchases', () => {
    const plan = planIngest(
      [
        c('purchases', {
          eventId: 'p',
          userId: 'u',
          storeId: 's',
          category: 'wine',
          at: '2026-11-22T10:00:00Z',
        }),
      ],
      [createDailySale()],
      NOW,
    );
    expect(plan.triggers).toEqual([]);
  });
});
