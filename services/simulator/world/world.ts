/**
 * The simulated world and its ground truth: users (users.ts), stores (stores.ts), the daily sales
 * (sales.ts) and the follow-up table their purchases obey (follow-ups.ts), put together from one seed.
 * Pure and deterministic from the seed. Helpers that read one user's truth as plain values are in truth.ts.
 */
import type { GeoPoint } from '../../../shared/schemas/common';
import { BASKET_EUR, BROAD_APPEAL, DEFAULT_BASKET_EUR, defaultZoneMix, type ZoneShare } from './catalog';
import { DAY_MS, ZoneCalendar } from './calendar';
import { parseFollowUps, type FollowEdge } from './follow-ups';
import { createRng } from './rng';
import { createSales, type SaleSpec } from './sales';
import { createStores, type StoreSpec } from './stores';
import { DEFAULT_ACTIVITY, createUsers, type ActivityRates, type UserTable } from './users';

export interface WorldOptions {
  /** Seed of everything. */
  seed: number;
  /** Number of users. */
  users: number;
  /** Number of stores. With at least as many stores as categories, every category has a store. */
  stores: number;
  /** Sales published per day. */
  salesPerDay: number;
  /** Days of the run (sales are precomputed for these; behaviour can be generated for any day). */
  days: number;
  /** Day 0, an ISO date or instant at UTC midnight, e.g. `2026-03-23`. */
  start: string;
  /** The follow-up table as parsed JSON (see FollowUpTableSchema), e.g. infra/data/affinity.json. */
  affinity: unknown;
  /** City center. Default Madrid, { lat: 40.4168, lon: -3.7038 }. */
  center?: GeoPoint;
  /** The city's time zone, where most users are. Default `Europe/Madrid`. */
  timeZone?: string;
  /** The city's main locale. Default `es-ES`. */
  locale?: string;
  /** The city's currency. Default `EUR`. */
  currency?: string;
  /** The users' time-zone mix. Default `defaultZoneMix(timeZone, locale, currency)` (70% in the city's zone). */
  zoneMix?: readonly ZoneShare[];
  /** Standard deviation of home locations around the center, km. Default 5. */
  spreadKm?: number;
  /** Behaviour rates. Defaults `DEFAULT_ACTIVITY`. */
  activity?: Partial<ActivityRates>;
}

export interface World {
  readonly seed: number;
  readonly startMs: number;
  readonly days: number;
  readonly salesPerDay: number;
  readonly center: GeoPoint;
  readonly categories: readonly string[];
  readonly categoryIndex: ReadonlyMap<string, number>;
  /** `follows[a]`: categories that follow category `a`, with their affinity. */
  readonly follows: ReadonlyArray<readonly FollowEdge[]>;
  /** Share of preference mass each category gets across users (sums to 1). */
  readonly popularity: Float64Array;
  /** Median basket per category in EUR. */
  readonly basketEur: Float64Array;
  readonly zones: readonly ZoneShare[];
  readonly locales: readonly string[];
  readonly users: UserTable;
  readonly stores: readonly StoreSpec[];
  readonly storesByCategory: readonly Int32Array[];
  /** `sales[day]`, for days 0 .. days - 1. */
  readonly sales: ReadonlyArray<readonly SaleSpec[]>;
  readonly rates: Readonly<ActivityRates>;
  /** Local-time lookups (cached per day). */
  readonly calendar: ZoneCalendar;
}

export function createWorld(options: WorldOptions): World {
  const { seed, users, stores, salesPerDay, days } = options;
  for (const [name, v] of Object.entries({ users, stores, salesPerDay, days })) {
    if (!Number.isInteger(v) || v < 0)
      throw new RangeError(`createWorld: ${name}=${v} must be a non-negative integer`);
  }
  if (users < 1) throw new RangeError('createWorld: users must be at least 1');
  const startMs = Date.parse(options.start.length === 10 ? `${options.start}T00:00:00Z` : options.start);
  if (!Number.isFinite(startMs) || startMs % DAY_MS !== 0) {
    throw new RangeError(`createWorld: start=${options.start} must be a UTC midnight`);
  }
  const { categories, categoryIndex, follows } = parseFollowUps(options.affinity);
  const C = categories.length;
  const center = options.center ?? { lat: 40.4168, lon: -3.7038 };
  const cityZone = options.timeZone ?? 'Europe/Madrid';
  const zones =
    options.zoneMix ?? defaultZoneMix(cityZone, options.locale ?? 'es-ES', options.currency ?? 'EUR');
  if (zones.length === 0 || zones.length > 255)
    throw new RangeError('createWorld: zoneMix needs 1..255 zones');
  const locales = [...new Set(zones.flatMap((z) => z.locales))];
  const rates: ActivityRates = { ...DEFAULT_ACTIVITY, ...options.activity };
  const spreadKm = options.spreadKm ?? 5;
  const calendar = new ZoneCalendar(
    zones.map((z) => z.zone),
    startMs,
  );

  const worldRng = createRng(seed, 'world');
  const popularity = new Float64Array(C);
  const basketEur = new Float64Array(C);
  categories.forEach((c, i) => {
    popularity[i] = (BROAD_APPEAL[c] ?? 1) * worldRng.logNormal(0, 0.25);
    basketEur[i] = BASKET_EUR[c] ?? DEFAULT_BASKET_EUR;
  });
  normalize(popularity);

  const storeList = createStores(seed, stores, categories, popularity, center, spreadKm);
  const storesByCategory = categories.map((_, c) =>
    Int32Array.from(storeList.filter((s) => s.categoryIndex === c).map((s) => s.index)),
  );

  const sales = Array.from({ length: days }, (_, d) =>
    createSales({ seed, categories, popularity, startMs }, d, salesPerDay),
  );
  return {
    seed,
    startMs,
    days,
    salesPerDay,
    center,
    categories,
    categoryIndex,
    follows,
    popularity,
    basketEur,
    zones,
    locales,
    users: createUsers(seed, users, days, C, popularity, zones, locales, center, spreadKm, rates, calendar),
    stores: storeList,
    storesByCategory,
    sales,
    rates,
    calendar,
  };
}

function normalize(a: Float64Array): void {
  let s = 0;
  for (const v of a) s += v;
  for (let i = 0; i < a.length; i++) a[i] = (a[i] as number) / s;
}
