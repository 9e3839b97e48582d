/**
 * The world's users and their ground truth: time zone, locale, home / work, latent category preferences,
 * price sensitivity, active hours of the week, responsiveness, fatigue sensitivity, opt-in, devices and
 * personal activity rates. Stored column-wise in typed arrays (a 100,000-user world is ~35 MB) and
 * addressed by index; each user draws from a random stream of their own, so users do not shift each other.
 */
import type { GeoPoint } from '../../../shared/schemas/common';
import { KM_PER_DEG_LAT, type ZoneShare } from './catalog';
import { SLOTS_PER_DAY, SLOT_MS, WEEK_HOURS, type ZoneCalendar } from './calendar';
import { Rng, hashSeed } from './rng';

// Local bindings: inside jest's vm context every Math.* lookup is ~40x slower than a call through one.
const { PI, abs, cos, exp, floor, max, min, round } = Math;

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

/** Creates the users, each from its own stream (`hashSeed(seed, "user")`, index). */
export function createUsers(
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
