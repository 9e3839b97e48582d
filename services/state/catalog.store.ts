/**
 * The catalog: stores by category and the sales that are valid now. Stores expire unless refreshed (TTL.store)
 * and a store that changes category leaves its old category's set, so the catalog is bounded by what the
 * `stores` and `sales` topics keep alive.
 */
import type { Redis } from 'ioredis';
import { TTL, type StateKeys } from '../../shared/keys';
import { ttlMs, type Clock } from '../../shared/clock';
import type { GeoPoint } from '../../shared/schemas/common';
import type { Sale, Store } from '../../shared/schemas/events.schema';
import { execOrThrow } from './redis';

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

/** How long past its end a sale stays readable (clock time). */
const SALE_GRACE_MS = 86_400_000;

/** `clock` turns expiries measured in clock time (a sale's end) into Redis TTLs, which run on the wall clock. */
export function createCatalogStore(redis: Redis, keys: StateKeys, clock: Clock) {
  return {
    /** Folds store and sale events, in the order given. */
    async fold(events: { stores?: readonly Store[]; sales?: readonly Sale[] }): Promise<void> {
      const stores = events.stores ?? [];
      const sales = events.sales ?? [];
      if (stores.length === 0 && sales.length === 0) return;
      // A store's events share a partition (keyed by storeId), so no other writer moves it meanwhile.
      const before =
        stores.length > 0
          ? ((await execOrThrow(
              stores.reduce((p, e) => p.hget(keys.store(e.storeId), 'category'), redis.pipeline()),
            )) as Array<string | null>)
          : [];
      const p = redis.pipeline();
      const current = new Map<string, string | null>();
      stores.forEach((e, i) => {
        const old = current.has(e.storeId) ? current.get(e.storeId) : before[i];
        if (old && old !== e.category) p.srem(keys.storesByCategory(old), e.storeId);
        current.set(e.storeId, e.category);
        p.hset(keys.store(e.storeId), {
          name: e.name,
          category: e.category,
          lat: String(e.lat),
          lon: String(e.lon),
          discount: String(e.discount),
        });
        p.pexpire(keys.store(e.storeId), TTL.store);
        p.sadd(keys.storesByCategory(e.category), e.storeId);
        p.pexpire(keys.storesByCategory(e.category), TTL.store);
        p.geoadd(keys.storesGeo, e.lon, e.lat, e.storeId);
        p.pexpire(keys.storesGeo, TTL.store);
      });
      for (const e of sales) {
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
      await execOrThrow(p);
    },

    /** The live stores of these categories. Ids whose store expired are dropped from their set here. */
    async storesInCategories(categories: readonly string[]): Promise<StoreState[]> {
      if (categories.length === 0) return [];
      const p1 = redis.pipeline();
      for (const c of categories) p1.smembers(keys.storesByCategory(c));
      const sets = (await execOrThrow(p1)) as string[][];
      const ids = sets.flatMap((members, i) => members.map((id) => ({ id, category: categories[i]! })));
      if (ids.length === 0) return [];
      const p2 = redis.pipeline();
      for (const { id } of ids) p2.hmget(keys.store(id), 'name', 'category', 'lat', 'lon', 'discount');
      const rows = await execOrThrow(p2);
      const out: StoreState[] = [];
      const gone = redis.pipeline();
      rows.forEach((v, i) => {
        const [name, category, lat, lon, discount] = v as Array<string | null>;
        const { id, category: setCategory } = ids[i]!;
        if (!name || !category) {
          gone.srem(keys.storesByCategory(setCategory), id);
          return;
        }
        out.push({
          storeId: id,
          name,
          category,
          location: { lat: Number(lat), lon: Number(lon) },
          discount: Number(discount),
        });
      });
      if (gone.length > 0) await execOrThrow(gone);
      return out;
    },

    /**
     * The live stores within `radiusKm` of a point, nearest first, at most `limit`, with their distance.
     * Ids whose store expired are dropped from the index here.
     */
    async storesNear(
      point: GeoPoint,
      radiusKm: number,
      limit: number,
    ): Promise<Array<StoreState & { distanceKm: number }>> {
      const found = (await redis.geosearch(
        keys.storesGeo,
        'FROMLONLAT',
        point.lon,
        point.lat,
        'BYRADIUS',
        radiusKm,
        'km',
        'WITHDIST',
        'ASC',
        'COUNT',
        limit,
      )) as Array<[string, string]>;
      if (found.length === 0) return [];
      const p = redis.pipeline();
      for (const [id] of found) p.hmget(keys.store(id), 'name', 'category', 'lat', 'lon', 'discount');
      const rows = await execOrThrow(p);
      const out: Array<StoreState & { distanceKm: number }> = [];
      const gone: string[] = [];
      rows.forEach((v, i) => {
        const [name, category, lat, lon, discount] = v as Array<string | null>;
        const [id, dist] = found[i]!;
        if (!name || !category) {
          gone.push(id);
          return;
        }
        out.push({
          storeId: id,
          name,
          category,
          location: { lat: Number(lat), lon: Number(lon) },
          discount: Number(discount),
          distanceKm: Number(dist),
        });
      });
      if (gone.length > 0) await redis.zrem(keys.storesGeo, ...gone);
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
  };
}

export type CatalogStore = ReturnType<typeof createCatalogStore>;
