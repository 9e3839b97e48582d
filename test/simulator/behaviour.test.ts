import { DateTime } from 'luxon';
import { TOPICS } from '../../shared/topics';
import {
  DAY_MS,
  activeWeightAt,
  distanceKm,
  generateDay,
  initialEvents,
  localTimeOf,
  plannedPurchases,
  userIndex,
  type AnySimEvent,
  type World,
} from '../../services/simulator/world';
import { makeWorld } from './fixtures';

function purchasesOf(events: AnySimEvent[]): Array<{ user: number; category: string; at: number }> {
  return events.flatMap((e) =>
    e.topic === 'purchases'
      ? [{ user: Number(e.value.userId.slice(1)), category: e.value.category, at: e.at }]
      : [],
  );
}

/** P(the user buys Y in (t, t + 3 d] | they bought X at t), averaged over the (X, Y) pairs the filter keeps. */
function followRate(world: World, days: number, keep: (x: string, y: string) => boolean): number {
  const byUser = new Map<number, Array<{ category: string; at: number }>>();
  for (let d = 0; d < days; d++) {
    for (const p of purchasesOf(generateDay(world, d, { includeSales: false }))) {
      const list = byUser.get(p.user) ?? [];
      list.push(p);
      byUser.set(p.user, list);
    }
  }
  const horizon = world.startMs + (days - 3) * DAY_MS;
  let hits = 0;
  let trials = 0;
  for (const list of byUser.values()) {
    for (const a of list) {
      if (a.at >= horizon) continue;
      const after = new Set(
        list.filter((b) => b.at > a.at && b.at <= a.at + 3 * DAY_MS).map((b) => b.category),
      );
      for (const y of world.categories) {
        if (y === a.category || !keep(a.category, y)) continue;
        trials++;
        if (after.has(y)) hits++;
      }
    }
  }
  return hits / trials;
}

describe('generateDay', () => {
  const world = makeWorld();

  it('is a function of the world seed (and of the seed it is given)', () => {
    const a = generateDay(world, 2);
    expect(generateDay(makeWorld(), 2)).toEqual(a);
    expect(generateDay(world, 2)).toEqual(a);
    expect(generateDay(makeWorld({ seed: 43 }), 2)).not.toEqual(a);
    const variant = generateDay(world, 2, { seed: 7 });
    expect(variant).not.toEqual(a);
    expect(generateDay(world, 2, { seed: 7 })).toEqual(variant);
  });

  it('emits only events that pass their topic schema, keyed, sorted, inside the day, with unique ids', () => {
    const ids = new Set<string>();
    const all = [...initialEvents(world), ...[0, 1, 2, 6].flatMap((d) => generateDay(world, d))];
    const topics = new Set<string>();
    // One assertion over the collected problems: tens of thousands of expect() calls would dominate the run.
    const problems: string[] = [];
    for (const e of all) {
      const parsed = TOPICS[e.topic].schema.safeParse(e.value);
      if (!parsed.success) problems.push(`${e.topic} ${JSON.stringify(e.value)}: ${parsed.error.message}`);
      if (e.key !== (e.value as Record<string, unknown>)[TOPICS[e.topic].key])
        problems.push(`key ${e.key} of ${e.value.eventId}`);
      if (Date.parse(e.value.at) !== e.at) problems.push(`at ${e.at} of ${e.value.eventId}`);
      if (ids.has(e.value.eventId)) problems.push(`duplicate ${e.value.eventId}`);
      ids.add(e.value.eventId);
      topics.add(e.topic);
    }
    expect(problems).toEqual([]);
    expect(all.length).toBeGreaterThan(10_000);
    expect([...topics].sort()).toEqual([
      'browse',
      'locations',
      'products',
      'profiles',
      'purchases',
      'sales',
      'stores',
    ]);
    const start = world.startMs + DAY_MS;
    const day = generateDay(world, 1);
    const outside = day.filter((e) => e.at < start || e.at >= start + DAY_MS);
    const unsorted = day.filter((e, k) => k > 0 && e.at < day[k - 1]!.at);
    expect(outside).toEqual([]);
    expect(unsorted).toEqual([]);
  });

  it('validates a whole day of a 500-user world against the zod contracts', () => {
    const day = generateDay(world, 3);
    expect(day.length).toBeGreaterThan(2000);
    const bad = day.filter((e) => !TOPICS[e.topic].schema.safeParse(e.value).success);
    expect(bad).toEqual([]);
  });

  it('generates the same day whole or in shards of users', () => {
    const whole = generateDay(world, 4, { includeSales: false });
    const shards = [
      ...generateDay(world, 4, { includeSales: false, users: { from: 0, to: 200 } }),
      ...generateDay(world, 4, { includeSales: false, users: { from: 200, to: 500 } }),
    ].sort((a, b) => a.at - b.at);
    expect(shards.map((e) => e.value.eventId).sort()).toEqual(whole.map((e) => e.value.eventId).sort());
  });

  it('builds sequential affinity into purchases: table pairs follow far more often than other pairs', () => {
    const w = makeWorld({ users: 1500, activity: { purchasesPerDay: 0.4 } });
    const follows = new Set(
      w.categories.flatMap((a, i) => w.follows[i]!.map((e) => `${a}>${w.categories[e.to]}`)),
    );
    const pair = followRate(w, 10, (x, y) => follows.has(`${x}>${y}`));
    const other = followRate(w, 10, (x, y) => !follows.has(`${x}>${y}`));
    expect(pair).toBeGreaterThan(0.15);
    expect(pair).toBeGreaterThan(4 * other);
    // Control: without the follow-up mechanism the same statistic cannot tell pairs apart.
    const flat = makeWorld({ users: 1500, activity: { purchasesPerDay: 0.4, followUpScale: 0 } });
    const flatPair = followRate(flat, 10, (x, y) => follows.has(`${x}>${y}`));
    const flatOther = followRate(flat, 10, (x, y) => !follows.has(`${x}>${y}`));
    expect(flatPair).toBeLessThan(2 * flatOther);
  });

  it('carries follow-ups across days: a purchase on day d has its follow-ups on days d..d+3', () => {
    let carried = 0;
    for (let i = 0; i < world.users.count; i++) {
      for (const f of plannedPurchases(world, i, 2).followUps) {
        const day = Math.floor((f.at - world.startMs) / DAY_MS);
        expect(day).toBeGreaterThanOrEqual(2);
        expect(day).toBeLessThanOrEqual(5);
        const ids = generateDay(world, day, { includeSales: false, users: { from: i, to: i + 1 } }).map(
          (e) => e.value.eventId,
        );
        expect(ids).toContain(f.id);
        if (day > 2) carried++;
      }
    }
    expect(carried).toBeGreaterThan(5);
  });

  it('times purchases at the user active hours, in their local time', () => {
    const events = [0, 1, 2, 3].flatMap((d) => purchasesOf(generateDay(world, d, { includeSales: false })));
    expect(events.length).toBeGreaterThan(300);
    const atPurchases = events.reduce((s, p) => s + activeWeightAt(world, p.user, p.at), 0) / events.length;
    let uniform = 0;
    for (const p of events) {
      for (let h = 0; h < 24; h++)
        uniform += activeWeightAt(world, p.user, world.startMs + h * 3_600_000 + 1_800_000) / 24;
    }
    uniform /= events.length;
    expect(atPurchases).toBeGreaterThan(1.8 * uniform);
  });

  it('draws purchase categories from the latent preferences', () => {
    const events = [0, 1, 2, 3, 4, 5].flatMap((d) =>
      purchasesOf(generateDay(world, d, { includeSales: false })),
    );
    const C = world.categories.length;
    const prefOf = (p: { user: number; category: string }): number =>
      world.users.prefs[p.user * C + world.categoryIndex.get(p.category)!]!;
    expect(events.reduce((s, p) => s + prefOf(p), 0) / events.length).toBeGreaterThan(3 / C);
  });

  it('places purchases at their store, with positive amounts', () => {
    const w = makeWorld({ stores: 300 });
    const stores = new Map(w.stores.map((s) => [s.id, s]));
    const purchases = generateDay(w, 1).flatMap((e) => (e.topic === 'purchases' ? [e.value] : []));
    expect(purchases.length).toBeGreaterThan(100);
    for (const p of purchases) {
      const s = stores.get(p.storeId)!;
      expect(s.category).toBe(p.category);
      expect(distanceKm(p.location!, s)).toBeLessThan(0.3);
      expect(p.amount).toBeGreaterThan(0);
    }
  });

  it('pings from work on weekday office hours and from home at night', () => {
    const pings = [0, 1, 2].flatMap((d) =>
      generateDay(world, d).flatMap((e) => (e.topic === 'locations' ? [e.value] : [])),
    );
    let work = 0;
    let home = 0;
    let office = 0;
    let night = 0;
    for (const p of pings) {
      const i = userIndex(world, p.userId);
      if (!world.users.hasWork[i]) continue;
      const { hour } = localTimeOf(world, i, Date.parse(p.at));
      const here = { lat: p.lat, lon: p.lon };
      const dHome = distanceKm(here, { lat: world.users.homeLat[i]!, lon: world.users.homeLon[i]! });
      const dWork = distanceKm(here, { lat: world.users.workLat[i]!, lon: world.users.workLon[i]! });
      if (hour >= 10 && hour < 17) {
        office++;
        if (dWork < 0.5) work++;
      } else if (hour < 7 || hour >= 21) {
        night++;
        if (dHome < 0.5) home++;
      }
    }
    expect(work / office).toBeGreaterThan(0.8);
    expect(home / night).toBeGreaterThan(0.8);
  });

  it('emits profile updates when a user flips opt-in or refreshes tokens', () => {
    const w = makeWorld({ users: 200, days: 3, activity: { optToggleShare: 0.5 } });
    const updates = [0, 1, 2].flatMap((d) =>
      generateDay(w, d).flatMap((e) => (e.topic === 'profiles' ? [e.value] : [])),
    );
    expect(updates.length).toBeGreaterThan(60);
    const initial = new Map(
      initialEvents(w).flatMap((e) => (e.topic === 'profiles' ? [[e.value.userId, e.value.pushOptIn]] : [])),
    );
    expect(updates.filter((u) => u.pushOptIn !== initial.get(u.userId)).length).toBeGreaterThan(60);
  });

  it('maps instants to local hours correctly on a DST transition day', () => {
    // Day 6 is Sunday 29 March 2026: Madrid goes from +1 to +2 at 01:00 UTC.
    const events = generateDay(world, 6, { includeSales: false });
    for (const e of events.slice(0, 2000)) {
      const i = userIndex(world, e.key);
      const local = DateTime.fromMillis(e.at, { zone: world.zones[world.users.zone[i]!]!.zone });
      expect(localTimeOf(world, i, e.at)).toEqual({ weekday: local.weekday, hour: local.hour });
    }
    const madrid = world.zones.findIndex((z) => z.zone === 'Europe/Madrid');
    const u = Array.from(world.users.zone).indexOf(madrid);
    expect(localTimeOf(world, u, Date.parse('2026-03-29T00:30:00Z')).hour).toBe(1);
    expect(localTimeOf(world, u, Date.parse('2026-03-29T01:30:00Z')).hour).toBe(3);
    expect(localTimeOf(world, u, Date.parse('2026-03-28T01:30:00Z')).hour).toBe(2);
  });
});
