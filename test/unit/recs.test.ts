/**
 * Product recommendations, pure parts: implicit strengths, the blend, re-ranking by repurchase cycle and
 * price on hand-computed examples, cold start, the strategy's triggers and cold-start target, and the
 * offline evaluation's tolerance of messy rows.
 */
import { implicitStrength, userStrengths } from '../../services/recs/strength';
import {
  itemCfScores,
  itemNeighbours,
  popularity,
  repurchaseCycles,
  topN,
} from '../../services/recs/candidates';
import { alsScores, trainAls } from '../../services/recs/als';
import {
  DEFAULT_BLEND,
  blendScore,
  coldStartCandidates,
  rebuyProbability,
  repeatPropensity,
  rerank,
  scaleParts,
  tripsByProduct,
  type ProductFacts,
} from '../../services/recs/rerank';
import { purchaseLogFromText } from '../../services/offline/basket';
import { RECS_METHODS, evaluateRecs } from '../../services/offline/recs';
import { recsJson } from '../../services/offline/recs.command';
import { main } from '../../services/offline/offline';
import { createProductRecs } from '../../services/strategies/product-recs/product-recs.strategy';
import { DEFAULT_RERANK } from '../../services/recs/rerank';
import type { Catalog } from '../../services/strategies';

const DAY = 86_400_000;

describe('implicit strength', () => {
  it.each([
    ['an average product', 10, 2, 10, 2, 1],
    ['four times the spend, twice the units', 40, 4, 10, 2, 1 + Math.log(3)],
    ['far below the user’s usual (clamped)', 1, 1, 100, 10, 0.1],
    ['far above it (clamped)', 1e6, 1, 1, 1, 5],
    ['no prices: quantity alone', 0, 3, 0, 1, 1 + Math.log(3)],
  ])('%s', (_, spend, qty, meanSpend, meanQty, expected) => {
    expect(implicitStrength(spend, qty, meanSpend, meanQty)).toBeCloseTo(expected, 6);
  });

  it('sums a user’s line items per product before comparing with their mean', () => {
    const s = userStrengths([
      { item: 0, qty: 1, price: 10, at: 0 },
      { item: 0, qty: 1, price: 10, at: 1 },
      { item: 1, qty: 1, price: 2, at: 2 },
    ]);
    // spend 20 and 2 (mean 11), units 2 and 1 (mean 1.5)
    expect(s.get(0)).toBeCloseTo(1 + Math.log(0.5 * (20 / 11) + 0.5 * (2 / 1.5)), 6);
    expect(s.get(1)).toBeCloseTo(1 + Math.log(0.5 * (2 / 11) + 0.5 * (1 / 1.5)), 6);
  });
});

describe('candidate sources', () => {
  const strengths = [
    new Map([
      [0, 1],
      [1, 1],
    ]),
    new Map([
      [0, 1],
      [1, 1],
      [2, 1],
    ]),
    new Map([[2, 2]]),
  ];

  it('counts buyers, and takes the best first', () => {
    expect([...popularity(strengths, 3)]).toEqual([2, 2, 2]);
    expect(topN([0.5, 3, 0, 2], 2)).toEqual([
      [1, 3],
      [3, 2],
    ]);
  });

  it('item-CF: cosine over users, the user’s own products at their strength', () => {
    const nb = itemNeighbours(strengths, 3);
    // 0 and 1 are bought by the same two users: cosine 1. 0 and 2 share one user of 0's two and 2's two.
    expect(nb[0]![0]).toEqual([1, 1]);
    expect(nb[0]![1]![1]).toBeCloseTo(1 / (Math.sqrt(2) * Math.sqrt(5)), 6);
    const cf = itemCfScores(new Map([[0, 2]]), nb);
    expect(cf.get(0)).toBe(2);
    expect(cf.get(1)).toBe(2);
  });

  it('repurchase cycle: the median gap over users, half a day or more, with three gaps at least', () => {
    const b = (user: number, item: number, day: number) => ({ user, item, at: day * DAY });
    const cycles = repurchaseCycles([
      b(0, 7, 0),
      b(0, 7, 10),
      b(0, 7, 10.2),
      b(0, 7, 22),
      b(1, 7, 0),
      b(1, 7, 30),
      b(2, 8, 0),
      b(2, 8, 5),
    ]);
    // gaps of 7: 10, 12, 30 (the 0.2-day one is the same trip) -> median 12; product 8 has one gap only.
    expect(cycles.get(7)).toBeCloseTo(12, 6);
    expect(cycles.has(8)).toBe(false);
  });

  it('ALS ranks what a user’s look-alikes bought above what nobody like them did', () => {
    const s = [
      new Map([
        [0, 1],
        [1, 1],
      ]),
      new Map([
        [0, 1],
        [1, 1],
        [2, 1],
      ]),
      new Map([
        [0, 1],
        [2, 1],
      ]),
      new Map([[3, 1]]),
    ];
    const model = trainAls(s, 4, { rank: 4, iterations: 10, regParam: 0.05, alpha: 10, seed: 1 });
    const scores = alsScores(model, 0);
    expect(scores[2]!).toBeGreaterThan(scores[3]!);
  });
});

describe('blend and re-ranking', () => {
  it('blends 40/40/20, and a cold user’s without ALS', () => {
    expect(blendScore({ id: 'a', als: 1, cf: 0.5, pop: 0 }, DEFAULT_BLEND)).toBeCloseTo(0.6, 9);
    expect(blendScore({ id: 'a', als: 1, cf: 0.5, pop: 1 }, DEFAULT_BLEND, true)).toBeCloseTo(0.4 / 0.6, 9);
  });

  it('scales each source to the user’s best', () => {
    const c = scaleParts(
      new Map([
        ['a', { als: 2, cf: 1, pop: 10 }],
        ['b', { als: -1, cf: 4, pop: 5 }],
      ]),
    );
    expect(c).toEqual([
      { id: 'a', als: 1, cf: 0.25, pop: 1 },
      { id: 'b', als: 0, cf: 1, pop: 0.5 },
    ]);
  });

  it('skips what was bought within half its cycle, boosts what is due, penalises price, drops the unsendable', () => {
    const now = 100 * DAY;
    const facts: Record<string, ProductFacts> = {
      A: { available: true, price: 10, cycleDays: 10 },
      B: { available: true, price: 12, cycleDays: 10 },
      C: { available: true, price: 18 },
      D: { available: true, price: 40 },
      E: { available: false, price: 10 },
      G: { available: true, price: 10 },
      H: { available: true, price: 10 },
    };
    const out = rerank(
      [
        { id: 'A', als: 1, cf: 0.5, pop: 0 }, // 0.6, bought 2 days ago, cycle 10: skipped
        { id: 'B', als: 0.5, cf: 0.5, pop: 0.5 }, // 0.5, bought 20 days ago: due x1.15; 1.2x price: upsell x1.02
        { id: 'C', als: 0, cf: 1, pop: 1 }, // 0.6, 1.8x price: x1.5/1.8
        { id: 'D', als: 1, cf: 1, pop: 1 }, // 1.0, 4x price, capped at 2x: x0.75
        { id: 'E', als: 1, cf: 1, pop: 1 }, // unavailable
        { id: 'F', als: 1, cf: 1, pop: 1 }, // unknown to the catalog
        { id: 'G', als: 1, cf: 1, pop: 1 }, // pushed lately
        { id: 'H', als: 1, cf: 1, pop: 1 }, // bought, and nobody buys it again (no cycle)
      ],
      {
        now,
        history: [
          { id: 'A', qty: 1, price: 10, at: now - 2 * DAY },
          { id: 'B', qty: 1, price: 10, at: now - 20 * DAY },
          { id: 'H', qty: 1, price: 10, at: now - 50 * DAY },
        ],
        facts: (id) => facts[id],
        pushed: new Set(['G']),
      },
    );
    expect(out.map((r) => r.id)).toEqual(['D', 'B', 'C']);
    expect(out[0]!.score).toBeCloseTo(0.75, 9);
    expect(out[1]!.score).toBeCloseTo(0.5 * 1.15 * 1.02, 9);
    expect(out[1]!.why).toEqual(['due', 'upsell']);
    expect(out[2]!.score).toBeCloseTo((0.6 * 1.5) / 1.8, 9);
  });

  it('the chance of buying again: a staple due now is likely, a product bought once long ago is not', () => {
    const o = { horizonDays: 7, cycleSpread: 0.5 };
    // Bought twice 10 days apart (one gap: the product's cycle, 10 days, is the median), last 10 days ago:
    // P(gap in [10, 17) | gap >= 10) = (0.5 - Q(ln 1.7 / 0.5)) / 0.5.
    expect(rebuyProbability([0, 10 * DAY], 10, 20 * DAY, 0.3, o)).toBeCloseTo(0.71143, 4);
    // Bought once, 10 days ago: a comeback with the user's propensity 0.3.
    expect(rebuyProbability([10 * DAY], 10, 20 * DAY, 0.3, o)).toBeCloseTo(0.12555, 4);
    // Bought once 60 days ago, never again: six cycles without a comeback.
    expect(rebuyProbability([0], 10, 60 * DAY, 0.3, o)).toBeLessThan(1e-4);
    expect(rebuyProbability([0], 0, 60 * DAY, 0.3, o)).toBe(0);
    // Propensity: of the products with a cycle first bought a cycle ago or more, the share bought again.
    const trips = tripsByProduct([
      { id: 'a', qty: 1, price: 1, at: 0 },
      { id: 'a', qty: 1, price: 1, at: 3_600_000 }, // the same trip
      { id: 'b', qty: 1, price: 1, at: 0 },
      { id: 'b', qty: 1, price: 1, at: 10 * DAY },
      { id: 'c', qty: 1, price: 1, at: 25 * DAY }, // too recent to count
    ]);
    expect(trips.get('a')).toEqual([0]);
    expect(repeatPropensity(trips, () => 10, 30 * DAY, 0.3)).toBeCloseTo((1 + 0.6) / (2 + 2), 9);
  });

  it('with an own weight, a staple due again comes first even when no source named it', () => {
    const now = 40 * DAY;
    const facts = (id: string): ProductFacts | undefined =>
      ({
        milk: { available: true, price: 2, cycleDays: 10 },
        tea: { available: true, price: 2, cycleDays: 30 },
      })[id] ?? { available: true, price: 2 };
    const history = [
      { id: 'milk', qty: 1, price: 2, at: 10 * DAY },
      { id: 'milk', qty: 1, price: 2, at: 20 * DAY },
      { id: 'milk', qty: 1, price: 2, at: 30 * DAY },
      { id: 'tea', qty: 1, price: 2, at: 35 * DAY }, // once, 5 days ago: not due for weeks
    ];
    const candidates = [{ id: 'jam', als: 0.6, cf: 0.6, pop: 0.6 }];
    const off = rerank(candidates, { now, history, facts }, { ...DEFAULT_RERANK, skipWithin: 0 });
    expect(off.map((r) => r.id)).toEqual(['jam']);
    const on = rerank(
      candidates,
      { now, history, facts },
      { ...DEFAULT_RERANK, skipWithin: 0, ownWeight: 0.5 },
    );
    expect(on.map((r) => r.id)).toEqual(['milk', 'jam', 'tea']);
    expect(on[1]!.score).toBeCloseTo(0.5 * 0.6, 9);
  });

  it('cold start: item-CF from the first purchase and popularity, each scaled', () => {
    const c = coldStartCandidates(
      [
        ['x', 0.5],
        ['y', 0.25],
      ],
      [
        ['y', 10],
        ['z', 5],
      ],
    );
    expect(c).toEqual([
      { id: 'x', als: 0, cf: 1, pop: 0 },
      { id: 'y', als: 0, cf: 0.5, pop: 1 },
      { id: 'z', als: 0, cf: 0, pop: 0.5 },
    ]);
  });
});

describe('the product-recs strategy', () => {
  const strategy = createProductRecs({
    perPush: 2,
    rerank: DEFAULT_RERANK,
    cooldownMs: DAY,
    maxAgeMs: 3_600_000,
  });
  const now = Date.parse('2026-11-22T12:00:00Z');
  const purchase = (over: Record<string, unknown>) =>
    ({
      v: 2,
      eventId: 'e1',
      userId: 'new',
      storeId: 's',
      category: 'pantry',
      amount: 8,
      currency: 'USD',
      at: new Date(now - 60_000).toISOString(),
      items: [{ productId: 'rice', quantity: 1, unitPrice: 4 }],
      ...over,
    }) as never;

  it('is triggered by a fresh purchase with line items only', () => {
    const t = (e: unknown) => strategy.events!.trigger({ topic: 'purchases', event: e } as never, { now });
    expect(t(purchase({}))).toMatchObject({ strategy: 'product-recs', userId: 'new' });
    expect(t(purchase({ v: 1, items: undefined }))).toBeNull();
    expect(t(purchase({ at: new Date(now - 2 * 3_600_000).toISOString() }))).toBeNull();
  });

  it('a new user before any training: the live most bought of their first category, not what they have', async () => {
    const known = {
      rice: { title: 'Rice', category: 'pantry', price: 4, available: true },
      oil: { title: 'Oil', category: 'pantry', price: 5, available: true },
      salt: { title: 'Salt', category: 'pantry', price: 3, available: false },
      pasta: { title: 'Pasta', category: 'pantry', price: 4, available: true },
    } as const;
    const catalog = {
      products: {
        current: () => Promise.resolve(null),
        userRecs: () => Promise.resolve(undefined),
        items: () => Promise.resolve(new Map()),
        popular: () => Promise.resolve([]),
        livePopular: (c: string) =>
          Promise.resolve(
            c === 'pantry'
              ? ([
                  ['rice', 9],
                  ['salt', 8],
                  ['oil', 5],
                  ['pasta', 2],
                ] as Array<[string, number]>)
              : [],
          ),
        history: () => Promise.resolve([{ productId: 'rice', quantity: 1, unitPrice: 4, at: now - 60_000 }]),
        getProducts: (ids: readonly string[]) =>
          Promise.resolve(
            new Map(
              ids.flatMap((id) => {
                const p = known[id as keyof typeof known];
                return p ? [[id, { productId: id, discount: 0, ...p }] as const] : [];
              }),
            ),
          ),
      },
    } as unknown as Catalog;
    const target = await strategy.target(
      { strategy: 'product-recs', triggerId: 't1', at: now, userId: 'new', data: {} },
      catalog,
    );
    expect(target?.candidates).toHaveLength(1);
    const c = target!.candidates[0]!;
    expect(c).toMatchObject({ id: 'oil', kind: 'product', category: 'pantry', title: 'Oil · Pasta' });
    expect(c.deepLink).toBe('herald://products/oil,pasta');
    expect(strategy.render(c, 'en')).toEqual({
      title: 'Picked for you: Oil',
      body: 'Also for you: Pasta.',
      deepLink: 'herald://products/oil,pasta',
    });
  });
});

describe('offline recs evaluation', () => {
  const header = 'user_id,timestamp,item,quantity,price\n';

  it('counts malformed rows and never throws on them', () => {
    const log = purchaseLogFromText(
      `${header}u1,2026-01-01T00:00:00Z,a,1,2\n,2026-01-01T00:00:00Z,a,1,2\nu1,yesterday,a,1,2\nu1,1767225600,a,-1,2\nu1,1767225600,a,1,x\nu1,1767225600,a\nu1,1767225600,b,,\n`,
      { user: 'user_id', time: 'timestamp', item: 'item', quantity: 'quantity', price: 'price' },
    );
    expect(log.length).toBe(2);
    expect(log.malformed).toBe(5);
    expect(log.qty[1]).toBe(1);
    expect(log.price[1]).toBe(0);
  });

  it('scores every method on who buys after the split, with the JSON shape the command prints', () => {
    const rows: string[] = [];
    // Everyone buys a then b; users 0-5 also c a week later, which the split leaves in their future.
    for (let u = 0; u < 10; u++) {
      rows.push(`u${u},${1767225600 + u * 60},a,1,2`, `u${u},${1767225600 + 86400 + u * 60},b,1,3`);
      if (u < 6) rows.push(`u${u},${1767225600 + 8 * 86400 + u * 60},c,1,2`);
    }
    const log = purchaseLogFromText(header + rows.join('\n'), {
      user: 'user_id',
      time: 'timestamp',
      item: 'item',
      quantity: 'quantity',
      price: 'price',
    });
    const r = evaluateRecs(log, { k: 2, split: 0.75, horizonDays: 14 });
    expect(r.users).toBeGreaterThan(0);
    const json = recsJson(r, 0);
    expect(Object.keys(json.methods)).toEqual([...RECS_METHODS]);
    expect(json).toMatchObject({ users: r.users, k: 2 });
    for (const m of RECS_METHODS) {
      expect(json.methods[m].hit).toBeGreaterThanOrEqual(0);
      expect(json.methods[m].hit).toBeLessThanOrEqual(1);
    }
  });

  it('refuses a file without the item column with one line, exit 2', async () => {
    let err = '';
    const code = await main(['recs', '--transactions', __filename], {
      out: () => undefined,
      err: (t) => (err += t),
    });
    expect(code).toBe(2);
    expect(err).toMatch(/^offline recs: /);
  });
});
