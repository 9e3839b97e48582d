/**
 * Frequent places from pings (clustering, home and work, quiet on one ping), where a user is at an hour,
 * the online-to-offline strategy's target (discount, category, cooldown) and the location opt-in filter.
 */
import {
  DEFAULT_PLACES,
  foldPing,
  frequentPlaces,
  geohash,
  locationAt,
  placeAt,
  type Places,
} from '../../services/places/places';
import { filterGroup } from '../../services/pipeline/filter';
import { createOnlineToOffline } from '../../services/strategies/online-to-offline/online-to-offline.strategy';
import type { Catalog } from '../../services/strategies';
import type { StoreState, UserState } from '../../services/state';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-03-02T00:00:00Z');
const HOME = { lat: 40.4168, lon: -3.7038 };
const WORK = { lat: 40.4531, lon: -3.6883 };
const jitter = (p: { lat: number; lon: number }, i: number) => ({
  lat: p.lat + ((i % 5) - 2) * 0.0001,
  lon: p.lon + ((i % 3) - 1) * 0.0001,
});

function week(): Places {
  let places: Places = {};
  for (let d = 0; d < 7; d++) {
    for (const h of [22, 23, 7]) {
      places = foldPing(places, { ...jitter(HOME, d + h), at: T0 + d * 24 * HOUR + h * HOUR, localHour: h });
    }
    for (const h of [10, 12, 15]) {
      places = foldPing(places, { ...jitter(WORK, d + h), at: T0 + d * 24 * HOUR + h * HOUR, localHour: h });
    }
  }
  // One visit elsewhere.
  return foldPing(places, { lat: 40.38, lon: -3.72, at: T0 + 3 * 24 * HOUR + 19 * HOUR, localHour: 19 });
}

describe('frequent places', () => {
  it('geohashes a known point', () => {
    expect(geohash({ lat: 57.64911, lon: 10.40744 }, 11)).toBe('u4pruydqqvj');
  });

  it('clusters a week of pings into home and work, and leaves a single visit out', () => {
    const now = T0 + 7 * 24 * HOUR;
    const list = frequentPlaces(week(), now);
    expect(list).toHaveLength(2);
    const home = list.find((p) => p.kind === 'home')!;
    const work = list.find((p) => p.kind === 'work')!;
    expect(home.lat).toBeCloseTo(HOME.lat, 3);
    expect(home.lon).toBeCloseTo(HOME.lon, 3);
    expect(work.lat).toBeCloseTo(WORK.lat, 3);
    expect(home.weight).toBeGreaterThan(DEFAULT_PLACES.minWeight);
    expect(placeAt(list, 12)!.kind).toBe('work');
    expect(placeAt(list, 23)!.kind).toBe('home');
  });

  it('is quiet on a user with one ping', () => {
    const one = foldPing({}, { ...HOME, at: T0, localHour: 9 });
    expect(frequentPlaces(one, T0)).toEqual([]);
    expect(locationAt({ timeZone: 'UTC', location: WORK, places: [] }, T0)).toEqual(WORK);
  });

  it('forgets old places as their weight decays', () => {
    const now = T0 + 200 * 24 * HOUR;
    expect(frequentPlaces(week(), now)).toEqual([]);
  });

  it('keeps at most maxCells cells per user', () => {
    let p: Places = {};
    for (let i = 0; i < 20; i++)
      p = foldPing(p, { lat: 40 + i * 0.01, lon: -3, at: T0 + i * HOUR, localHour: 9 });
    expect(Object.keys(p).length).toBe(DEFAULT_PLACES.maxCells);
  });

  it('measures distance from the place the user is at the target’s local hour', () => {
    const places = frequentPlaces(week(), T0 + 7 * 24 * HOUR);
    // 11:00 in Madrid is 10:00 UTC: work.
    const at = Date.parse('2026-03-09T10:00:00Z');
    const where = locationAt({ timeZone: 'Europe/Madrid', location: HOME, places }, at);
    expect(where!.lat).toBeCloseTo(WORK.lat, 3);
  });
});

describe('online-to-offline target', () => {
  const store = (
    storeId: string,
    category: string,
    discount: number,
    km: number,
  ): StoreState & { distanceKm: number } => ({
    storeId,
    name: storeId,
    category,
    discount,
    location: { lat: HOME.lat + km / 111, lon: HOME.lon },
    distanceKm: km,
  });
  const claimed = new Map<string, string>();
  const catalog: Catalog = {
    storesInCategories: () => Promise.resolve([]),
    activeSales: () => Promise.resolve([]),
    storesNear: (_p, radiusKm) =>
      Promise.resolve(
        [
          store('cafe', 'coffee', 20, 0.2),
          store('nodeal', 'coffee', 0, 0.1),
          store('pets', 'pets', 30, 0.3),
          store('far', 'coffee', 50, 3),
        ].filter((s) => s.distanceKm <= radiusKm),
      ),
    userCategories: () => Promise.resolve({ coffee: 3, groceries: 1 }),
    claimCooldowns: (scope, userId, ids, token) =>
      Promise.resolve(
        ids.filter((id) => {
          const k = `${scope}:${userId}:${id}`;
          if (!claimed.has(k)) claimed.set(k, token);
          return claimed.get(k) === token;
        }),
      ),
  };
  const strategy = createOnlineToOffline({
    radiusKm: 1,
    minDiscount: 10,
    maxStores: 3,
    cooldownMs: 72 * HOUR,
    maxAgeMs: 15 * 60_000,
  });
  const ping = (eventId: string) =>
    strategy.events!.trigger(
      { topic: 'locations', event: { v: 1, eventId, userId: 'u1', ...HOME, at: new Date(T0).toISOString() } },
      { now: T0 },
    )!;

  it('suggests a discounted store nearby in a category the user buys, once per cooldown', async () => {
    const first = await strategy.target(ping('l1'), catalog);
    expect(first!.candidates.map((c) => c.id)).toEqual(['cafe']);
    expect(first!.audience).toEqual({ kind: 'user', userId: 'u1' });
    // A retry of the same trigger gets the same target.
    expect((await strategy.target(ping('l1'), catalog))!.candidates.map((c) => c.id)).toEqual(['cafe']);
    // Another ping within the cooldown: nothing.
    expect(await strategy.target(ping('l2'), catalog)).toBeNull();
  });

  it('ignores a stale ping', () => {
    const stale = strategy.events!.trigger(
      {
        topic: 'locations',
        event: { v: 1, eventId: 'old', userId: 'u1', ...HOME, at: new Date(T0 - HOUR).toISOString() },
      },
      { now: T0 },
    );
    expect(stale).toBeNull();
  });

  it('is filtered out for a user without location opt-in', () => {
    const user = (id: string, locationOptIn?: boolean): UserState => ({
      userId: id,
      timeZone: 'UTC',
      locale: 'en',
      optIn: true,
      devices: [{ platform: 'android', token: 't' }],
      ...(locationOptIn === undefined ? {} : { locationOptIn }),
    });
    const group = {
      strategy: 'x',
      targetId: 't',
      at: T0,
      userIds: ['yes', 'no', 'unset'],
      candidates: [] as never[],
    };
    const users = new Map([
      ['yes', user('yes', true)],
      ['no', user('no', false)],
      ['unset', user('unset')],
    ]);
    const withCandidate = {
      ...group,
      candidates: [
        { id: 'c', kind: 'store' as const, category: 'coffee', title: 'c', discount: 10, affinity: 0 },
      ],
    };
    const r = filterGroup(withCandidate, users, new Set(), T0, true);
    expect(r.kept!.userIds).toEqual(['yes']);
    expect(r.drops.map((d) => [d.userId, d.reason])).toEqual([
      ['no', 'no_location_opt_in'],
      ['unset', 'no_location_opt_in'],
    ]);
    expect(filterGroup(withCandidate, users, new Set(), T0, false).kept!.userIds).toHaveLength(3);
  });
});
