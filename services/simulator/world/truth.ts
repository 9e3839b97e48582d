/**
 * Ground truth, one user at a time: the world's typed arrays read back as plain values, for the behaviour,
 * the response model, the oracle and the tests.
 */
import type { GeoPoint } from '../../../shared/schemas/common';
import { distanceKm } from '../../../shared/geo';
import type { ZoneShare } from './catalog';
import { WEEK_HOURS } from './calendar';
import { Rng, hashHex, hashSeed } from './rng';
import { PLATFORMS, type Platform } from './users';
import type { World } from './world';

// Local bindings: inside jest's vm context every Math.* lookup is ~40x slower than a call through one.
const { floor } = Math;

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
export function preferredCategory(world: World, ref: UserRef): string {
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
    dominantCategory: preferredCategory(world, i),
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

/** The user's own random stream for one purpose and day: independent of every other user, day and purpose. */
export function userStream(world: World, purpose: string, i: number, day: number): Rng {
  return new Rng(hashSeed(world.seed, purpose, i, day));
}
