/**
 * Seeds Herald's state straight into Redis, in the shape ingest's fold() writes it (services/state/
 * state-store.ts): the user hash (profile with a home, so lat/lon too), its TTL, the `users` index, stores by
 * category, and active sales. Pipelined; not part of any timed figure.
 */
import type { Redis } from 'ioredis';
import { stateKeys, TTL } from '../../shared/keys';
import type { Candidate } from '../../shared/schemas/jobs.schema';

export const ZONES = [
  'Europe/Madrid',
  'Europe/Lisbon',
  'Europe/London',
  'America/New_York',
  'America/Mexico_City',
  'America/Sao_Paulo',
  'America/Bogota',
  'Asia/Kolkata',
] as const;

export const CENTER = { lat: 40.4168, lon: -3.7038 };

/** Fixed width, so the lexicographic order of the `users` index is the numeric one. */
export const userId = (prefix: string, i: number) => `${prefix}${String(i).padStart(7, '0')}`;

/** The population's make-up: 1 in 20 opted out, 1 in 33 without a device (the campaign test's rules). */
export const optedOut = (i: number) => i % 20 === 0;
export const noDevice = (i: number) => i % 33 === 1;
export const eligibleCount = (n: number) => {
  let e = 0;
  for (let i = 0; i < n; i++) if (!optedOut(i) && !noDevice(i)) e++;
  return e;
};

/** A deterministic string of `len` url-safe characters (push tokens are opaque and incompressible enough). */
function token(seed: number, len: number, alphabet: string): string {
  let s = '';
  let x = (seed * 2654435761) >>> 0;
  while (s.length < len) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    s += alphabet[x % alphabet.length];
  }
  return s;
}
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const HEX = '0123456789abcdef';

/**
 * The fields fold() writes for a profile event with a home location. Realistic token sizes: an FCM
 * registration token is about 152 characters, an APNs device token 64 hex digits.
 */
export function userFields(i: number): Record<string, string> {
  const ios = i % 3 === 0;
  const devices = noDevice(i)
    ? []
    : [
        ios
          ? { platform: 'ios', token: token(i, 64, HEX) }
          : { platform: 'android', token: token(i, 152, B64) },
      ];
  const r1 = ((i * 7919) % 1000) / 1000 - 0.5;
  const r2 = ((i * 104729) % 1000) / 1000 - 0.5;
  const lat = (CENTER.lat + (r1 * 20) / 111).toFixed(6);
  const lon = (CENTER.lon + (r2 * 20) / 85).toFixed(6);
  return {
    timeZone: ZONES[i % ZONES.length]!,
    locale: 'es-ES',
    optIn: optedOut(i) ? '0' : '1',
    devices: JSON.stringify(devices),
    homeLat: lat,
    homeLon: lon,
    lat,
    lon,
  };
}

export interface SeedResult {
  users: number;
  eligible: number;
  /** Bytes of key names, field names and values written per user (what the data weighs before Redis). */
  rawBytesPerUser: number;
  seconds: number;
}

/**
 * Writes `count` users starting at index `from`. `indexed` users go into the `users` zset (a campaign reaches
 * them); the others exist only as profiles (users a purchase can reach, but the fan-out does not).
 */
export async function seedUsers(
  redis: Redis,
  prefix: string,
  opts: {
    idPrefix: string;
    from?: number;
    count: number;
    indexed: boolean;
    /** Also engagement-hour counters for each user (6 hours of evidence), as the predicted mode reads. */
    hours?: boolean;
    onProgress?: (done: number) => void;
  },
): Promise<SeedResult> {
  const keys = stateKeys(prefix);
  const started = Date.now();
  const from = opts.from ?? 0;
  const CHUNK = 2000;
  let raw = 0;
  let eligible = 0;
  let inflight: Array<Promise<unknown>> = [];
  for (let start = from; start < from + opts.count; start += CHUNK) {
    const p = redis.pipeline();
    const end = Math.min(from + opts.count, start + CHUNK);
    for (let i = start; i < end; i++) {
      const id = userId(opts.idPrefix, i);
      const k = keys.user(id);
      const fields = userFields(i);
      p.hset(k, fields);
      p.pexpire(k, TTL.user);
      if (opts.indexed) p.zadd(keys.users, 0, id);
      if (opts.hours) {
        const minute = String(Math.floor(Date.now() / 60_000));
        const hours: Record<string, string> = {};
        for (const h of [i % 24, (i + 1) % 24, (i + 2) % 24, (i + 7) % 24, (i + 12) % 24, (i + 19) % 24]) {
          hours[`v${h}`] = String(1 + (i % 5));
          hours[`t${h}`] = minute;
        }
        p.hset(keys.hours(id), hours);
        p.pexpire(keys.hours(id), TTL.hours);
      }
      if (!optedOut(i) && !noDevice(i)) eligible++;
      raw += k.length;
      for (const [f, v] of Object.entries(fields)) raw += f.length + v.length;
      if (opts.indexed) raw += id.length;
    }
    inflight.push(p.exec().then(checkPipeline));
    if (inflight.length >= 4) {
      await Promise.all(inflight);
      inflight = [];
      opts.onProgress?.(end - from);
    }
  }
  await Promise.all(inflight);
  return {
    users: opts.count,
    eligible,
    rawBytesPerUser: raw / opts.count,
    seconds: (Date.now() - started) / 1000,
  };
}

function checkPipeline(res: Array<[Error | null, unknown]> | null): void {
  for (const [err] of res ?? []) if (err) throw err;
}

export interface SeededSale {
  saleId: string;
  validTo: number;
  candidate: Candidate;
}

/** Active sales as fold() writes them; the one with the largest discount is the baseline's pick (no clicks yet). */
export async function seedSales(redis: Redis, prefix: string, now: number): Promise<SeededSale> {
  const keys = stateKeys(prefix);
  const validFrom = now - 3_600_000;
  const validTo = now + 2 * 86_400_000;
  const sales = [
    { saleId: 'sale-shoes', title: 'Shoes week', category: 'shoes', discount: 20 },
    { saleId: 'sale-books', title: 'Books fair', category: 'books', discount: 35 },
    { saleId: 'sale-electronics', title: 'Electronics days', category: 'electronics', discount: 15 },
  ];
  const p = redis.pipeline();
  for (const s of sales) {
    p.hset(keys.sale(s.saleId), {
      title: s.title,
      category: s.category,
      discount: String(s.discount),
      validFrom: String(validFrom),
      validTo: String(validTo),
      deepLink: `https://shop.example/sale/${s.saleId}`,
    });
    p.pexpireat(keys.sale(s.saleId), validTo + 86_400_000);
    p.zadd(keys.salesActive, validTo, s.saleId);
  }
  checkPipeline(await p.exec());
  const best = sales[1]!;
  return {
    saleId: best.saleId,
    validTo,
    candidate: {
      id: best.saleId,
      kind: 'sale',
      category: best.category,
      title: best.title,
      discount: best.discount,
      affinity: 0,
      deepLink: `https://shop.example/sale/${best.saleId}`,
      deadline: validTo,
    },
  };
}

/** `perCategory` stores in every category, near the users, as fold() writes store events. */
export async function seedStores(
  redis: Redis,
  prefix: string,
  categories: readonly string[],
  perCategory: number,
): Promise<number> {
  const keys = stateKeys(prefix);
  const p = redis.pipeline();
  let n = 0;
  categories.forEach((category, c) => {
    for (let i = 0; i < perCategory; i++) {
      const storeId = `store-${category}-${i}`;
      p.hset(keys.store(storeId), {
        name: `${category} ${i + 1}`,
        category,
        lat: String(CENTER.lat + (((c * 31 + i * 17) % 100) / 100 - 0.5) * 0.05),
        lon: String(CENTER.lon + (((c * 13 + i * 29) % 100) / 100 - 0.5) * 0.05),
        discount: String((c * 7 + i * 11) % 40),
      });
      p.sadd(keys.storesByCategory(category), storeId);
      n++;
    }
  });
  checkPipeline(await p.exec());
  return n;
}
