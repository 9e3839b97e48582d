/**
 * `npm run bench:recs`: triggers per second of the target stage on product-recs triggers, on real Redis (a
 * redis-server of its own), with the strategy's batch path (`targetMany`: every read and each cooldown
 * claim round shared by the job's triggers) beside the reference in the same run: the same stage with the
 * strategy targeting one trigger after another (several round trips per trigger, the path before batching).
 * Both runs start from the same seeded state and must target the same products: the bench fails if not.
 *
 * The state: `--products` products in 20 categories, `--users` users with a trained version (20 candidates
 * each, as PRODUCT_RECS_CANDIDATES) and 8 line items each, and 10% of the triggered users new since the
 * training (cold start). Flags: --triggers 500, --job 500 (triggers per target job), --users 5000,
 * --products 2000, --rounds 3 (each mode, alternating; the best round is kept).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { systemClock } from '../../shared/clock';
import { chunk } from '../../shared/ids';
import type { Trigger } from '../../shared/schemas/jobs.schema';
import { createState, type RecsRow, type State } from '../state';
import { createTargetStage } from '../pipeline/target';
import { createProductRecs } from '../strategies/product-recs/product-recs.strategy';
import { DEFAULT_RERANK } from '../recs/rerank';
import type { Catalog, StrategyPlugin } from '../strategies';
import { resetRedis, startOwnRedis } from './redis';
import { fmt, say } from './util';

const DAY = 86_400_000;

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const n = Number(process.argv[i + 1]);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer`);
  return n;
}

/** A deterministic pseudo-random integer in [0, n) from i. */
const pick = (i: number, n: number) => ((i * 2_654_435_761) >>> 0) % n;

async function seed(state: State, o: { users: number; products: number }, now: number): Promise<void> {
  const category = (p: number) => `cat${p % 20}`;
  for (let p = 0; p < o.products; p += 1000) {
    await state.products.fold({
      products: Array.from({ length: Math.min(1000, o.products - p) }, (_, j) => ({
        v: 1 as const,
        eventId: `pe${p + j}`,
        productId: `p${p + j}`,
        title: `Product ${p + j}`,
        category: category(p + j),
        price: 1 + ((p + j) % 37),
        available: (p + j) % 23 !== 0,
        discount: (p + j) % 5 === 0 ? 10 : 0,
        at: new Date(now - DAY).toISOString(),
      })),
    });
  }
  for (let u = 0; u < o.users; u += 500) {
    await state.products.fold({
      purchases: Array.from({ length: Math.min(500, o.users - u) }, (_, j) => {
        const user = u + j;
        return {
          v: 2 as const,
          eventId: `e${user}`,
          userId: `u${user}`,
          storeId: 's1',
          category: category(pick(user, o.products)),
          amount: 20,
          currency: 'USD',
          at: new Date(now - (1 + (user % 20)) * DAY).toISOString(),
          items: Array.from({ length: 8 }, (_, k) => ({
            productId: `p${pick(user * 8 + k, o.products)}`,
            quantity: 1 + (k % 2),
            unitPrice: 1 + (pick(user * 8 + k, o.products) % 37),
          })),
        };
      }),
    });
  }
  // Users from 90% of the range on are new since the training: no row, cold start.
  const trained = Math.floor(o.users * 0.9);
  const users = Array.from({ length: trained }, (_, u): readonly [string, RecsRow] => [
    `u${u}`,
    {
      c: Array.from({ length: 20 }, (_, j) => [
        `p${pick(u * 20 + j + 7, o.products)}`,
        1 - j / 20,
        ((u + j) % 7) / 7,
        (j % 3) / 3,
      ]),
    },
  ]);
  const items = Array.from(
    { length: o.products },
    (_, p) =>
      [
        `p${p}`,
        {
          n: Array.from(
            { length: 20 },
            (_, j) => [`p${pick(p * 20 + j + 3, o.products)}`, 1 / (j + 2)] as [string, number],
          ),
          ...(p % 2 === 0 ? { c: 7 + (p % 30) } : {}),
        },
      ] as const,
  );
  const popular = ['*', ...Array.from({ length: 20 }, (_, c) => `cat${c}`)].map(
    (c) =>
      [
        c,
        Array.from(
          { length: 50 },
          (_, r) => [`p${(r * 20 + Number(c.slice(3) || 0)) % o.products}`, 500 - r] as [string, number],
        ),
      ] as const,
  );
  await state.products.load('bench1', { users, items, popular });
  await state.products.switchTo('bench1', now);
}

async function main(): Promise<void> {
  const o = {
    triggers: arg('triggers', 500),
    job: arg('job', 500),
    users: arg('users', 5000),
    products: arg('products', 2000),
    rounds: arg('rounds', 3),
  };
  const runId = `recs${Date.now().toString(36)}`;
  const logDir = join('out', 'bench', 'logs', runId);
  mkdirSync(logDir, { recursive: true });
  const own = await startOwnRedis(logDir);
  const redis = new Redis(own.url, { maxRetriesPerRequest: null });
  const now = Date.now();
  const strategy = createProductRecs({
    perPush: 3,
    rerank: DEFAULT_RERANK,
    cooldownMs: 7 * DAY,
    maxAgeMs: 3_600_000,
  });
  const modes: Array<[string, StrategyPlugin]> = [
    ['one by one (reference)', { ...strategy, targetMany: undefined }],
    ['batched (targetMany)', strategy],
  ];
  // Distinct users, mostly trained, about one in ten new since the training.
  const triggers: Trigger[] = Array.from({ length: o.triggers }, (_, i) => ({
    strategy: strategy.name,
    triggerId: `t${i}`,
    at: now,
    userId: `u${(i * 7919) % o.users}`,
    data: {},
  }));
  try {
    say(
      `recs: target stage on ${fmt(o.triggers)} product-recs triggers, jobs of ${o.job}; ${fmt(o.users)} users, ${fmt(o.products)} products, own redis-server ${own.version}`,
    );
    const best = new Map<string, number>();
    const outputs = new Map<string, string>();
    for (let round = 0; round < o.rounds; round++) {
      for (const [name, plugin] of modes) {
        await resetRedis(redis);
        const state = createState(redis, runId, systemClock);
        await seed(state, o, now);
        const catalog: Catalog = {
          storesInCategories: (c) => state.catalog.storesInCategories(c),
          activeSales: (t, day) => state.catalog.activeSales(t, day),
          claimCooldowns: (scope, userId, ids, token, ms) =>
            state.places.claimCooldowns(scope, userId, ids, token, ms),
          claimCooldownsMany: (scope, claims, ms) => state.places.claimCooldownsMany(scope, claims, ms),
          products: state.products,
        };
        const stage = createTargetStage({
          strategies: new Map([[strategy.name, plugin]]),
          catalog,
          batchSize: 500,
        });
        const t0 = performance.now();
        const out = [];
        for (const job of chunk(triggers, o.job)) {
          out.push(...(await stage({ triggers: job }, { jobId: 'bench', attempt: 1, lane: 'realtime' })));
        }
        const perS = o.triggers / ((performance.now() - t0) / 1000);
        best.set(name, Math.max(best.get(name) ?? 0, perS));
        const targeted = out.flatMap((j) => (j.payload as { targets: unknown[] }).targets);
        outputs.set(name, JSON.stringify(targeted));
        say(`recs: round ${round + 1}, ${name}: ${fmt(perS)} triggers/s, ${fmt(targeted.length)} targets`);
      }
    }
    const [ref, batched] = modes.map(([name]) => name) as [string, string];
    const same = outputs.get(ref) === outputs.get(batched);
    say(`recs: same targets both ways: ${same ? 'yes' : 'NO'}`);
    say(
      `recs: best of ${o.rounds}: one by one ${fmt(best.get(ref)!)} triggers/s, batched ${fmt(best.get(batched)!)} triggers/s (${(best.get(batched)! / best.get(ref)!).toFixed(1)}x)`,
    );
    if (!same) throw new Error('batched targets differ from one-by-one targets');
  } finally {
    redis.disconnect();
    await own.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(
      `bench:recs failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
