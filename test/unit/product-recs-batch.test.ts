/**
 * The product-recs strategy targets a batch of triggers with shared reads (`targetMany`); the target stage
 * uses it when a strategy has it. Batching must not change what is targeted: the same targets, in the same
 * order, with the same cooldowns claimed, as the triggers one after another. The world here mixes trained
 * and new users, a user with three triggers in the batch (their later triggers must take the products the
 * earlier ones left), products claimed before the batch, unavailable and unknown products.
 */
import { createTargetStage } from '../../services/pipeline/target';
import { createProductRecs } from '../../services/strategies/product-recs/product-recs.strategy';
import { DEFAULT_RERANK } from '../../services/recs/rerank';
import type { Catalog, StrategyPlugin } from '../../services/strategies';
import type { ItemRow, ProductLine, ProductState, RecsRow } from '../../services/state';
import type { Trigger } from '../../shared/schemas/jobs.schema';

const DAY = 86_400_000;
const now = Date.parse('2026-11-22T12:00:00Z');

/** A small deterministic world in memory, with a count of the catalog's calls (each is a round trip). */
function world() {
  const calls = { n: 0 };
  const count = <T>(v: T): Promise<T> => {
    calls.n++;
    return Promise.resolve(v);
  };
  const products = new Map<string, ProductState>();
  for (let i = 0; i < 60; i++) {
    products.set(`p${i}`, {
      productId: `p${i}`,
      title: `Product ${i}`,
      category: `c${i % 4}`,
      price: 2 + (i % 7),
      available: i % 11 !== 5,
      discount: i % 3 === 0 ? 10 : 0,
    });
  }
  const rows = new Map<string, RecsRow>();
  const histories = new Map<string, ProductLine[]>();
  for (let u = 0; u < 24; u++) {
    const lines: ProductLine[] = [];
    for (let k = 0; k < u % 5; k++) {
      lines.push({
        productId: `p${(u * 7 + k * 13) % 60}`,
        quantity: 1,
        unitPrice: 3 + k,
        at: now - (k + 1) * 4 * DAY,
      });
    }
    histories.set(`u${u}`, lines);
    // Two users in three are in the trained version; the others are new since (cold start).
    if (u % 3 !== 2) {
      rows.set(`u${u}`, {
        c: Array.from({ length: 8 }, (_, j) => {
          const id = j === 7 ? 'gone' : `p${(u * 5 + j * 9) % 60}`;
          return [id, ((u + j) % 5) / 5, ((u * j) % 7) / 7, (j % 3) / 3] as [string, number, number, number];
        }),
      });
    }
  }
  const items = new Map<string, ItemRow>();
  for (let i = 0; i < 60; i++) {
    items.set(`p${i}`, {
      n: Array.from({ length: 4 }, (_, j) => [`p${(i + j * 17 + 1) % 60}`, 1 / (j + 2)] as [string, number]),
      ...(i % 2 === 0 ? { c: 10 + (i % 9) } : {}),
    });
  }
  const popular = (c: string): Array<[string, number]> =>
    [...products.values()]
      .filter((p) => c === '*' || p.category === c)
      .slice(0, 6)
      .map((p, r) => [p.productId, 20 - r]);
  const cooldowns = new Map<string, string>();
  // Claimed before the batch by another push.
  cooldowns.set('product-recs|u0|p0', 'earlier');
  cooldowns.set('product-recs|u4|p20', 'earlier');
  const claim = (scope: string, userId: string, ids: readonly string[], token: string) =>
    ids.filter((id) => {
      const k = `${scope}|${userId}|${id}`;
      if (!cooldowns.has(k)) cooldowns.set(k, token);
      return cooldowns.get(k) === token;
    });
  const catalog: Catalog = {
    storesInCategories: () => count([]),
    activeSales: () => count([]),
    claimCooldowns: (scope, userId, ids, token) => count(claim(scope, userId, ids, token)),
    claimCooldownsMany: (scope, claims) => count(claims.map((c) => claim(scope, c.userId, c.ids, c.token))),
    products: {
      current: () => count('v1'),
      userRecs: (_v, userId) => count(rows.get(userId)),
      usersRecs: (_v, userIds) => count(userIds.map((u) => rows.get(u))),
      history: (userId) => count(histories.get(userId) ?? []),
      histories: (userIds) => count(userIds.map((u) => histories.get(u) ?? [])),
      items: (_v, ids) =>
        count(new Map(ids.flatMap((id) => (items.has(id) ? [[id, items.get(id)!] as const] : [])))),
      popular: (_v, c) => count(popular(c)),
      livePopular: (c) => count(popular(c)),
      getProducts: (ids) =>
        count(new Map(ids.flatMap((id) => (products.has(id) ? [[id, products.get(id)!] as const] : [])))),
    },
  };
  return { catalog, calls, cooldowns };
}

const strategy = createProductRecs({
  perPush: 3,
  rerank: DEFAULT_RERANK,
  cooldownMs: 7 * DAY,
  maxAgeMs: 3_600_000,
});
/** The same strategy without its batch path: the stage targets its triggers one by one. */
const oneByOne: StrategyPlugin = { ...strategy, targetMany: undefined };

const triggers: Trigger[] = [
  ...Array.from({ length: 24 }, (_, u) => ({
    strategy: 'product-recs',
    triggerId: `t${u}`,
    at: now,
    userId: `u${u}`,
    data: {},
  })),
  // u0 and u1 (trained) and u2 (new) again: their later triggers find their first products claimed.
  ...['u0', 'u0', 'u1', 'u2'].map((userId, j) => ({
    strategy: 'product-recs',
    triggerId: `again${j}`,
    at: now + j,
    userId,
    data: {},
  })),
];

async function run(plugin: StrategyPlugin) {
  const w = world();
  const stage = createTargetStage({
    strategies: new Map([['product-recs', plugin]]),
    catalog: w.catalog,
    batchSize: 500,
  });
  const jobs = await stage({ triggers }, { jobId: 'j', attempt: 1, lane: 'realtime' });
  return { jobs, calls: w.calls.n, cooldowns: [...w.cooldowns].sort() };
}

describe('product-recs targeting in batches', () => {
  it('targets exactly what the triggers one by one target, claims the same cooldowns, in far fewer reads', async () => {
    const single = await run(oneByOne);
    const batched = await run(strategy);
    expect(batched.jobs).toEqual(single.jobs);
    expect(batched.cooldowns).toEqual(single.cooldowns);

    // The comparison is not vacuous: most users get a push, the repeated users get other products.
    const targets = single.jobs.flatMap(
      (j) =>
        (j.payload as { targets: Array<{ targetId: string; candidates: Array<{ deepLink?: string }> }> })
          .targets,
    );
    expect(targets.length).toBeGreaterThan(20);
    const link = (id: string) => targets.find((t) => t.targetId === id)?.candidates[0]?.deepLink;
    expect(link('t0')).toBeDefined();
    expect(link('again0')).toBeDefined();
    expect(link('again0')).not.toBe(link('t0'));
    expect(link('again1')).not.toBe(link('again0'));
    expect(link('t0')).not.toContain('p0,');
    expect(targets.some((t) => t.candidates[0]?.deepLink?.includes('gone'))).toBe(false);

    // One by one costs several reads per trigger; a batch costs a few per wave of distinct users.
    expect(single.calls).toBeGreaterThan(4 * triggers.length);
    expect(batched.calls).toBeLessThan(40);
  });
});
