/**
 * Users: profiles, devices, where they were last seen, what they buy, and the index a fan-out pages through.
 * Every read and write of a batch is one pipeline, never a round trip per user.
 */
import type { Redis, Result } from 'ioredis';
import { TTL, type StateKeys } from '../../shared/keys';
import type { Device, GeoPoint } from '../../shared/schemas/common';
import type { Browse, LocationPing, Profile, Purchase } from '../../shared/schemas/events.schema';
import { COMMON_SCRIPTS, defineScripts, execOrThrow } from './redis';
import type { FrequentPlace } from '../places/places';

export interface UserState {
  userId: string;
  timeZone: string;
  locale: string;
  optIn: boolean;
  devices: Device[];
  location?: GeoPoint;
  /** Whether the user allows location-based pushes (their profile's locationOptIn; absent: no). */
  locationOptIn?: boolean;
  lastCategory?: string;
  /** Frequent places, heaviest first; loaded only when asked for (getUsers with places). */
  places?: FrequentPlace[];
  /** Epoch ms of the last purchase. */
  lastPurchaseAt?: number;
  /** Purchases per category; loaded only when asked for (getUsers with categories). */
  categories?: Record<string, number>;
}

const USER_FIELDS = [
  'timeZone',
  'locale',
  'optIn',
  'devices',
  'lat',
  'lon',
  'lastCategory',
  'locOptIn',
  'lastPurchaseAt',
] as const;

function toUser(userId: string, v: Array<string | null>): UserState | undefined {
  const [timeZone, locale, optIn, devices, lat, lon, lastCategory, locOptIn, lastPurchaseAt] = v;
  if (!timeZone) return undefined; // no profile yet: Herald does not know how to reach this user
  const user: UserState = {
    userId,
    timeZone,
    locale: locale ?? 'en',
    optIn: optIn === '1',
    devices: devices ? (JSON.parse(devices) as Device[]) : [],
    locationOptIn: locOptIn === '1',
  };
  if (lat != null && lon != null) user.location = { lat: Number(lat), lon: Number(lon) };
  if (lastCategory) user.lastCategory = lastCategory;
  if (lastPurchaseAt) user.lastPurchaseAt = Number(lastPurchaseAt);
  return user;
}

export interface UserEvents {
  profiles?: readonly Profile[];
  purchases?: readonly Purchase[];
  locations?: readonly LocationPing[];
  browse?: readonly Browse[];
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    removeTokens(user: string, ...tokens: string[]): Result<number, Context>;
  }
}

const USER_SCRIPTS = {
  /**
   * Removes the devices whose token is one of ARGV from the user's devices (KEYS[1]); returns how many. In
   * Lua so that a profile folded meanwhile is not overwritten with stale devices.
   */
  removeTokens: {
    numberOfKeys: 1,
    lua: `
local raw = redis.call('HGET', KEYS[1], 'devices')
if not raw then return 0 end
local drop = {}
for i = 1, #ARGV do drop[ARGV[i]] = true end
local keep, removed = {}, 0
for _, d in ipairs(cjson.decode(raw)) do
  if drop[d.token] then removed = removed + 1 else keep[#keep + 1] = d end
end
if removed > 0 then
  redis.call('HSET', KEYS[1], 'devices', #keep == 0 and '[]' or cjson.encode(keep))
end
return removed`,
  },
} as const;

export function createUsersStore(redis: Redis, keys: StateKeys) {
  defineScripts(redis, COMMON_SCRIPTS);
  defineScripts(redis, USER_SCRIPTS);
  return {
    /** Folds events into user state, in the order given. Idempotent: each write sets a value. */
    async fold(events: UserEvents): Promise<void> {
      const p = redis.pipeline();
      for (const e of events.profiles ?? []) {
        const k = keys.user(e.userId);
        const fields: Record<string, string> = {
          timeZone: e.timeZone,
          locale: e.locale,
          optIn: e.pushOptIn ? '1' : '0',
          devices: JSON.stringify(e.devices),
          locOptIn: e.locationOptIn ? '1' : '0',
        };
        if (e.home) Object.assign(fields, { homeLat: String(e.home.lat), homeLon: String(e.home.lon) });
        p.hset(k, fields);
        // A home location is a fallback until the user is seen somewhere.
        if (e.home) {
          p.hsetnx(k, 'lat', String(e.home.lat));
          p.hsetnx(k, 'lon', String(e.home.lon));
        }
        p.pexpire(k, TTL.user);
        p.zadd(keys.users, 0, e.userId);
      }
      for (const e of events.purchases ?? []) {
        const k = keys.user(e.userId);
        p.hset(k, { lastCategory: e.category, lastPurchaseAt: String(Date.parse(e.at)) });
        if (e.location) p.hset(k, { lat: String(e.location.lat), lon: String(e.location.lon) });
        p.pexpire(k, TTL.user);
      }
      for (const e of events.locations ?? []) {
        p.hset(keys.user(e.userId), { lat: String(e.lat), lon: String(e.lon) });
        p.pexpire(keys.user(e.userId), TTL.user);
      }
      for (const e of events.browse ?? []) {
        p.hset(keys.user(e.userId), { lastBrowsed: e.category, lastBrowseAction: e.action });
        p.pexpire(keys.user(e.userId), TTL.user);
      }
      if (p.length > 0) await execOrThrow(p);
    },

    /**
     * Removes device tokens a provider called dead from their users' devices; returns how many left. A
     * later profile event that still lists one brings it back (the app's backend owns the device list).
     */
    async removeTokens(dead: ReadonlyArray<{ userId: string; token: string }>): Promise<number> {
      if (dead.length === 0) return 0;
      const byUser = new Map<string, string[]>();
      for (const d of dead) byUser.set(d.userId, [...(byUser.get(d.userId) ?? []), d.token]);
      const p = redis.pipeline();
      for (const [userId, tokens] of byUser) p.removeTokens(keys.user(userId), ...tokens);
      const res = (await execOrThrow(p)) as number[];
      const n = res.reduce((a, b) => a + b, 0);
      if (n > 0) await redis.hincrby(keys.stats, 'tokens:removed', n);
      return n;
    },

    /** Counts each purchase once in its user's category mix. */
    async countCategories(purchases: readonly Purchase[]): Promise<void> {
      if (purchases.length === 0) return;
      const p = redis.pipeline();
      for (const e of purchases) {
        p.countOnce(keys.seen(`cat-${e.eventId}`), keys.userCategories(e.userId), TTL.seen, e.category);
        p.pexpire(keys.userCategories(e.userId), TTL.user);
      }
      await execOrThrow(p);
    },

    /** The users that have a profile; the others are absent from the map. */
    async getUsers(
      userIds: readonly string[],
      opts: { categories?: boolean } = {},
    ): Promise<Map<string, UserState>> {
      const out = new Map<string, UserState>();
      if (userIds.length === 0) return out;
      const p = redis.pipeline();
      for (const id of userIds) {
        p.hmget(keys.user(id), ...USER_FIELDS);
        if (opts.categories) p.hgetall(keys.userCategories(id));
      }
      const res = await execOrThrow(p);
      const step = opts.categories ? 2 : 1;
      userIds.forEach((id, i) => {
        const u = toUser(id, res[i * step] as Array<string | null>);
        if (!u) return;
        if (opts.categories) {
          const raw = res[i * step + 1] as Record<string, string>;
          u.categories = Object.fromEntries(Object.entries(raw).map(([c, n]) => [c, Number(n)]));
        }
        out.set(id, u);
      });
      return out;
    },

    /** The time zone of each user with a profile. */
    async timeZones(userIds: readonly string[]): Promise<Map<string, string>> {
      const ids = [...new Set(userIds)];
      if (ids.length === 0) return new Map();
      const p = redis.pipeline();
      for (const id of ids) p.hget(keys.user(id), 'timeZone');
      const res = (await execOrThrow(p)) as Array<string | null>;
      return new Map(ids.flatMap((id, i) => (res[i] ? [[id, res[i]] as [string, string]] : [])));
    },

    /** The next page of known user ids after `after` (exclusive), in id order. */
    async pageUsers(after: string, count: number): Promise<string[]> {
      const start = after === '' ? '-' : `(${after}`;
      return redis.zrangebylex(keys.users, start, '+', 'LIMIT', 0, count);
    },

    /**
     * Removes users whose profile expired from the index a fan-out pages through. Each is checked again
     * just before, so a profile folded meanwhile keeps its user; one folded in the instant between the check
     * and the removal is put back by the user's next profile event.
     */
    async forgetUsers(userIds: readonly string[]): Promise<number> {
      if (userIds.length === 0) return 0;
      const p = redis.pipeline();
      for (const id of userIds) p.hexists(keys.user(id), 'timeZone');
      const res = await execOrThrow(p);
      const gone = userIds.filter((_, i) => res[i] === 0);
      if (gone.length > 0) await redis.zrem(keys.users, ...gone);
      return gone.length;
    },
  };
}

export type UsersStore = ReturnType<typeof createUsersStore>;
