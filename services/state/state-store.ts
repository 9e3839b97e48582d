/**
 * Herald's state in Redis: profiles, devices, catalog, sales, winners, the contact ledger, send buckets.
 * Every read and write of a batch is one pipeline, never a round trip per user.
 */
import type { Redis } from 'ioredis';
import { stateKeys, TTL, CAP, type StateKeys } from '../../shared/keys';
import type { Winner } from '../../shared/schemas/jobs.schema';
import { Winner as WinnerSchema } from '../../shared/schemas/jobs.schema';
import type { Device, GeoPoint } from '../../shared/schemas/common';
import type {
  Profile,
  Purchase,
  Sale,
  Store,
  LocationPing,
  Browse,
} from '../../shared/schemas/events.schema';
import { systemClock, ttlMs, type Clock } from '../../shared/clock';
import type { Lane } from '../../shared/queue';
import { withScripts } from './scripts';

export interface UserState {
  userId: string;
  timeZone: string;
  locale: string;
  optIn: boolean;
  devices: Device[];
  location?: GeoPoint;
  lastCategory?: string;
  /** Purchases per category; loaded only when asked for (getUsers with categories). */
  categories?: Record<string, number>;
}

export interface StoreState {
  storeId: string;
  name: string;
  category: string;
  location: GeoPoint;
  discount: number;
}

export interface SaleState {
  saleId: string;
  title: string;
  category: string;
  discount: number;
  validFrom: number;
  validTo: number;
  deepLink: string;
}

export interface DropRecord {
  userId: string;
  reason: string;
  strategy: string;
  targetId: string;
}

const USER_FIELDS = ['timeZone', 'locale', 'optIn', 'devices', 'lat', 'lon', 'lastCategory'] as const;

function toUser(userId: string, v: Array<string | null>): UserState | undefined {
  const [timeZone, locale, optIn, devices, lat, lon, lastCategory] = v;
  if (!timeZone) return undefined; // no profile yet: Herald does not know how to reach this user
  const user: UserState = {
    userId,
    timeZone,
    locale: locale ?? 'en',
    optIn: optIn === '1',
    devices: devices ? (JSON.parse(devices) as Device[]) : [],
  };
  if (lat != null && lon != null) user.location = { lat: Number(lat), lon: Number(lon) };
  if (lastCategory) user.lastCategory = lastCategory;
  return user;
}

/** How long past its end a sale stays readable (clock time). */
const SALE_GRACE_MS = 86_400_000;

/**
 * `clock` turns expiries measured in clock time (a sale's end) into Redis TTLs, which run on the wall clock.
 */
export function createStateStore(redisConn: Redis, prefix: string, clock: Clock = systemClock) {
  const redis = withScripts(redisConn);
  const keys: StateKeys = stateKeys(prefix);

  return {
    keys,
    redis,

    /** Counts an event once, whatever how often it is delivered; returns true the first time. */
    async markSeen(eventIds: readonly string[], field: (i: number) => string): Promise<boolean[]> {
      const p = redis.pipeline();
      eventIds.forEach((id, i) => p.countOnce(keys.seen(id), keys.stats, TTL.seen, field(i)));
      const res = (await p.exec()) ?? [];
      return res.map(([err, v]) => {
        if (err) throw err;
        return v === 1;
      });
    },

    /** Folds events into state. Idempotent: each write sets a value, none accumulates. */
    async fold(events: {
      profiles?: Profile[];
      stores?: Store[];
      sales?: Sale[];
      purchases?: Purchase[];
      locations?: LocationPing[];
      browse?: Browse[];
    }): Promise<void> {
      const p = redis.pipeline();
      for (const e of events.profiles ?? []) {
        const k = keys.user(e.userId);
        const fields: Record<string, string> = {
          timeZone: e.timeZone,
          locale: e.locale,
          optIn: e.pushOptIn ? '1' : '0',
          devices: JSON.stringify(e.devices),
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
      for (const e of events.stores ?? []) {
        p.hset(keys.store(e.storeId), {
          name: e.name,
          category: e.category,
          lat: String(e.lat),
          lon: String(e.lon),
          discount: String(e.discount),
        });
        p.sadd(keys.storesByCategory(e.category), e.storeId);
      }
      for (const e of events.sales ?? []) {
        const validTo = Date.parse(e.validTo);
        p.hset(keys.sale(e.saleId), {
          title: e.title,
          category: e.category,
          discount: String(e.discount),
          validFrom: String(Date.parse(e.validFrom)),
          validTo: String(validTo),
          deepLink: e.deepLink,
        });
        p.pexpire(keys.sale(e.saleId), ttlMs(clock, Math.max(60_000, validTo + SALE_GRACE_MS - clock.now())));
        p.zadd(keys.salesActive, validTo, e.saleId);
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

    async getUsers(
      userIds: readonly string[],
      opts: { categories?: boolean } = {},
    ): Promise<Map<string, UserState>> {
      const p = redis.pipeline();
      for (const id of userIds) {
        p.hmget(keys.user(id), ...USER_FIELDS);
        if (opts.categories) p.hgetall(keys.userCategories(id));
      }
      const res = await execOrThrow(p);
      const step = opts.categories ? 2 : 1;
      const out = new Map<string, UserState>();
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

    /** The next page of known user ids after `after` (exclusive), in id order. */
    async pageUsers(after: string, count: number): Promise<string[]> {
      const start = after === '' ? '-' : `(${after}`;
      return redis.zrangebylex(keys.users, start, '+', 'LIMIT', 0, count);
    },

    async storesInCategories(categories: readonly string[]): Promise<StoreState[]> {
      if (categories.length === 0) return [];
      const p1 = redis.pipeline();
      for (const c of categories) p1.smembers(keys.storesByCategory(c));
      const ids = (await execOrThrow(p1)).flatMap((v) => v as string[]);
      if (ids.length === 0) return [];
      const p2 = redis.pipeline();
      for (const id of ids) p2.hmget(keys.store(id), 'name', 'category', 'lat', 'lon', 'discount');
      const rows = await execOrThrow(p2);
      const out: StoreState[] = [];
      rows.forEach((v, i) => {
        const [name, category, lat, lon, discount] = v as Array<string | null>;
        if (!name || !category) return;
        out.push({
          storeId: ids[i]!,
          name,
          category,
          location: { lat: Number(lat), lon: Number(lon) },
          discount: Number(discount),
        });
      });
      return out;
    },

    /** Sales valid at `now`, with their clicks on `day` (feedback counts them). */
    async activeSales(now: number, day: string): Promise<Array<SaleState & { clicks: number }>> {
      await redis.zremrangebyscore(keys.salesActive, '-inf', `(${now}`);
      const ids = await redis.zrange(keys.salesActive, 0, -1);
      if (ids.length === 0) return [];
      const p = redis.pipeline();
      for (const id of ids) {
        p.hmget(keys.sale(id), 'title', 'category', 'discount', 'validFrom', 'validTo', 'deepLink');
        p.zscore(keys.saleClicks(day), id);
      }
      const res = await execOrThrow(p);
      const out: Array<SaleState & { clicks: number }> = [];
      ids.forEach((saleId, i) => {
        const [title, category, discount, validFrom, validTo, deepLink] = res[2 * i] as Array<string | null>;
        if (!title || !category || !deepLink) return;
        const sale = {
          saleId,
          title,
          category,
          discount: Number(discount),
          validFrom: Number(validFrom),
          validTo: Number(validTo),
          deepLink,
          clicks: Number(res[2 * i + 1] ?? 0),
        };
        if (sale.validFrom <= now) out.push(sale);
      });
      return out;
    },

    /** Which of these users already had their push in the current contact window. */
    async contacted(userIds: readonly string[]): Promise<Set<string>> {
      const p = redis.pipeline();
      for (const id of userIds) p.exists(keys.ledger(id));
      const res = await execOrThrow(p);
      return new Set(userIds.filter((_, i) => res[i] === 1));
    },

    async recordDrops(drops: readonly DropRecord[]): Promise<void> {
      if (drops.length === 0) return;
      const p = redis.pipeline();
      for (const d of drops) {
        p.hincrby(keys.filterDrops, d.reason, 1);
        p.xadd(
          keys.filterLog,
          'MAXLEN',
          '~',
          CAP.filterLog,
          '*',
          'user',
          d.userId,
          'reason',
          d.reason,
          'strategy',
          d.strategy,
          'target',
          d.targetId,
        );
      }
      await execOrThrow(p);
    },

    /** Offers each user a candidate; returns the users for whom it is now the window's winner. */
    async offerWinners(
      offers: ReadonlyArray<{ userId: string; winner: Winner }>,
      ttlMs: number,
    ): Promise<string[]> {
      const p = redis.pipeline();
      for (const o of offers) {
        p.offerWinner(
          keys.winner(o.userId),
          JSON.stringify(o.winner),
          o.winner.score,
          o.winner.decisionId,
          ttlMs,
        );
      }
      const res = await execOrThrow(p);
      return offers.filter((_, i) => res[i] === 1).map((o) => o.userId);
    },

    async getWinners(userIds: readonly string[]): Promise<Map<string, Winner>> {
      if (userIds.length === 0) return new Map();
      const res = await redis.mget(...userIds.map((u) => keys.winner(u)));
      const out = new Map<string, Winner>();
      res.forEach((v, i) => {
        if (v) out.set(userIds[i]!, WinnerSchema.parse(JSON.parse(v)));
      });
      return out;
    },

    /** Books users for delivery at their due instants; a user already booked keeps the earlier time. */
    async book(entries: ReadonlyArray<{ userId: string; due: number }>, lane: Lane = 'bulk'): Promise<void> {
      if (entries.length === 0) return;
      const args: Array<string | number> = [];
      for (const e of entries) args.push(e.due, e.userId);
      await redis.zadd(lane === 'realtime' ? keys.dueRealtime : keys.due, 'LT', ...args);
    },

    /** Claims due users, real-time lane first (see the claimDue script). */
    async claimDue(now: number, count: number, leaseUntil: number): Promise<string[]> {
      return redis.claimDue(keys.dueRealtime, keys.due, keys.inflight, now, count, leaseUntil);
    },

    /** Per user: 'new' (reserved now), 'sent' (already went out), or the push reserved before a crash. */
    async reserveContacts(
      pushes: ReadonlyArray<{ userId: string; json: string }>,
      ttlMs: number,
    ): Promise<Array<{ state: 'new' | 'sent' } | { state: 'pending'; json: string }>> {
      const p = redis.pipeline();
      for (const x of pushes) p.reserveContact(keys.ledger(x.userId), x.json, ttlMs);
      const res = await execOrThrow(p);
      return res.map((v) => {
        const [state, json] = v as [string, string?];
        if (state === 'pending') return { state: 'pending' as const, json: json! };
        return { state: state as 'new' | 'sent' };
      });
    },

    /** Confirms delivery: the ledger says sent, the users leave inflight, counters move. */
    async confirmSent(
      sent: ReadonlyArray<{ userId: string; strategy: string }>,
      done: readonly string[],
    ): Promise<void> {
      const p = redis.pipeline();
      for (const s of sent) {
        p.hset(keys.ledger(s.userId), 'state', 'sent');
        p.hincrby(keys.stats, `sent:${s.strategy}`, 1);
      }
      if (done.length > 0) p.zrem(keys.inflight, ...done);
      await execOrThrow(p);
    },

    async stats(): Promise<Record<string, number>> {
      const raw = await redis.hgetall(keys.stats);
      return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, Number(v)]));
    },
  };
}

export type StateStore = ReturnType<typeof createStateStore>;

async function execOrThrow(p: ReturnType<Redis['pipeline']>): Promise<unknown[]> {
  const res = (await p.exec()) ?? [];
  return res.map(([err, v]) => {
    if (err) throw err;
    return v;
  });
}
