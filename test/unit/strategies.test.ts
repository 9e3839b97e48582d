import { affinityTable } from '../../services/affinity/affinity-table';
import { NotReadyError } from '../../shared/errors';
import {
  createMarketBasket,
  marketBasketTrigger,
} from '../../services/strategies/market-basket/market-basket.strategy';
import { createDailySale, dailySaleTrigger } from '../../services/strategies/daily-sale/daily-sale.strategy';
import type { Catalog } from '../../services/strategies';
import type { SaleState, StoreState } from '../../services/state';

const table = affinityTable({
  version: 1,
  categories: ['groceries', 'wine', 'bakery', 'shoes'],
  follows: {
    groceries: [
      { category: 'bakery', affinity: 0.2 },
      { category: 'wine', affinity: 0.4 },
    ],
  },
});
const loc = { lat: 40.4, lon: -3.7 };
const stores: StoreState[] = [
  { storeId: 'w1', name: 'Cellar', category: 'wine', location: loc, discount: 5 },
  { storeId: 'w2', name: 'Bodega', category: 'wine', location: loc, discount: 15 },
  { storeId: 'b1', name: 'Oven', category: 'bakery', location: loc, discount: 30 },
  { storeId: 'x1', name: 'Shoebox', category: 'shoes', location: loc, discount: 50 },
];
const sale = (saleId: string, clicks: number, discount: number): SaleState & { clicks: number } => ({
  saleId,
  title: saleId,
  category: 'shoes',
  discount,
  validFrom: 0,
  validTo: 9e12,
  deepLink: `https://x/${saleId}`,
  clicks,
});
const catalog = (sales: Array<SaleState & { clicks: number }> = []): Catalog => ({
  storesInCategories: (cats) => Promise.resolve(stores.filter((s) => cats.includes(s.category))),
  activeSales: () => Promise.resolve(sales),
});
const purchase = {
  v: 1 as const,
  eventId: 'e-1',
  userId: 'u1',
  storeId: 'g9',
  category: 'groceries',
  amount: 20,
  currency: 'USD',
  at: '2026-11-22T10:00:00Z',
};

describe('market basket', () => {
  it('offers stores of the categories that follow the purchase, best affinity first', async () => {
    const target = await createMarketBasket({ affinity: table, maxStores: 10, maxAgeMs: 3_600_000 }).target(
      marketBasketTrigger(purchase),
      catalog(),
    );
    expect(target?.audience).toEqual({ kind: 'user', userId: 'u1' });
    expect(target?.candidates.map((c) => [c.id, c.affinity])).toEqual([
      ['w2', 0.4],
      ['w1', 0.4],
      ['b1', 0.2],
    ]);
    expect(target?.candidates[0]?.deadline).toBe(Date.parse(purchase.at) + 24 * 3_600_000);
  });

  it('has nothing to say after a purchase in a category nothing follows', async () => {
    const t = await createMarketBasket({ affinity: table, maxStores: 10, maxAgeMs: 3_600_000 }).target(
      marketBasketTrigger({ ...purchase, category: 'shoes' }),
      catalog(),
    );
    expect(t).toBeNull();
  });

  it('derives the trigger id from the event id only', () => {
    expect(marketBasketTrigger(purchase).triggerId).toBe(
      marketBasketTrigger({ ...purchase, amount: 99 }).triggerId,
    );
    expect(marketBasketTrigger(purchase).triggerId).not.toBe(
      marketBasketTrigger({ ...purchase, eventId: 'e-2' }).triggerId,
    );
  });
});

describe('daily sale baseline', () => {
  it("sends everyone the day's most-clicked sale, ties to the larger discount", async () => {
    const trigger = dailySaleTrigger(Date.parse('2026-11-22T09:00:00Z'), 'Europe/Madrid');
    expect(trigger.triggerId).toBe('ds-2026-11-22');
    const t = await createDailySale().target(
      trigger,
      catalog([sale('a', 3, 10), sale('b', 7, 5), sale('c', 7, 20)]),
    );
    expect(t?.audience.kind).toBe('all');
    expect(t?.candidates.map((c) => c.id)).toEqual(['c']);
  });

  it('waits for the day’s sales instead of spending the campaign on nothing', async () => {
    const trigger = dailySaleTrigger(Date.parse('2026-11-22T09:00:00Z'), 'UTC');
    await expect(createDailySale().target(trigger, catalog([]))).rejects.toThrow(NotReadyError);
  });

  it('names the local day of the campaign zone', () => {
    expect(dailySaleTrigger(Date.parse('2026-11-22T23:30:00Z'), 'Asia/Tokyo').triggerId).toBe(
      'ds-2026-11-23',
    );
  });
});
