import { DateTime } from 'luxon';
import {
  DAY_MS,
  HOUR_MS,
  NO_FATIGUE,
  bestHourUtc,
  createRng,
  preferredCategory,
  oraclePush,
  preferencesOf,
  recordPush,
  respond,
  salesOfDay,
  type OracleCandidate,
  type World,
} from '../../services/simulator/world';
import { makeWorld } from './fixtures';

function candidatesOf(world: World, day: number): OracleCandidate[] {
  const sales = salesOfDay(world, day).map((s) => ({
    id: s.id,
    category: s.category,
    discount: s.discount,
    kind: 'sale' as const,
  }));
  const stores = world.stores.slice(0, 20).map((s) => ({
    id: s.id,
    category: s.category,
    discount: s.discount,
    kind: 'store' as const,
    storeLocation: { lat: s.lat, lon: s.lon },
  }));
  return [...sales, ...stores];
}

function reachable(world: World): number[] {
  return Array.from({ length: world.users.count }, (_, i) => i).filter(
    (i) =>
      world.users.deviceCount[i]! > 0 &&
      world.users.pushOptIn[i] === 1 &&
      Number.isNaN(world.users.optToggleAt[i]),
  );
}

describe('oracle', () => {
  const world = makeWorld();
  const day = 4;
  const candidates = candidatesOf(world, day);
  const users = reachable(world);

  it('finds the best hour of the user local day, DST day included', () => {
    for (const i of users.slice(0, 100)) {
      for (const d of [4, 6]) {
        const at = bestHourUtc(world, i, d);
        const local = DateTime.fromMillis(at, { zone: world.zones[world.users.zone[i]!]!.zone });
        expect(local.minute).toBe(0);
        expect(local.toISODate()).toBe(
          DateTime.fromMillis(world.startMs + d * DAY_MS, { zone: 'utc' }).toISODate(),
        );
        // Hours skipped by a spring-forward (02:00 in Madrid on day 6) cannot be chosen.
        const zone = world.zones[world.users.zone[i]!]!.zone;
        const row = Array.from({ length: 24 }, (_, h) =>
          DateTime.fromObject({ year: local.year, month: local.month, day: local.day, hour: h }, { zone })
            .hour === h
            ? world.users.activeHours[i * 168 + (local.weekday - 1) * 24 + h]!
            : -1,
        );
        expect(local.hour).toBe(row.indexOf(Math.max(...row)));
      }
    }
  });

  it('lands the best hour one UTC hour earlier across the spring-forward weekend', () => {
    const madrid = world.zones.findIndex((z) => z.zone === 'Europe/Madrid');
    let checked = 0;
    for (const i of users) {
      if (world.users.zone[i] !== madrid) continue;
      // Sundays 22 March (+1) and 29 March (+2): same local hour, so 7 days minus one hour apart.
      const before = bestHourUtc(world, i, -1);
      const hour = DateTime.fromMillis(before, { zone: 'Europe/Madrid' }).hour;
      if (hour < 4) continue;
      expect(bestHourUtc(world, i, 6) - before).toBe(7 * DAY_MS - HOUR_MS);
      checked++;
    }
    expect(checked).toBeGreaterThan(100);
  });

  it('picks the best (candidate, hour) of the exhaustive search', () => {
    for (const i of users.slice(0, 40)) {
      const choice = oraclePush(world, i, day, candidates)!;
      const { starts } = world.calendar.localDay(world.users.zone[i]!, day);
      let best = 0;
      for (const c of candidates)
        for (const at of starts) best = Math.max(best, respond(world, i, c, at).pOpen);
      expect(choice.expected).toBeCloseTo(best, 12);
      expect(respond(world, i, choice.candidate, choice.atMs).pOpen).toBeCloseTo(choice.pOpen, 12);
      const clicks = oraclePush(world, i, day, candidates, { objective: 'click' })!;
      let bestClicks = 0;
      for (const c of candidates)
        for (const at of starts) bestClicks = Math.max(bestClicks, respond(world, i, c, at).pOpenClick);
      expect(clicks.expected).toBeCloseTo(bestClicks, 12);
    }
  });

  it('beats a random push at a random hour, and the segment policy, on expected opens', () => {
    const rng = createRng(11);
    let oracle = 0;
    let random = 0;
    let segment = 0;
    const sales = candidates.filter((c) => c.kind === 'sale');
    for (const i of users) {
      oracle += oraclePush(world, i, day, candidates)!.pOpen;
      const at = world.startMs + day * DAY_MS + rng.int(DAY_MS);
      random += respond(world, i, rng.pick(candidates), at).pOpen;
      // Segment policy: the deepest sale of the user's dominant category (else the deepest sale), at noon UTC.
      const mine = sales.filter((s) => s.category === preferredCategory(world, i));
      const pick = (mine.length ? mine : sales).reduce((a, b) => (b.discount > a.discount ? b : a));
      segment += respond(world, i, pick, world.startMs + day * DAY_MS + 12 * HOUR_MS).pOpen;
    }
    expect(oracle).toBeGreaterThan(2 * random);
    expect(oracle).toBeGreaterThan(segment);
    expect(segment).toBeGreaterThan(random);
  });

  it('respects validity windows, notBefore and fatigue', () => {
    const i = users[0]!;
    const free = oraclePush(world, i, day, candidates)!;
    const validTo = free.atMs;
    const windowed = oraclePush(world, i, day, [{ ...free.candidate, validTo }]);
    const first = world.calendar.localDay(world.users.zone[i]!, day).starts[0]!;
    expect(windowed === undefined ? free.atMs === first : windowed.atMs < validTo).toBe(true);
    const expired = oraclePush(world, i, day, [{ ...free.candidate, validTo: first }]);
    expect(expired).toBeUndefined();
    const later = oraclePush(world, i, day, candidates, { notBefore: free.atMs + 1 });
    expect(later === undefined || later.atMs > free.atMs).toBe(true);
    const tired = oraclePush(world, i, day, candidates, {
      fatigue: recordPush(NO_FATIGUE, free.atMs - HOUR_MS, false),
    })!;
    expect(tired.pOpen).toBeLessThan(free.pOpen);
    expect(oraclePush(world, i, day, [])).toBeUndefined();
    const noDevice = Array.from(world.users.deviceCount).indexOf(0);
    expect(oraclePush(world, noDevice, day, candidates)).toBeUndefined();
  });

  it('names the dominant category as the argmax of the preferences', () => {
    for (const i of users.slice(0, 50)) {
      const prefs = preferencesOf(world, i);
      const top = Object.entries(prefs).reduce((a, b) => (b[1] > a[1] ? b : a))[0];
      expect(preferredCategory(world, i)).toBe(top);
    }
  });
});
