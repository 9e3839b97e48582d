/**
 * The simulated world and its ground truth: users (time zone, locale, home / work, latent category
 * preferences, price sensitivity, active hours of the week, responsiveness, fatigue sensitivity, opt-in,
 * devices), stores and the daily sales. Pure and deterministic from the seed.
 *
 * Users are stored column-wise in typed arrays (a 100,000-user world is ~35 MB) and addressed by index;
 * their ids are `u` + the zero-padded index. Helpers below read one user's truth as plain values.
 */
import { z } from 'zod';
import type { GeoPoint } from '../../../shared/schemas/common';
import {
  BASKET_EUR,
  BROAD_APPEAL,
  DEFAULT_BASKET_EUR,
  SALE_HOOKS,
  STORE_NAME_PREFIXES,
  defaultZoneMix,
  prettyCategory,
  type ZoneShare,
} from './catalog';
import { DAY_MS, HOUR_MS, SLOTS_PER_DAY, SLOT_MS, WEEK_HOURS, ZoneCalendar } from './calendar';
import { Rng, createRng, hashHex, hashSeed } from './rng';
import { distanceKm } from '../../../shared/geo';
import { AffinityFile } from '../../affinity/affinity-table';

// Local bindings: inside jest's vm context every Math.* lookup is ~40x slower than a call through one.
const { PI, abs, cos, exp, floor, max, min, pow, round } = Math;

/** The market-basket table of infra/data/affinity.json (Herald's own schema), with at most 255 categories. */
export const AffinityTableSchema = AffinityFile.refine((f) => f.categories.length <= 255, {
  message: 'at most 255 categories',
  path: ['categories'],
});
export type AffinityTable = z.infer<typeof AffinityTableSchema>;

/** Rates of the generated behaviour. Each user's own rates scatter around these means. */
export interface ActivityRates {
  /** Mean organic purchases per user per day (follow-ups come on top). Default 0.25. */
  purchasesPerDay: number;
  /** Mean browse sessions per user per day. Default 0.8. */
  browseSessionsPerDay: number;
  /** Mean location pings per user per day. Default 3. */
  pingsPerDay: number;
  /** Probability of a follow-up purchase in B after one in A is `affinity(A -> B) * followUpScale`, capped at 1. Default 1. */
  followUpScale: number;
  /** A follow-up purchase happens within this many days of its trigger. Default 3. */
  followUpWindowDays: number;
  /** Share of purchases preceded by view / add_to_cart browse events. Default 0.6. */
  browseTrailShare: number;
  /** Share of browse sessions that end in an add_to_cart without a purchase. Default 0.3. */
  abandonedCartShare: number;
  /** Share of users who flip their push opt-in once during the run (a profile event). Default 0.02. */
  optToggleShare: number;
  /** Share of users whose device tokens are refreshed once during the run (a profile event). Default 0.03. */
  tokenRefreshShare: number;
}

export const DEFAULT_ACTIVITY: Readonly<ActivityRates> = {
  purchasesPerDay: 0.25,
  browseSessionsPerDay: 0.8,
  pingsPerDay: 3,
  followUpScale: 1,
  followUpWindowDays: 3,
  browseTrailShare: 0.6,
  abandonedCartShare: 0.3,
  optToggleShare: 0.02,
  tokenRefreshShare: 0.03,
};

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
  /** The parsed affinity table (categories and which categories follow each). */
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

export type Platform = 'ios' | 'android' | 'web';
export const PLATFORMS: readonly Platform[] = ['ios', 'android', 'web'];

/** Users, column-wise. Row `i` of a per-user matrix starts at `i * width`. */
export interface UserTable {
  readonly count: number;
  /** Digits of the zero-padded index in ids. */
  readonly idWidth: number;
  /** Index into `world.zones`. */
  readonly zone: Uint8Array;
  /** Index into `world.locales`. */
  readonly locale: Uint8Array;
  readonly homeLat: Float64Array;
  readonly homeLon: Float64Array;
  /** Equal to home for users without a workplace. */
  readonly workLat: Float64Array;
  readonly workLon: Float64Array;
  readonly hasWork: Uint8Array;
  /** Latent preference over categories, `count x C`, each row sums to 1. */
  readonly prefs: Float32Array;
  /** Each user's largest preference and its category index. */
  readonly maxPref: Float32Array;
  readonly topCategory: Uint8Array;
  /** 0..1: how much a discount matters. */
  readonly priceSensitivity: Float32Array;
  /** Active hours, `count x 168` (`(weekday - 1) * 24 + local hour`), 1..255; each user's peak is 255. */
  readonly activeHours: Uint8Array;
  /** Open probability of an ideal push (best category, deep discount, peak hour, no fatigue), 0.05..0.5. */
  readonly responsiveness: Float32Array;
  /** How fast the open probability falls with recent pushes, 0.05..0.6. */
  readonly fatigueSensitivity: Float32Array;
  /** Push opt-in at the start of the run. */
  readonly pushOptIn: Uint8Array;
  /** Instant (ms) at which the user flips the opt-in, NaN if never. */
  readonly optToggleAt: Float64Array;
  /** 0..2 devices; their platforms in `devicePlatform[i * 2 + k]` (index into PLATFORMS). */
  readonly deviceCount: Uint8Array;
  readonly devicePlatform: Uint8Array;
  /** Instant (ms) at which the device tokens are refreshed, NaN if never. */
  readonly tokenRefreshAt: Float64Array;
  /** Personal means per day. */
  readonly purchaseRate: Float32Array;
  readonly browseRate: Float32Array;
  readonly pingRate: Float32Array;
}

export interface StoreSpec {
  readonly index: number;
  readonly id: string;
  readonly name: string;
  readonly category: string;
  readonly categoryIndex: number;
  readonly lat: number;
  readonly lon: number;
  /** Standing discount, 0..50. */
  readonly discount: number;
}

export interface SaleSpec {
  readonly id: string;
  readonly day: number;
  readonly title: string;
  readonly category: string;
  readonly categoryIndex: number;
  /** 5..70. */
  readonly discount: number;
  readonly validFrom: number;
  readonly validTo: number;
  readonly deepLink: string;
  /** Broad-appeal category with a deep discount. */
  readonly popular: boolean;
}

export interface FollowEdge {
  readonly to: number;
  readonly affinity: number;
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

const KM_PER_DEG_LAT = 111.32;

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
  const table = AffinityTableSchema.parse(options.affinity);
  const categories = table.categories;
  const C = categories.length;
  const categoryIndex = new Map(categories.map((c, i) => [c, i] as const));
  if (categoryIndex.size !== C) throw new RangeError('createWorld: affinity categories must be unique');
  const follows = categories.map((c) =>
    (table.follows[c] ?? []).map((e) => {
      const to = categoryIndex.get(e.category);
      if (to === undefined)
        throw new RangeError(`createWorld: affinity ${c} -> ${e.category}: unknown category`);
      return { to, affinity: e.affinity };
    }),
  );
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

function createUsers(
  seed: number,
  count: number,
  days: number,
  C: number,
  popularity: Float64Array,
  zones: readonly ZoneShare[],
  locales: readonly string[],
  center: GeoPoint,
  spreadKm: number,
  rates: ActivityRates,
  calendar: ZoneCalendar,
): UserTable {
  const u: UserTable = {
    count,
    idWidth: max(6, String(count - 1).length),
    zone: new Uint8Array(count),
    locale: new Uint8Array(count),
    homeLat: new Float64Array(count),
    homeLon: new Float64Array(count),
    workLat: new Float64Array(count),
    workLon: new Float64Array(count),
    hasWork: new Uint8Array(count),
    prefs: new Float32Array(count * C),
    maxPref: new Float32Array(count),
    topCategory: new Uint8Array(count),
    priceSensitivity: new Float32Array(count),
    activeHours: new Uint8Array(count * WEEK_HOURS),
    responsiveness: new Float32Array(count),
    fatigueSensitivity: new Float32Array(count),
    pushOptIn: new Uint8Array(count),
    optToggleAt: new Float64Array(count).fill(NaN),
    deviceCount: new Uint8Array(count),
    devicePlatform: new Uint8Array(count * 2),
    tokenRefreshAt: new Float64Array(count).fill(NaN),
    purchaseRate: new Float32Array(count),
    browseRate: new Float32Array(count),
    pingRate: new Float32Array(count),
  };
  const zoneWeights = zones.map((z) => z.weight);
  const zoneLocales = zones.map((z) => z.locales.map((l) => locales.indexOf(l)));
  const cumPop = new Float64Array(C);
  let acc = 0;
  for (let c = 0; c < C; c++) cumPop[c] = acc += popularity[c] as number;
  const raw = new Float64Array(C);
  const hours = new Float64Array(WEEK_HOURS);
  const latDeg = spreadKm / KM_PER_DEG_LAT;
  const lonDeg = spreadKm / (KM_PER_DEG_LAT * cos((center.lat * PI) / 180));

  const userBase = hashSeed(seed, 'user');
  for (let i = 0; i < count; i++) {
    const rng = new Rng(hashSeed(userBase, i));
    const z = rng.weightedIndex(zoneWeights);
    u.zone[i] = z;
    const zl = zoneLocales[z] as number[];
    u.locale[i] = (rng.bernoulli(0.8) ? zl[0] : rng.pick(zl)) as number;

    u.homeLat[i] = center.lat + rng.normal(0, latDeg);
    u.homeLon[i] = center.lon + rng.normal(0, lonDeg);
    if (rng.bernoulli(0.8)) {
      u.hasWork[i] = 1;
      u.workLat[i] = center.lat + rng.normal(0, latDeg * 0.6);
      u.workLon[i] = center.lon + rng.normal(0, lonDeg * 0.6);
    } else {
      u.workLat[i] = u.homeLat[i] as number;
      u.workLon[i] = u.homeLon[i] as number;
    }

    // Dirichlet-like: a faint background over every category plus 1..5 dominant ones, drawn by popularity.
    const background = rng.uniform(0.02, 0.1);
    for (let c = 0; c < C; c++) raw[c] = background * (popularity[c] as number) * C * rng.uniform(0.2, 1);
    const dominant = min(5, 1 + rng.poisson(1.2));
    for (let k = 0; k < dominant; k++) {
      const r = rng.next() * acc;
      let c = 0;
      while (c < C - 1 && (cumPop[c] as number) <= r) c++;
      raw[c] = (raw[c] as number) + 0.3 + rng.exponential(1);
    }
    let sum = 0;
    for (let c = 0; c < C; c++) sum += raw[c] as number;
    let best = 0;
    for (let c = 0; c < C; c++) {
      u.prefs[i * C + c] = (raw[c] as number) / sum;
      if ((raw[c] as number) > (raw[best] as number)) best = c;
    }
    u.topCategory[i] = best;
    u.maxPref[i] = u.prefs[i * C + best] as number;

    u.priceSensitivity[i] = rng.beta(2, 2.5);
    u.responsiveness[i] = 0.05 + 0.45 * rng.beta(1.6, 3.5);
    u.fatigueSensitivity[i] = 0.05 + 0.55 * rng.beta(2, 3);

    activeHoursOf(rng, hours);
    let peak = 0;
    for (let h = 0; h < WEEK_HOURS; h++) if ((hours[h] as number) > peak) peak = hours[h] as number;
    for (let h = 0; h < WEEK_HOURS; h++) {
      u.activeHours[i * WEEK_HOURS + h] = max(1, round(((hours[h] as number) / peak) * 255));
    }

    u.pushOptIn[i] = rng.bernoulli(0.9) ? 1 : 0;
    const dr = rng.next();
    const devices = dr < 0.05 ? 0 : dr < 0.7 ? 1 : 2;
    u.deviceCount[i] = devices;
    for (let k = 0; k < devices; k++) {
      const pr = rng.next();
      u.devicePlatform[i * 2 + k] = pr < 0.55 ? 1 : pr < 0.93 ? 0 : 2;
    }

    u.purchaseRate[i] = rates.purchasesPerDay * rng.logNormal(-0.32, 0.8);
    u.browseRate[i] = rates.browseSessionsPerDay * rng.logNormal(-0.32, 0.8);
    u.pingRate[i] = rates.pingsPerDay * rng.uniform(0.5, 1.5);

    if (days > 0 && rng.bernoulli(rates.optToggleShare))
      u.optToggleAt[i] = activeInstant(u, i, calendar, rng.int(days), rng);
    if (days > 0 && devices > 0 && rng.bernoulli(rates.tokenRefreshShare)) {
      u.tokenRefreshAt[i] = activeInstant(u, i, calendar, rng.int(days), rng);
    }
  }
  return u;
}

/** Typical local hours people pick up their phone. */
const PEAK_ARCHETYPES = [7.5, 8.5, 12.5, 13.5, 16, 18.5, 20, 21, 22, 23] as const;

/** Fills `out` (168) with a personal weekly activity curve: 1..3 peaks, shifted and re-weighted at the weekend. */
function activeHoursOf(rng: Rng, out: Float64Array): void {
  const chronotype = rng.normal(0, 1);
  const k = rng.weightedIndex([0.3, 0.45, 0.25]) + 1;
  const mu: number[] = [];
  const sigma: number[] = [];
  const amp: number[] = [];
  for (let p = 0; p < k; p++) {
    mu.push(rng.pick(PEAK_ARCHETYPES) + chronotype + rng.normal(0, 0.7));
    sigma.push(rng.uniform(0.6, 1.8));
    amp.push(p === 0 ? 1 : rng.uniform(0.35, 0.95));
  }
  const weekendShift = rng.uniform(0.5, 2.5);
  const weekendExtra = rng.bernoulli(0.5) ? rng.uniform(11, 17) : -1;
  const weekendAmp = rng.uniform(0.4, 1);
  const baseline = rng.uniform(0.02, 0.08);
  const weekday = new Float64Array(24);
  const weekend = new Float64Array(24);
  for (let h = 0; h < 24; h++) {
    const t = h + 0.5;
    const base = t >= 7 && t <= 23.5 ? baseline : baseline * 0.15;
    let wd = base;
    let we = base;
    for (let p = 0; p < k; p++) {
      wd += (amp[p] as number) * bump(t, mu[p] as number, sigma[p] as number);
      we += (amp[p] as number) * 0.8 * bump(t, (mu[p] as number) + weekendShift, (sigma[p] as number) * 1.2);
    }
    if (weekendExtra >= 0) we += weekendAmp * bump(t, weekendExtra, 1.5);
    weekday[h] = wd;
    weekend[h] = we;
  }
  for (let d = 0; d < 7; d++) {
    const factor = rng.uniform(0.7, 1);
    const row = d >= 5 ? weekend : weekday;
    for (let h = 0; h < 24; h++) out[d * 24 + h] = factor * (row[h] as number);
  }
}

/** A Gaussian bump on the 24 h circle. */
function bump(t: number, mu: number, sigma: number): number {
  let d = abs(t - mu) % 24;
  if (d > 12) d = 24 - d;
  return exp((-d * d) / (2 * sigma * sigma));
}

/**
 * An instant within the UTC window of `day` drawn from the user's active hours (rejection on quarter-hour
 * slots; the accept rate is the slot's weight relative to the user's weekly peak).
 */
export function activeInstant(
  users: UserTable,
  i: number,
  calendar: ZoneCalendar,
  day: number,
  rng: Rng,
): number {
  const slots = calendar.slots(day);
  const z = (users.zone[i] as number) * SLOTS_PER_DAY;
  const row = i * WEEK_HOURS;
  const start = calendar.dayStart(day);
  let slot = 0;
  for (let tries = 0; tries < 256; tries++) {
    slot = rng.int(SLOTS_PER_DAY);
    if (rng.next() * 255 < (users.activeHours[row + (slots[z + slot] as number)] as number)) break;
  }
  return start + slot * SLOT_MS + floor(rng.next() * SLOT_MS);
}

/** An instant in [from, to) drawn from the user's active hours (same rejection, across days). */
export function activeInstantBetween(
  users: UserTable,
  i: number,
  calendar: ZoneCalendar,
  from: number,
  to: number,
  rng: Rng,
): number {
  const row = i * WEEK_HOURS;
  const z = users.zone[i] as number;
  let t = from;
  for (let tries = 0; tries < 256; tries++) {
    t = from + floor(rng.next() * (to - from));
    if (rng.next() * 255 < (users.activeHours[row + calendar.weekIndexAt(z, t)] as number)) break;
  }
  return t;
}

function createStores(
  seed: number,
  count: number,
  categories: readonly string[],
  popularity: Float64Array,
  center: GeoPoint,
  spreadKm: number,
): StoreSpec[] {
  const rng = createRng(seed, 'stores');
  const C = categories.length;
  // Cover every category first (when there are enough stores), then more stores where more people shop.
  const coverage = rng.shuffle(categories.map((_, c) => c));
  const weights = Array.from(popularity, (p) => pow(p, 0.8) * rng.logNormal(0, 0.3));
  const latDeg = (spreadKm * 0.9) / KM_PER_DEG_LAT;
  const lonDeg = (spreadKm * 0.9) / (KM_PER_DEG_LAT * cos((center.lat * PI) / 180));
  const out: StoreSpec[] = [];
  for (let i = 0; i < count; i++) {
    const c = i < C ? (coverage[i] as number) : rng.weightedIndex(weights);
    const category = categories[c] as string;
    out.push({
      index: i,
      id: `s${i}`,
      name: `${rng.pick(STORE_NAME_PREFIXES)} ${prettyCategory(category)} #${i}`,
      category,
      categoryIndex: c,
      lat: round6(center.lat + rng.normal(0, latDeg)),
      lon: round6(center.lon + rng.normal(0, lonDeg)),
      discount: rng.bernoulli(0.5) ? 0 : 5 * rng.intBetween(1, 10),
    });
  }
  return out;
}

/** The sales published on `day` (deterministic; `world.sales[day]` holds them for the run's days). */
export function createSales(
  world: Pick<World, 'seed' | 'categories' | 'popularity' | 'startMs'>,
  day: number,
  count: number,
): SaleSpec[] {
  const rng = createRng(world.seed, 'sales', day);
  const C = world.categories.length;
  const byPopularity = Array.from(world.popularity, (p, c) => ({ p, c })).sort((a, b) => b.p - a.p);
  const broad = byPopularity.slice(0, min(6, C));
  const nicheWeights = Array.from(world.popularity, (p) => pow(p, 0.3));
  const popularCount = count === 0 ? 0 : max(1, round(count * 0.1));
  const dayStart = world.startMs + day * DAY_MS;
  const out: SaleSpec[] = [];
  for (let n = 0; n < count; n++) {
    const popular = n < popularCount;
    const c = popular
      ? (broad[rng.weightedIndex(broad.map((b) => b.p))] as { c: number }).c
      : rng.weightedIndex(nicheWeights);
    const discount = popular ? rng.intBetween(40, 70) : 5 + round(35 * rng.beta(1.5, 2.5));
    const upcoming = rng.bernoulli(0.2);
    const validFrom = upcoming
      ? dayStart + rng.intBetween(6, 18) * HOUR_MS
      : dayStart - rng.intBetween(0, 12) * 15 * 60_000;
    const validTo = validFrom + rng.intBetween(1, 3) * DAY_MS;
    const category = world.categories[c] as string;
    const id = `sale-${day}-${n}`;
    out.push({
      id,
      day,
      title: `${rng.pick(SALE_HOOKS)}: ${discount}% off ${prettyCategory(category).toLowerCase()}`,
      category,
      categoryIndex: c,
      discount,
      validFrom,
      validTo,
      deepLink: `https://shop.example/sale/${id}`,
      popular,
    });
  }
  return out;
}

function normalize(a: Float64Array): void {
  let s = 0;
  for (const v of a) s += v;
  for (let i = 0; i < a.length; i++) a[i] = (a[i] as number) / s;
}

function round6(x: number): number {
  return round(x * 1e6) / 1e6;
}

// ---------------------------------------------------------------------------------------------------------
// Ground truth, one user at a time.

/** A user given by id (`u000042`) or index. */
export type UserRef = string | number;

export function userId(world: World, index: number): string {
  const id = `u${String(index).padStart(world.users.idWidth, '0')}`;
  id.charCodeAt(0); // flatten the rope now: ids are kept in many events
  return id;
}

/** Index of a user; throws RangeError for an unknown id. */
export function userIndex(world: World, ref: UserRef): number {
  const i = typeof ref === 'number' ? ref : /^u\d+$/.test(ref) ? Number(ref.slice(1)) : NaN;
  if (!Number.isInteger(i) || i < 0 || i >= world.users.count)
    throw new RangeError(`unknown user ${String(ref)}`);
  return i;
}

export function timeZoneOf(world: World, ref: UserRef): string {
  return (world.zones[world.users.zone[userIndex(world, ref)] as number] as ZoneShare).zone;
}

/** The user's latent preference for each category (sums to 1). */
export function preferencesOf(world: World, ref: UserRef): Record<string, number> {
  const i = userIndex(world, ref);
  const C = world.categories.length;
  const out: Record<string, number> = {};
  world.categories.forEach((c, k) => (out[c] = world.users.prefs[i * C + k] as number));
  return out;
}

export function preference(world: World, ref: UserRef, category: string): number {
  const c = world.categoryIndex.get(category);
  if (c === undefined) return 0;
  return world.users.prefs[userIndex(world, ref) * world.categories.length + c] as number;
}

/** The category the user prefers most (for dominant-category segments). */
export function dominantCategory(world: World, ref: UserRef): string {
  return world.categories[world.users.topCategory[userIndex(world, ref)] as number] as string;
}

/** Activity weight 0..1 (1 at the user's weekly peak) at a local weekday (1 = Monday) and hour. */
export function activeWeight(world: World, ref: UserRef, weekday: number, hour: number): number {
  const i = userIndex(world, ref);
  return (world.users.activeHours[i * WEEK_HOURS + (weekday - 1) * 24 + hour] as number) / 255;
}

/** Activity weight 0..1 at an instant, in the user's zone (DST-correct). */
export function activeWeightAt(world: World, ref: UserRef, ms: number): number {
  const i = userIndex(world, ref);
  const w = world.calendar.weekIndexAt(world.users.zone[i] as number, ms);
  return (world.users.activeHours[i * WEEK_HOURS + w] as number) / 255;
}

/** The user's local weekday (1 = Monday) and hour at an instant. */
export function localTimeOf(world: World, ref: UserRef, ms: number): { weekday: number; hour: number } {
  const w = world.calendar.weekIndexAt(world.users.zone[userIndex(world, ref)] as number, ms);
  return { weekday: floor(w / 24) + 1, hour: w % 24 };
}

/** The 7 x 24 activity matrix (rows Monday..Sunday, local hours), weights 0..1. */
export function activeHoursOfUser(world: World, ref: UserRef): number[][] {
  const i = userIndex(world, ref);
  return Array.from({ length: 7 }, (_, d) =>
    Array.from(
      { length: 24 },
      (_, h) => (world.users.activeHours[i * WEEK_HOURS + d * 24 + h] as number) / 255,
    ),
  );
}

export function pushOptInAt(world: World, ref: UserRef, ms: number): boolean {
  const i = userIndex(world, ref);
  const flipped = (world.users.optToggleAt[i] as number) <= ms;
  return (world.users.pushOptIn[i] === 1) !== flipped;
}

export interface DeviceTruth {
  platform: Platform;
  token: string;
}

/** The user's devices at an instant (tokens change once at `tokenRefreshAt`). */
export function devicesAt(world: World, ref: UserRef, ms: number): DeviceTruth[] {
  const i = userIndex(world, ref);
  const generation = (world.users.tokenRefreshAt[i] as number) <= ms ? 1 : 0;
  const out: DeviceTruth[] = [];
  for (let k = 0; k < (world.users.deviceCount[i] as number); k++) {
    const platform = PLATFORMS[world.users.devicePlatform[i * 2 + k] as number] as Platform;
    const token =
      platform === 'ios'
        ? hashHex(8, world.seed, 'apns', i, k, generation)
        : platform === 'android'
          ? `fcm-${hashHex(5, world.seed, 'fcm', i, k, generation)}`
          : `web-${hashHex(4, world.seed, 'web', i, k, generation)}`;
    out.push({ platform, token });
  }
  return out;
}

/** Everything the world knows about one user, as plain values. */
export interface UserTruth {
  id: string;
  index: number;
  timeZone: string;
  locale: string;
  currency: string;
  home: GeoPoint;
  work: GeoPoint | undefined;
  preferences: Record<string, number>;
  dominantCategory: string;
  priceSensitivity: number;
  activeHours: number[][];
  responsiveness: number;
  fatigueSensitivity: number;
  pushOptIn: boolean;
  optToggleAt: number | undefined;
  devices: DeviceTruth[];
  purchaseRate: number;
}

export function describeUser(world: World, ref: UserRef): UserTruth {
  const i = userIndex(world, ref);
  const u = world.users;
  const zone = world.zones[u.zone[i] as number] as ZoneShare;
  return {
    id: userId(world, i),
    index: i,
    timeZone: zone.zone,
    locale: world.locales[u.locale[i] as number] as string,
    currency: zone.currency,
    home: { lat: u.homeLat[i] as number, lon: u.homeLon[i] as number },
    work: u.hasWork[i] ? { lat: u.workLat[i] as number, lon: u.workLon[i] as number } : undefined,
    preferences: preferencesOf(world, i),
    dominantCategory: dominantCategory(world, i),
    priceSensitivity: u.priceSensitivity[i] as number,
    activeHours: activeHoursOfUser(world, i),
    responsiveness: u.responsiveness[i] as number,
    fatigueSensitivity: u.fatigueSensitivity[i] as number,
    pushOptIn: u.pushOptIn[i] === 1,
    optToggleAt: Number.isNaN(u.optToggleAt[i]) ? undefined : u.optToggleAt[i],
    devices: devicesAt(world, i, world.startMs),
    purchaseRate: u.purchaseRate[i] as number,
  };
}

/** Great-circle distance in km (haversine). */
export { distanceKm };

/** The sales of a day: precomputed for the run's days, generated on the fly beyond them. */
export function salesOfDay(world: World, day: number): readonly SaleSpec[] {
  return world.sales[day] ?? createSales(world, day, world.salesPerDay);
}

/** The user's own random stream for one purpose and day: independent of every other user, day and purpose. */
export function userStream(world: World, purpose: string, i: number, day: number): Rng {
  return new Rng(hashSeed(world.seed, purpose, i, day));
}
