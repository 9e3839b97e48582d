/**
 * `npm run bench:geo`: stores near a point per second through the catalog (`storesNear`: GEOSEARCH with
 * distances, then each store's hash), beside the market-basket path's lookup in the same run
 * (`storesInCategories` of 3 categories: SMEMBERS, then each store's hash), on its own redis-server.
 *
 * Flags: --stores 10000 (spread over a 20 km square), --lookups 5000, --concurrency 16 (lookups in
 * flight), --radius-km 1.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { systemClock } from '../../shared/clock';
import { createState } from '../state';
import { startOwnRedis } from './redis';
import { fmt, say } from './util';

const CENTER = { lat: 40.4168, lon: -3.7038 };

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const n = Number(process.argv[i + 1]);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`);
  return n;
}

async function rate(
  lookups: number,
  concurrency: number,
  one: (i: number) => Promise<number>,
): Promise<{ perS: number; found: number }> {
  let next = 0;
  let found = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < lookups) found += await one(next++);
    }),
  );
  return { perS: lookups / ((performance.now() - t0) / 1000), found: found / lookups };
}

async function main(): Promise<void> {
  const stores = arg('stores', 10_000);
  const lookups = arg('lookups', 5_000);
  const concurrency = arg('concurrency', 16);
  const radiusKm = arg('radius-km', 1);
  const runId = `geo${Date.now().toString(36)}`;
  const logDir = join('out', 'bench', 'logs', runId);
  mkdirSync(logDir, { recursive: true });
  const own = await startOwnRedis(logDir);
  const redis = new Redis(own.url, { maxRetriesPerRequest: null });
  try {
    const state = createState(redis, runId, systemClock);
    const categories = Array.from({ length: 30 }, (_, c) => `cat${c}`);
    // A 20 km square around the centre: about 0.18 degrees of latitude.
    const point = (i: number) => ({
      lat: CENTER.lat - 0.09 + (((i * 7919) % 10_007) / 10_007) * 0.18,
      lon: CENTER.lon - 0.12 + (((i * 104_729) % 10_009) / 10_009) * 0.24,
    });
    for (let i = 0; i < stores; i += 1000) {
      await state.catalog.fold({
        stores: Array.from({ length: Math.min(1000, stores - i) }, (_, j) => {
          const n = i + j;
          return {
            v: 1 as const,
            eventId: `s${n}`,
            storeId: `s${n}`,
            name: `Store ${n}`,
            category: categories[n % categories.length]!,
            ...point(n),
            discount: n % 4 === 0 ? 20 : 0,
            at: new Date().toISOString(),
          };
        }),
      });
    }
    say(`geo: ${fmt(stores)} stores in the GEO index; ${fmt(lookups)} lookups, ${concurrency} in flight`);
    const near = await rate(
      lookups,
      concurrency,
      async (i) => (await state.catalog.storesNear(point(i * 31 + 5), radiusKm, 50)).length,
    );
    say(
      `geo: storesNear (${radiusKm} km, at most 50): ${fmt(near.perS)} lookups/s, ${near.found.toFixed(1)} stores each`,
    );
    const byCat = await rate(
      lookups,
      concurrency,
      async (i) =>
        (
          await state.catalog.storesInCategories(
            [0, 1, 2].map((d) => categories[(i + d) % categories.length]!),
          )
        ).length,
    );
    say(
      `geo: reference storesInCategories (3 categories): ${fmt(byCat.perS)} lookups/s, ${byCat.found.toFixed(1)} stores each`,
    );
    const raw = await rate(lookups, concurrency, async (i) => {
      const p = point(i * 31 + 5);
      return (
        (await redis.geosearch(
          `${runId}:{catalog}:stores:geo`,
          'FROMLONLAT',
          p.lon,
          p.lat,
          'BYRADIUS',
          radiusKm,
          'km',
          'ASC',
          'COUNT',
          50,
        )) as string[]
      ).length;
    });
    say(`geo: reference bare GEOSEARCH: ${fmt(raw.perS)} lookups/s`);
    say(
      `geo: storesNear / bare GEOSEARCH = ${(near.perS / raw.perS).toFixed(2)}x; / storesInCategories = ${(near.perS / byCat.perS).toFixed(2)}x`,
    );
  } finally {
    redis.disconnect();
    await own.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(
      `bench:geo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
