/**
 * Products and their recommendations: the catalog of the `products` topic, each user's recent line items
 * (bounded: CAP.userProducts, TTL.userProducts), the live popularity per category (cold start before any
 * training), and the versions of the trained recommendations (services/recs) with the pointer that
 * strategies read. A version is loaded whole before the pointer moves to it, so a reader sees the old one
 * or the new one, never half of each; trimmed versions are deleted.
 */
import type { Redis, Result } from 'ioredis';
import { CAP, RECS_SHARDS, TTL, type StateKeys } from '../../shared/keys';
import { fnv1a } from '../../shared/ids';
import { lineItems, type AnyPurchase, type Product } from '../../shared/schemas/events.schema';
import { defineScripts, execOrThrow } from './redis';

export interface ProductState {
  productId: string;
  title: string;
  category: string;
  price: number;
  available: boolean;
  discount: number;
}

/** One line item of a user's history. */
export interface ProductLine {
  productId: string;
  quantity: number;
  unitPrice: number;
  /** Purchase instant, ms. */
  at: number;
}

/** A user's trained candidates: [product id, ALS, item-CF, popularity] (each part in [0, 1]). */
export interface RecsRow {
  c: Array<[string, number, number, number]>;
}

/** A product's trained facts: its item-CF neighbours [id, similarity] and its repurchase cycle (days). */
export interface ItemRow {
  n: Array<[string, number]>;
  c?: number;
}

/** A trained version, as the loader hands it over. */
export interface RecsVersion {
  users: Iterable<readonly [string, RecsRow]>;
  items: Iterable<readonly [string, ItemRow]>;
  /** category ('*' for all) -> [product id, buyers] most bought first. */
  popular: Iterable<readonly [string, Array<[string, number]>]>;
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    pushLines(
      list: string,
      eventId: string,
      cap: number,
      ttlMs: number,
      ...lines: string[]
    ): Result<number, Context>;
  }
}

const SCRIPTS = {
  /**
   * Appends a purchase's lines to the user's list unless the purchase is already there (a redelivery), keeps
   * the newest `cap`, refreshes the TTL. Returns 1 if appended. One key: safe on Redis Cluster.
   */
  pushLines: {
    numberOfKeys: 1,
    lua: `
local mark = '"e":' .. cjson.encode(ARGV[1]) .. ','
for _, e in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if string.find(e, mark, 1, true) then return 0 end
end
for i = 4, #ARGV do redis.call('RPUSH', KEYS[1], ARGV[i]) end
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`,
  },
};

function parseLine(s: string): ProductLine {
  const e = JSON.parse(s) as { p: string; q: number; u: number; at: number };
  return { productId: e.p, quantity: e.q, unitPrice: e.u, at: e.at };
}

const shardOf = (userId: string) => fnv1a(userId) % RECS_SHARDS;

/** Writes of a version go in pipelines of this many commands. */
const LOAD_BATCH = 1000;

export function createProductsStore(redis: Redis, keys: StateKeys) {
  defineScripts(redis, SCRIPTS);
  const parse = <T>(s: string | null | undefined): T | undefined => (s ? (JSON.parse(s) as T) : undefined);
  return {
    /** Folds product events (latest wins, in the order given) and the line items of v2 purchases. */
    async fold(events: { products?: readonly Product[]; purchases?: readonly AnyPurchase[] }): Promise<void> {
      const p = redis.pipeline();
      for (const e of events.products ?? []) {
        const k = keys.product(e.productId);
        p.hset(k, {
          title: e.title,
          category: e.category,
          price: String(e.price),
          available: e.available ? '1' : '0',
          discount: String(e.discount),
        });
        p.pexpire(k, TTL.product);
      }
      const withLines = (events.purchases ?? []).filter((e) => lineItems(e).length > 0);
      for (const e of withLines) {
        const at = Date.parse(e.at);
        p.pushLines(
          keys.userProducts(e.userId),
          e.eventId,
          CAP.userProducts,
          TTL.userProducts,
          ...lineItems(e).map((l) =>
            JSON.stringify({ e: e.eventId, p: l.productId, q: l.quantity, u: l.unitPrice, at }),
          ),
        );
      }
      if (p.length === 0) return;
      const res = await execOrThrow(p);
      // Live popularity counts each purchase once: only those appended just now.
      const appended = withLines.filter((_, i) => res[res.length - withLines.length + i] === 1);
      if (appended.length === 0) return;
      const q = redis.pipeline();
      const touched = new Set<string>();
      for (const e of appended) {
        for (const l of lineItems(e)) q.zincrby(keys.popularProducts(e.category), 1, l.productId);
        touched.add(e.category);
      }
      for (const c of touched) q.zremrangebyrank(keys.popularProducts(c), 0, -CAP.popularProducts - 1);
      await execOrThrow(q);
    },

    /** The products the catalog knows, by id. */
    async getProducts(ids: readonly string[]): Promise<Map<string, ProductState>> {
      const out = new Map<string, ProductState>();
      if (ids.length === 0) return out;
      const p = redis.pipeline();
      for (const id of ids) p.hmget(keys.product(id), 'title', 'category', 'price', 'available', 'discount');
      const res = (await execOrThrow(p)) as Array<Array<string | null>>;
      ids.forEach((productId, i) => {
        const [title, category, price, available, discount] = res[i]!;
        if (!title || !category) return;
        out.set(productId, {
          productId,
          title,
          category,
          price: Number(price ?? 0),
          available: available === '1',
          discount: Number(discount ?? 0),
        });
      });
      return out;
    },

    /** The user's recent line items, oldest first. */
    async history(userId: string): Promise<ProductLine[]> {
      return (await redis.lrange(keys.userProducts(userId), 0, -1)).map(parseLine);
    },

    /** Several users' recent line items in one round trip, oldest first, in the order of `userIds`. */
    async histories(userIds: readonly string[]): Promise<ProductLine[][]> {
      if (userIds.length === 0) return [];
      const p = redis.pipeline();
      for (const u of userIds) p.lrange(keys.userProducts(u), 0, -1);
      const res = (await execOrThrow(p)) as string[][];
      return res.map((raw) => raw.map(parseLine));
    },

    /** The live most bought products of a category, [id, line items], best first. */
    async livePopular(category: string, n: number): Promise<Array<[string, number]>> {
      const raw = await redis.zrevrange(keys.popularProducts(category), 0, n - 1, 'WITHSCORES');
      const out: Array<[string, number]> = [];
      for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i]!, Number(raw[i + 1])]);
      return out;
    },

    /** The version strategies read, or null before the first load. */
    current: (): Promise<string | null> => redis.get(keys.recsCurrent),

    /** A user's trained row in `version`, or undefined (a user new since that training). */
    async userRecs(version: string, userId: string): Promise<RecsRow | undefined> {
      return parse<RecsRow>(await redis.hget(keys.recsUsers(version, shardOf(userId)), userId));
    },

    /** Several users' trained rows in `version` in one round trip, in the order of `userIds`. */
    async usersRecs(version: string, userIds: readonly string[]): Promise<Array<RecsRow | undefined>> {
      if (userIds.length === 0) return [];
      const p = redis.pipeline();
      for (const u of userIds) p.hget(keys.recsUsers(version, shardOf(u)), u);
      return ((await execOrThrow(p)) as Array<string | null>).map((s) => parse<RecsRow>(s));
    },

    /** Trained facts of products in `version`. */
    async items(version: string, ids: readonly string[]): Promise<Map<string, ItemRow>> {
      const out = new Map<string, ItemRow>();
      if (ids.length === 0) return out;
      const rows = await redis.hmget(keys.recsItems(version), ...ids);
      ids.forEach((id, i) => {
        const row = parse<ItemRow>(rows[i]);
        if (row) out.set(id, row);
      });
      return out;
    },

    /** The trained most bought products of a category ('*' for all) in `version`. */
    async popular(version: string, category: string): Promise<Array<[string, number]>> {
      return parse<Array<[string, number]>>(await redis.hget(keys.recsPopular(version), category)) ?? [];
    },

    /** Writes a whole version; strategies do not see it until `switchTo`. Returns the users written. */
    async load(version: string, v: RecsVersion): Promise<number> {
      let p = redis.pipeline();
      let users = 0;
      const flush = async (force = false) => {
        if (p.length >= LOAD_BATCH || (force && p.length > 0)) {
          await execOrThrow(p);
          p = redis.pipeline();
        }
      };
      for (const [userId, row] of v.users) {
        p.hset(keys.recsUsers(version, shardOf(userId)), userId, JSON.stringify(row));
        users++;
        await flush();
      }
      for (const [id, row] of v.items) {
        p.hset(keys.recsItems(version), id, JSON.stringify(row));
        await flush();
      }
      for (const [category, list] of v.popular) {
        p.hset(keys.recsPopular(version), category, JSON.stringify(list));
        await flush();
      }
      for (let s = 0; s < RECS_SHARDS; s++) p.pexpire(keys.recsUsers(version, s), TTL.recsVersion);
      p.pexpire(keys.recsItems(version), TTL.recsVersion);
      p.pexpire(keys.recsPopular(version), TTL.recsVersion);
      await flush(true);
      return users;
    },

    /**
     * Points strategies at `version` and drops the versions beyond CAP.recsVersions (their keys too). The
     * current version's keys lose their TTL, so it never expires while in service; the versions it replaces
     * get TTL.recsVersion.
     */
    async switchTo(version: string, at: number): Promise<string[]> {
      const p = redis.pipeline();
      p.set(keys.recsCurrent, version);
      p.zadd(keys.recsVersions, at, version);
      for (let s = 0; s < RECS_SHARDS; s++) p.persist(keys.recsUsers(version, s));
      p.persist(keys.recsItems(version));
      p.persist(keys.recsPopular(version));
      await execOrThrow(p);
      const all = await redis.zrevrange(keys.recsVersions, 0, -1);
      const d = redis.pipeline();
      // The replaced versions stay for a rollback, each until TTL.recsVersion after its replacement.
      for (const v of all.slice(0, CAP.recsVersions).filter((x) => x !== version)) {
        for (let s = 0; s < RECS_SHARDS; s++) d.pexpire(keys.recsUsers(v, s), TTL.recsVersion, 'NX');
        d.pexpire(keys.recsItems(v), TTL.recsVersion, 'NX');
        d.pexpire(keys.recsPopular(v), TTL.recsVersion, 'NX');
      }
      const old = all.slice(CAP.recsVersions);
      for (const v of old) {
        for (let s = 0; s < RECS_SHARDS; s++) d.unlink(keys.recsUsers(v, s));
        d.unlink(keys.recsItems(v), keys.recsPopular(v));
        d.zrem(keys.recsVersions, v);
      }
      await execOrThrow(d);
      return old;
    },
  };
}

export type ProductsStore = ReturnType<typeof createProductsStore>;
