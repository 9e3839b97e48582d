/**
 * What the world's users do, as the Kafka events production would carry: purchases (with sequential
 * category affinity built in, and their line items), browsing, location pings, profile changes; plus the
 * stores, the products and the daily sales. Pure and deterministic: a (user, day) pair has its own random streams, so a day can be generated
 * alone, in any order, or in shards of users.
 *
 * Sequential affinity: after an organic purchase in A, for each B that follows A in the affinity table the
 * user buys B with probability `affinity * followUpScale`, at an active hour within `followUpWindowDays`.
 * Follow-ups are derived from the organic purchases of the previous days (re-drawn from the same streams), so
 * no state is carried between calls. Follow-ups do not trigger further follow-ups.
 */
import type { IngestTopic, TopicEvent } from '../../../shared/topics';
import type { ZoneShare } from './catalog';
import { DAY_MS, SLOTS_PER_DAY, SLOT_MS } from './calendar';
import { Rng, hashSeed } from './rng';
import { lineItemsOf, productsOf } from './products';
import { salesOfDay } from './sales';
import { devicesAt, pushOptInAt, userId } from './truth';
import { activeInstant, activeInstantBetween } from './users';
import type { World } from './world';

// Local bindings: inside jest's vm context every Math.* lookup is ~40x slower than a call through one.
const { PI, ceil, cos, floor, max, min, round } = Math;

/** The topics the simulator writes: the ingest topics and the feedback of delivered pushes. */
export type SimTopic = IngestTopic | 'feedback';

/** One event for a topic, with its Kafka key and its instant (epoch ms, equal to `value.at`). */
export interface SimEvent<K extends SimTopic = SimTopic> {
  topic: K;
  key: string;
  value: TopicEvent<K>;
  at: number;
}
/** A SimEvent of any of its topics, discriminated by `topic`. */
export type AnySimEvent = { [K in SimTopic]: SimEvent<K> }[SimTopic];

export interface GenerateDayOptions {
  /**
   * Seed of the behaviour streams. Default the world's seed. Every day of one run must use the same seed
   * (follow-ups are re-derived from previous days); a different seed also changes the event ids.
   */
  seed?: number;
  /** Publish the day's sales at the day's start. Default true. */
  includeSales?: boolean;
  /** Only users with index in [from, to) (to shard generation). Default all. */
  users?: { from: number; to: number };
}

const MINUTE_MS = 60_000;

let isoDay = NaN;
let isoPrefix = '';
/** `new Date(ms).toISOString()`, several times faster for instants of the same day (the common case here). */
export function iso(ms: number): string {
  const day = floor(ms / DAY_MS);
  if (day !== isoDay || !Number.isSafeInteger(ms)) {
    if (!Number.isSafeInteger(ms)) return new Date(ms).toISOString();
    isoDay = day;
    isoPrefix = new Date(day * DAY_MS).toISOString().slice(0, 11);
  }
  let r = ms - day * DAY_MS;
  const h = floor(r / 3_600_000);
  r -= h * 3_600_000;
  const m = floor(r / 60_000);
  r -= m * 60_000;
  const s = floor(r / 1000);
  const milli = r - s * 1000;
  return flat(
    `${isoPrefix}${h < 10 ? '0' : ''}${h}:${m < 10 ? '0' : ''}${m}:${s < 10 ? '0' : ''}${s}.${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`,
  );
}

/**
 * V8 keeps a concatenated string as a rope (a tree of its pieces, ~300 bytes for an ISO instant) until it is
 * read; reading a character flattens it in place. Events are kept by the hundred thousand, so flatten now.
 */
function flat(s: string): string {
  s.charCodeAt(0);
  return s;
}

/** Stores, user profiles and products as of the start of the run (default one minute before day 0). */
export function initialEvents(world: World, atMs: number = world.startMs - MINUTE_MS): AnySimEvent[] {
  const out: AnySimEvent[] = [];
  const at = iso(atMs);
  for (const s of world.stores) {
    out.push({
      topic: 'stores',
      key: s.id,
      at: atMs,
      value: {
        v: 1,
        eventId: `sto-${s.id}-init`,
        storeId: s.id,
        name: s.name,
        category: s.category,
        lat: s.lat,
        lon: s.lon,
        discount: s.discount,
        at,
      },
    });
  }
  for (let i = 0; i < world.users.count; i++)
    out.push(profileEvent(world, i, atMs, `prf-${userId(world, i)}-init`));
  for (const p of productsOf(world).all) {
    out.push({
      topic: 'products',
      key: p.id,
      at: atMs,
      value: {
        v: 1,
        eventId: `prd-${p.id}-init`,
        productId: p.id,
        title: p.title,
        category: p.category,
        price: p.price,
        available: true,
        discount: p.discount,
        at,
      },
    });
  }
  return out;
}

/** The sales published on `day`, at the day's start. */
export function generateSales(world: World, day: number): SimEvent<'sales'>[] {
  const atMs = world.calendar.dayStart(day);
  const at = iso(atMs);
  return salesOfDay(world, day).map((s) => ({
    topic: 'sales',
    key: s.id,
    at: atMs,
    value: {
      v: 1,
      eventId: `sal-${s.id}`,
      saleId: s.id,
      title: s.title,
      category: s.category,
      discount: s.discount,
      validFrom: iso(s.validFrom),
      validTo: iso(s.validTo),
      deepLink: s.deepLink,
      at,
    },
  }));
}

/** Everything that happens in the UTC window of `day`, sorted by instant (stable: generation order on ties). */
export function generateDay(world: World, day: number, options: GenerateDayOptions = {}): AnySimEvent[] {
  const seed = options.seed ?? world.seed;
  const from = max(0, options.users?.from ?? 0);
  const to = min(world.users.count, options.users?.to ?? world.users.count);
  const gen = new DayGenerator(world, day, seed);
  const out: AnySimEvent[] = options.includeSales === false ? [] : generateSales(world, day);
  for (let i = from; i < to; i++) gen.user(i, out);
  return sortByInstant(out);
}

/**
 * Stable sort by `at`. A comparator sort of 600,000 objects costs about a second; packing (instant, index)
 * into one float and sorting a Float64Array is several times faster.
 */
function sortByInstant<T extends { at: number }>(events: T[]): T[] {
  if (events.length === 0) return events;
  let lo = Infinity;
  let hi = -Infinity;
  for (const e of events) {
    if (e.at < lo) lo = e.at;
    if (e.at > hi) hi = e.at;
  }
  const n = events.length;
  if ((hi - lo + 1) * n >= Number.MAX_SAFE_INTEGER) return events.sort((a, b) => a.at - b.at);
  const keys = new Float64Array(n);
  for (let k = 0; k < n; k++) keys[k] = ((events[k] as T).at - lo) * n + k;
  keys.sort();
  const out = new Array<T>(n);
  for (let k = 0; k < n; k++) out[k] = events[(keys[k] as number) % n] as T;
  return out;
}

export interface PlannedPurchase {
  id: string;
  at: number;
  category: number;
}

/**
 * The organic purchases of user `i` on `day` and the follow-ups they trigger (which may fall on later days).
 * Exposed for tests and analyses; `generateDay` emits them.
 */
export function plannedPurchases(
  world: World,
  i: number,
  day: number,
  seed: number = world.seed,
): PurchasePlan {
  return planPurchases(world, i, day, hashSeed(seed, 'purchase'), idPart(world, seed), new Rng(0));
}

/** The organic purchases of a (user, day) and the follow-ups they trigger. */
export interface PurchasePlan {
  readonly organic: readonly PlannedPurchase[];
  readonly followUps: readonly PlannedPurchase[];
}

const NO_PURCHASES: PurchasePlan = Object.freeze({
  organic: Object.freeze([]),
  followUps: Object.freeze([]),
});

/** `base` is hashSeed(seed, 'purchase'), hoisted out of the per-user loop. */
function planPurchases(
  world: World,
  i: number,
  day: number,
  base: number,
  idp: string,
  rng: Rng,
): PurchasePlan {
  const u = world.users;
  rng.reseed(hashSeed(base, i, day));
  const n = rng.poisson(u.purchaseRate[i] as number);
  // Most users buy nothing on most days: share one empty (frozen) plan instead of allocating.
  if (n === 0) return NO_PURCHASES;
  const organic: PlannedPurchase[] = [];
  const followUps: PlannedPurchase[] = [];
  const prefix = `pur-${idp}${userId(world, i)}-${day}`;
  const window = world.rates.followUpWindowDays * DAY_MS;
  for (let k = 0; k < n; k++) {
    const at = activeInstant(u, i, world.calendar, day, rng);
    const category = sampleCategory(world, i, rng);
    const id = flat(`${prefix}-${k}`);
    organic.push({ id, at, category });
    for (const edge of world.follows[category] ?? []) {
      if (rng.next() < min(1, edge.affinity * world.rates.followUpScale)) {
        const fat = activeInstantBetween(u, i, world.calendar, at + 10 * MINUTE_MS, at + window, rng);
        followUps.push({ id: flat(`${id}-f${edge.to}`), at: fat, category: edge.to });
      }
    }
  }
  return { organic, followUps };
}

function idPart(world: World, seed: number): string {
  return seed === world.seed ? '' : `x${seed >>> 0}-`;
}

/** A category drawn from the user's latent preferences. */
function sampleCategory(world: World, i: number, rng: Rng): number {
  const C = world.categories.length;
  const prefs = world.users.prefs;
  let r = rng.next();
  for (let c = 0; c < C; c++) {
    r -= prefs[i * C + c] as number;
    if (r < 0) return c;
  }
  return world.users.topCategory[i] as number;
}

function profileEvent(world: World, i: number, atMs: number, eventId: string): SimEvent<'profiles'> {
  const u = world.users;
  const id = userId(world, i);
  return {
    topic: 'profiles',
    key: id,
    at: atMs,
    value: {
      v: 1,
      eventId,
      userId: id,
      timeZone: (world.zones[u.zone[i] as number] as ZoneShare).zone,
      locale: world.locales[u.locale[i] as number] as string,
      pushOptIn: pushOptInAt(world, i, atMs),
      // Six users in ten allow location-based pushes (fixed per user; no ground truth depends on it).
      locationOptIn: (Math.imul(i + 1, 2654435761) >>> 0) % 10 < 6,
      devices: devicesAt(world, i, atMs),
      home: { lat: round6(u.homeLat[i] as number), lon: round6(u.homeLon[i] as number) },
      at: iso(atMs),
    },
  };
}

class DayGenerator {
  private readonly dayStart: number;
  private readonly dayEnd: number;
  private readonly slots: Uint8Array;
  private readonly idp: string;
  private readonly cosLat: number;
  private readonly purchaseBase: number;
  private readonly browseBase: number;
  private readonly pingBase: number;
  /** One stream object, reseeded per (user, purpose): streams never interleave, each is drawn to the end first. */
  private readonly rng = new Rng(0);

  constructor(
    private readonly world: World,
    private readonly day: number,
    private readonly seed: number,
  ) {
    this.dayStart = world.calendar.dayStart(day);
    this.dayEnd = this.dayStart + DAY_MS;
    this.slots = world.calendar.slots(day);
    this.idp = idPart(world, seed);
    this.cosLat = cos((world.center.lat * PI) / 180);
    this.purchaseBase = hashSeed(seed, 'purchase');
    this.browseBase = hashSeed(seed, 'browse');
    this.pingBase = hashSeed(seed, 'ping');
  }

  user(i: number, out: AnySimEvent[]): void {
    const { world, day } = this;
    const uid = userId(world, i);
    const earliest = max(0, day - ceil(world.rates.followUpWindowDays));
    for (let sd = earliest; sd <= day; sd++) {
      const plan = planPurchases(world, i, sd, this.purchaseBase, this.idp, this.rng);
      if (sd === day) for (const p of plan.organic) this.purchase(i, uid, p, out);
      for (const p of plan.followUps)
        if (p.at >= this.dayStart && p.at < this.dayEnd) this.purchase(i, uid, p, out);
    }
    this.browse(i, uid, out);
    this.pings(i, uid, out);
    const u = world.users;
    const opt = u.optToggleAt[i] as number;
    if (opt >= this.dayStart && opt < this.dayEnd)
      out.push(profileEvent(world, i, opt, `prf-${this.idp}${uid}-${opt}-opt`));
    const tok = u.tokenRefreshAt[i] as number;
    if (tok >= this.dayStart && tok < this.dayEnd)
      out.push(profileEvent(world, i, tok, `prf-${this.idp}${uid}-${tok}-tok`));
  }

  /** Where the user is at `ms`: at work on weekdays 9-18 local (if they work), else at home. */
  private whereIs(i: number, ms: number): { lat: number; lon: number } {
    const u = this.world.users;
    const w =
      ms >= this.dayStart && ms < this.dayEnd
        ? (this.slots[
            (u.zone[i] as number) * SLOTS_PER_DAY + floor((ms - this.dayStart) / SLOT_MS)
          ] as number)
        : this.world.calendar.weekIndexAt(u.zone[i] as number, ms);
    const weekday = floor(w / 24) + 1;
    const hour = w % 24;
    if (u.hasWork[i] && weekday <= 5 && hour >= 9 && hour < 18)
      return { lat: u.workLat[i] as number, lon: u.workLon[i] as number };
    return { lat: u.homeLat[i] as number, lon: u.homeLon[i] as number };
  }

  private clamp(ms: number): number {
    return min(this.dayEnd - 1, max(this.dayStart, round(ms)));
  }

  private purchase(i: number, uid: string, p: PlannedPurchase, out: AnySimEvent[]): void {
    const { world } = this;
    const rng = new Rng(hashSeed(this.seed, p.id));
    const category = world.categories[p.category] as string;
    const zone = world.zones[world.users.zone[i] as number] as ZoneShare;
    const here = this.whereIs(i, p.at);
    const candidates = world.storesByCategory[p.category] as Int32Array;
    let storeId = `web-${category}`;
    let location: { lat: number; lon: number } | undefined;
    if (candidates.length > 0) {
      // The nearest of a few stores the user happens to consider.
      let best = -1;
      let bestD = Infinity;
      for (let k = min(4, candidates.length); k > 0; k--) {
        const s = world.stores[candidates[rng.int(candidates.length)] as number];
        if (!s) continue;
        const dy = s.lat - here.lat;
        const dx = (s.lon - here.lon) * this.cosLat;
        const d = dx * dx + dy * dy;
        if (d < bestD) {
          bestD = d;
          best = s.index;
        }
      }
      const store = world.stores[best];
      if (store) {
        storeId = store.id;
        location = {
          lat: round6(store.lat + rng.normal(0, 0.0003)),
          lon: round6(store.lon + rng.normal(0, 0.0003)),
        };
      }
    }
    const amount = min(
      1_000_000,
      max(
        0.5,
        round((world.basketEur[p.category] as number) * zone.perEur * rng.logNormal(-0.1, 0.5) * 100) / 100,
      ),
    );
    if (rng.bernoulli(world.rates.browseTrailShare)) {
      const product = `p-${category}-${rng.int(500)}`;
      const suffix = p.id.slice(4);
      this.browseEvent(
        uid,
        `brw-${suffix}-v`,
        'view',
        category,
        product,
        this.clamp(p.at - rng.uniform(3, 25) * MINUTE_MS),
        out,
      );
      this.browseEvent(
        uid,
        `brw-${suffix}-c`,
        'add_to_cart',
        category,
        product,
        this.clamp(p.at - rng.uniform(0.5, 3) * MINUTE_MS),
        out,
      );
      this.browseEvent(uid, `brw-${suffix}-p`, 'purchase', category, product, p.at, out);
    }
    const base = {
      eventId: p.id,
      userId: uid,
      storeId,
      category,
      amount,
      currency: zone.currency,
      at: iso(p.at),
      ...(location ? { location } : {}),
    };
    // The products bought (v2): drawn from streams of their own, so nothing above changes.
    const items = lineItemsOf(world, uid, p.category, p.id);
    out.push({
      topic: 'purchases',
      key: uid,
      at: p.at,
      value: items.length > 0 ? { v: 2, ...base, items } : { v: 1, ...base },
    });
  }

  private browseEvent(
    uid: string,
    eventId: string,
    action: 'view' | 'add_to_cart' | 'purchase',
    category: string,
    productId: string,
    at: number,
    out: AnySimEvent[],
  ): void {
    out.push({
      topic: 'browse',
      key: uid,
      at,
      value: {
        v: 1,
        eventId: flat(eventId),
        userId: uid,
        action,
        category,
        productId: flat(productId),
        at: iso(at),
      },
    });
  }

  private browse(i: number, uid: string, out: AnySimEvent[]): void {
    const { world, day } = this;
    const rng = this.rng.reseed(hashSeed(this.browseBase, i, day));
    const n = rng.poisson(world.users.browseRate[i] as number);
    for (let k = 0; k < n; k++) {
      let t = activeInstant(world.users, i, world.calendar, day, rng);
      const c = rng.bernoulli(0.85) ? sampleCategory(world, i, rng) : rng.int(world.categories.length);
      const category = world.categories[c] as string;
      const views = 1 + rng.poisson(1.2);
      let product = '';
      for (let j = 0; j < views; j++) {
        product = `p-${category}-${rng.int(500)}`;
        this.browseEvent(
          uid,
          `brw-${this.idp}${uid}-${day}-s${k}-${j}`,
          'view',
          category,
          product,
          this.clamp(t),
          out,
        );
        t += rng.uniform(20_000, 180_000);
      }
      if (rng.bernoulli(world.rates.abandonedCartShare)) {
        this.browseEvent(
          uid,
          `brw-${this.idp}${uid}-${day}-s${k}-c`,
          'add_to_cart',
          category,
          product,
          this.clamp(t),
          out,
        );
      }
    }
  }

  private pings(i: number, uid: string, out: AnySimEvent[]): void {
    const { world, day } = this;
    const rng = this.rng.reseed(hashSeed(this.pingBase, i, day));
    const n = rng.poisson(world.users.pingRate[i] as number);
    for (let k = 0; k < n; k++) {
      const at = rng.bernoulli(0.5)
        ? activeInstant(world.users, i, world.calendar, day, rng)
        : this.dayStart + rng.int(DAY_MS);
      let { lat, lon } = this.whereIs(i, at);
      if (rng.bernoulli(0.1)) {
        // Out and about somewhere in the city.
        lat = world.center.lat + rng.normal(0, 3 / 111.32);
        lon = world.center.lon + rng.normal(0, 3 / (111.32 * this.cosLat));
      }
      const accuracyM = rng.intBetween(5, 80);
      const jitter = (accuracyM / 111_320) * 0.7;
      out.push({
        topic: 'locations',
        key: uid,
        at,
        value: {
          v: 1,
          eventId: flat(`loc-${this.idp}${uid}-${day}-${k}`),
          userId: uid,
          lat: round6(clampLat(lat + rng.normal(0, jitter))),
          lon: round6(wrapLon(lon + rng.normal(0, jitter / this.cosLat))),
          accuracyM,
          at: iso(at),
        },
      });
    }
  }
}

function round6(x: number): number {
  return round(x * 1e6) / 1e6;
}
function clampLat(x: number): number {
  return max(-90, min(90, x));
}
function wrapLon(x: number): number {
  return x > 180 ? x - 360 : x < -180 ? x + 360 : x;
}
