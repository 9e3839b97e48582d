import { DateTime, IANAZone } from 'luxon';
import {
  PLATFORMS,
  WEEK_HOURS,
  activeHoursOfUser,
  describeUser,
  devicesAt,
  preferredCategory,
  preferencesOf,
  pushOptInAt,
  timeZoneOf,
  userId,
  userIndex,
  type World,
} from '../../services/simulator/world';
import { makeWorld } from './fixtures';

const JAN = Date.parse('2026-01-15T12:00:00Z');
const JUL = Date.parse('2026-07-15T12:00:00Z');
const offset = (zone: string, ms: number): number => IANAZone.create(zone).offset(ms);

function truthBytes(w: World): Buffer[] {
  const u = w.users;
  return [u.zone, u.prefs, u.activeHours, u.homeLat, u.responsiveness, u.priceSensitivity, u.deviceCount].map(
    (a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength),
  );
}

describe('createWorld', () => {
  const world = makeWorld({ users: 3000 });
  const n = world.users.count;

  it('is a function of its seed', () => {
    const again = makeWorld({ users: 3000 });
    const other = makeWorld({ users: 3000, seed: 43 });
    truthBytes(world).forEach((b, k) => expect(b.equals(truthBytes(again)[k]!)).toBe(true));
    truthBytes(world).forEach((b, k) => expect(b.equals(truthBytes(other)[k]!)).toBe(false));
    expect(again.stores).toEqual(world.stores);
    expect(again.sales).toEqual(world.sales);
    expect(other.sales).not.toEqual(world.sales);
  });

  it('names users u<padded index> and finds them back', () => {
    expect(userId(world, 7)).toBe('u000007');
    expect(userIndex(world, 'u000007')).toBe(7);
    expect(userIndex(world, 12)).toBe(12);
    expect(() => userIndex(world, 'u999999')).toThrow(RangeError);
    expect(() => userIndex(world, 'x1')).toThrow(RangeError);
  });

  it('mixes time zones: mostly the city, DST and non-DST zones, a fractional offset', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < n; i++) counts.set(timeZoneOf(world, i), (counts.get(timeZoneOf(world, i)) ?? 0) + 1);
    const zones = [...counts.keys()];
    expect(counts.get('Europe/Madrid')! / n).toBeGreaterThan(0.6);
    expect(counts.get('Europe/Madrid')! / n).toBeLessThan(0.8);
    const dst = zones.filter((z) => offset(z, JAN) !== offset(z, JUL));
    const fixed = zones.filter((z) => offset(z, JAN) === offset(z, JUL));
    expect(dst).toEqual(expect.arrayContaining(['Europe/Madrid', 'America/New_York']));
    expect(fixed).toEqual(expect.arrayContaining(['UTC', 'Asia/Kolkata', 'Asia/Tokyo', 'America/Sao_Paulo']));
    expect(zones.filter((z) => offset(z, JAN) % 60 !== 0).length).toBeGreaterThanOrEqual(2);
    expect(zones.length).toBeGreaterThanOrEqual(10);
  });

  it('gives each user a few dominant categories, normalized', () => {
    let top3 = 0;
    for (let i = 0; i < n; i++) {
      const p = Object.values(preferencesOf(world, i)).sort((a, b) => b - a);
      expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
      expect(p[p.length - 1]).toBeGreaterThan(0);
      top3 += p[0]! + p[1]! + p[2]!;
    }
    expect(top3 / n).toBeGreaterThan(0.6);
    const dominant = new Set(Array.from({ length: n }, (_, i) => preferredCategory(world, i)));
    expect(dominant.size).toBeGreaterThan(20);
    const p0 = preferencesOf(world, 0);
    expect(Math.max(...Object.values(p0))).toBe(p0[preferredCategory(world, 0)]);
  });

  it('gives users personal active hours, different at the weekend', () => {
    const peaks = new Set<number>();
    let weekendDiffers = 0;
    for (let i = 0; i < n; i++) {
      const m = activeHoursOfUser(world, i);
      expect(m).toHaveLength(7);
      expect(Math.max(...m.flat())).toBe(1);
      const tue = m[1]!;
      peaks.add(tue.indexOf(Math.max(...tue)));
      if (m[6]!.indexOf(Math.max(...m[6]!)) !== tue.indexOf(Math.max(...tue))) weekendDiffers++;
    }
    expect(peaks.size).toBeGreaterThanOrEqual(16);
    expect(weekendDiffers / n).toBeGreaterThan(0.5);
    expect(world.users.activeHours.length).toBe(n * WEEK_HOURS);
  });

  it('spreads responsiveness, sensitivity, opt-in and devices as specified', () => {
    const u = world.users;
    const r = Array.from(u.responsiveness);
    expect(Math.min(...r)).toBeGreaterThanOrEqual(0.05);
    expect(Math.max(...r)).toBeLessThanOrEqual(0.5);
    expect(Array.from(u.priceSensitivity).every((s) => s >= 0 && s <= 1)).toBe(true);
    const optIn = Array.from(u.pushOptIn).filter((x) => x === 1).length / n;
    expect(optIn).toBeGreaterThan(0.87);
    expect(optIn).toBeLessThan(0.93);
    const none = Array.from(u.deviceCount).filter((x) => x === 0).length / n;
    expect(none).toBeGreaterThan(0.03);
    expect(none).toBeLessThan(0.07);
    const platforms = new Set<string>();
    for (let i = 0; i < 200; i++) {
      for (const d of devicesAt(world, i, world.startMs)) {
        expect(d.token.length).toBeGreaterThanOrEqual(8);
        platforms.add(d.platform);
      }
    }
    expect([...platforms].sort()).toEqual([...PLATFORMS].sort());
  });

  it('places homes around the center at km scale', () => {
    const t = describeUser(world, 3);
    const km = Math.hypot((t.home.lat - 40.4168) * 111, (t.home.lon + 3.7038) * 85);
    expect(km).toBeLessThan(30);
    const spread = Array.from({ length: n }, (_, i) => Math.abs(world.users.homeLat[i]! - 40.4168) * 111);
    const mean = spread.reduce((a, b) => a + b, 0) / n;
    expect(mean).toBeGreaterThan(2);
    expect(mean).toBeLessThan(6);
  });

  it('flips opt-in and refreshes tokens at their recorded instants', () => {
    const w = makeWorld({ activity: { optToggleShare: 1, tokenRefreshShare: 1 } });
    const i = Array.from(w.users.deviceCount).findIndex((c) => c > 0);
    const at = w.users.optToggleAt[i]!;
    expect(at).toBeGreaterThanOrEqual(w.startMs);
    expect(pushOptInAt(w, i, at - 1)).toBe(w.users.pushOptIn[i] === 1);
    expect(pushOptInAt(w, i, at)).toBe(w.users.pushOptIn[i] !== 1);
    const refresh = w.users.tokenRefreshAt[i]!;
    expect(devicesAt(w, i, refresh)[0]!.token).not.toBe(devicesAt(w, i, refresh - 1)[0]!.token);
  });

  it('covers every category with stores and weights some categories more', () => {
    const w = makeWorld({ stores: 600 });
    expect(new Set(w.stores.map((s) => s.category)).size).toBe(w.categories.length);
    expect(w.stores.every((s) => s.discount >= 0 && s.discount <= 50 && /^s\d+$/.test(s.id))).toBe(true);
    const sizes = w.storesByCategory.map((s) => s.length).sort((a, b) => b - a);
    expect(sizes[0]!).toBeGreaterThan(3 * sizes[sizes.length - 1]!);
  });

  it('publishes daily sales: ids, discounts, validity, a few popular ones', () => {
    const all = world.sales.flat();
    expect(all).toHaveLength(14 * 30);
    expect(world.sales[3]![4]!.id).toBe('sale-3-4');
    expect(all.every((s) => s.discount >= 5 && s.discount <= 70)).toBe(true);
    expect(all.every((s) => s.deepLink === `https://shop.example/sale/${s.id}`)).toBe(true);
    for (const s of all) {
      const dayStart = world.startMs + s.day * 86_400_000;
      expect(s.validFrom).toBeGreaterThanOrEqual(dayStart - 3 * 3_600_000);
      expect(s.validFrom).toBeLessThan(dayStart + 86_400_000);
      expect((s.validTo - s.validFrom) / 86_400_000).toBeGreaterThanOrEqual(1);
      expect((s.validTo - s.validFrom) / 86_400_000).toBeLessThanOrEqual(3);
    }
    expect(all.some((s) => s.validFrom > world.startMs + s.day * 86_400_000)).toBe(true);
    const popular = all.filter((s) => s.popular);
    expect(popular.length / all.length).toBeGreaterThan(0.05);
    expect(popular.length / all.length).toBeLessThan(0.2);
    const avg = (xs: typeof all): number => xs.reduce((a, s) => a + s.discount, 0) / xs.length;
    expect(avg(popular)).toBeGreaterThan(avg(all.filter((s) => !s.popular)) + 20);
  });

  it('refuses a start that is not a UTC midnight and a table that names unknown categories', () => {
    expect(() => makeWorld({ start: '2026-03-23T05:00:00Z' })).toThrow(RangeError);
    expect(() =>
      makeWorld({
        affinity: { version: 1, categories: ['a', 'b'], follows: { a: [{ category: 'zz', affinity: 0.3 }] } },
      }),
    ).toThrow(/unknown category/);
    expect(() => makeWorld({ affinity: { categories: ['Not A Slug'], follows: {} } })).toThrow();
  });

  it('agrees with luxon on every local hour of DST transition days, in every zone', () => {
    // Madrid and London spring forward on day 6 (29 Mar), New York's is 8 Mar (day -15), Adelaide falls back 5 Apr (day 13).
    const days = [-15, 6, 13, 216, 223];
    for (const day of days) {
      for (let z = 0; z < world.zones.length; z++) {
        for (let s = 0; s < 96; s++) {
          const t = world.startMs + day * 86_400_000 + s * 900_000 + 450_000;
          const local = DateTime.fromMillis(t, { zone: world.zones[z]!.zone });
          expect(world.calendar.weekIndexAt(z, t)).toBe((local.weekday - 1) * 24 + local.hour);
        }
      }
    }
    const madrid = world.zones.findIndex((z) => z.zone === 'Europe/Madrid');
    expect(world.calendar.localDay(madrid, 6).starts).toHaveLength(23);
    expect(world.calendar.localDay(madrid, 5).starts).toHaveLength(24);
    expect(world.calendar.localDay(madrid, 216).starts).toHaveLength(25); // 25 Oct 2026, fall back
    expect(Array.from(world.calendar.localDay(madrid, 6).weekIndex).map((w) => w % 24)).not.toContain(2);
  });
});
