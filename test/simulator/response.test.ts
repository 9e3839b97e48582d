import { DateTime } from 'luxon';
import { FeedbackV1 } from '../../shared/schemas/events.schema';
import {
  DAY_MS,
  DEFAULT_RESPONSE_MODEL,
  HOUR_MS,
  NO_FATIGUE,
  bestHourUtc,
  createRng,
  devicesAt,
  fatigueLoad,
  feedbackEvents,
  pushOptInAt,
  recordPush,
  respond,
  sampleResponse,
  type FatigueState,
  type PushSpec,
  type World,
} from '../../services/simulator/world';
import { makeWorld } from './fixtures';

/** Users who can receive pushes for the whole run. */
function reachableUsers(world: World, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < world.users.count && out.length < n; i++) {
    if (
      world.users.deviceCount[i]! > 0 &&
      world.users.pushOptIn[i] === 1 &&
      Number.isNaN(world.users.optToggleAt[i])
    )
      out.push(i);
  }
  return out;
}

/** The instant of the user's least active local hour on local date `day`. */
function worstHourUtc(world: World, i: number, day: number): number {
  const { starts, weekIndex } = world.calendar.localDay(world.users.zone[i]!, day);
  let worst = 0;
  for (let h = 1; h < starts.length; h++) {
    if (
      world.users.activeHours[i * 168 + weekIndex[h]!]! <
      world.users.activeHours[i * 168 + weekIndex[worst]!]!
    )
      worst = h;
  }
  return starts[worst]!;
}

describe('respond', () => {
  const world = makeWorld();
  const users = reachableUsers(world, 200);
  const noon = world.startMs + 2 * DAY_MS + 12 * HOUR_MS;
  const sale = (category: string, discount = 30): PushSpec => ({ category, discount, kind: 'sale' });

  it('opens more for a better category match, all else equal', () => {
    let strict = 0;
    for (const i of users) {
      const C = world.categories.length;
      const order = world.categories
        .map((c, k) => ({ c, p: world.users.prefs[i * C + k]! }))
        .sort((a, b) => a.p - b.p);
      const p = order.map((o) => respond(world, i, sale(o.c), noon).pOpen);
      for (let k = 1; k < p.length; k++) expect(p[k]).toBeGreaterThanOrEqual(p[k - 1]!);
      const best = respond(world, i, sale(order[C - 1]!.c), noon);
      const worst = respond(world, i, sale(order[0]!.c), noon);
      if (best.pOpen > 2 * worst.pOpen) strict++;
      expect(best.pClick).toBeGreaterThan(worst.pClick);
    }
    expect(strict).toBe(users.length);
  });

  it('opens more at the user best hour than at their worst one', () => {
    for (const i of users) {
      const c = world.categories[world.users.topCategory[i]!]!;
      const best = respond(world, i, sale(c), bestHourUtc(world, i, 3));
      const worst = respond(world, i, sale(c), worstHourUtc(world, i, 3));
      const all = Array.from(
        world.calendar.localDay(world.users.zone[i]!, 3).starts,
        (t) => respond(world, i, sale(c), t).pOpen,
      );
      expect(best.pOpen).toBe(Math.max(...all));
      expect(worst.pOpen).toBe(Math.min(...all));
      expect(best.pOpen).toBeGreaterThan(1.5 * worst.pOpen);
    }
  });

  it('opens more for a deeper discount, more so for price-sensitive users', () => {
    const lift = (i: number): number => {
      const c = world.categories[world.users.topCategory[i]!]!;
      const deep = respond(world, i, sale(c, 60), noon).pOpen;
      const shallow = respond(world, i, sale(c, 5), noon).pOpen;
      expect(deep).toBeGreaterThan(shallow);
      expect(respond(world, i, sale(c, 30), noon).pOpen).toBeGreaterThan(shallow);
      return deep / shallow;
    };
    const bySensitivity = [...users].sort(
      (a, b) => world.users.priceSensitivity[a]! - world.users.priceSensitivity[b]!,
    );
    expect(lift(bySensitivity[bySensitivity.length - 1]!)).toBeGreaterThan(lift(bySensitivity[0]!));
  });

  it('prefers a store near home or work, decaying over kilometres', () => {
    // Without a workplace, the distance is the distance from home.
    const i = users.find((u) => world.users.hasWork[u] === 0)!;
    const home = { lat: world.users.homeLat[i]!, lon: world.users.homeLon[i]! };
    const at = (km: number): number =>
      respond(
        world,
        i,
        {
          category: 'groceries',
          discount: 20,
          kind: 'store',
          storeLocation: { lat: home.lat + km / 111.32, lon: home.lon },
        },
        noon,
      ).pOpen;
    expect(at(0)).toBeGreaterThan(at(2));
    expect(at(2)).toBeGreaterThan(at(8));
    expect(at(8)).toBeGreaterThan(at(40));
    expect(at(5) / at(0)).toBeGreaterThan(0.3);
    expect(at(5) / at(0)).toBeLessThan(0.7);
  });

  it('opens less with more recent pushes, ignored ones weighing more, forgotten after the window', () => {
    const i = users[1]!;
    const push = sale(world.categories[world.users.topCategory[i]!]!);
    const pushes = (opened: boolean, ages: number[]): FatigueState =>
      ages.reduce((s, age) => recordPush(s, noon - age, opened), NO_FATIGUE);
    const none = respond(world, i, push, noon).pOpen;
    const one = respond(world, i, push, noon, pushes(false, [DAY_MS])).pOpen;
    const three = respond(world, i, push, noon, pushes(false, [DAY_MS, 2 * DAY_MS, 3 * HOUR_MS])).pOpen;
    const threeOpened = respond(world, i, push, noon, pushes(true, [DAY_MS, 2 * DAY_MS, 3 * HOUR_MS])).pOpen;
    const old = respond(world, i, push, noon, pushes(false, [8 * DAY_MS, 9 * DAY_MS])).pOpen;
    expect(one).toBeLessThan(none);
    expect(three).toBeLessThan(one);
    expect(threeOpened).toBeLessThan(none);
    expect(threeOpened).toBeGreaterThan(three);
    expect(old).toBe(none);
    // The more fatigue-sensitive user loses more to the same pushes.
    const sens = [...users].sort(
      (a, b) => world.users.fatigueSensitivity[a]! - world.users.fatigueSensitivity[b]!,
    );
    const loss = (u: number): number => {
      const p = sale(world.categories[world.users.topCategory[u]!]!);
      return (
        respond(world, u, p, noon, pushes(false, [DAY_MS, 2 * DAY_MS])).pOpen /
        respond(world, u, p, noon).pOpen
      );
    };
    expect(loss(sens[sens.length - 1]!)).toBeLessThan(loss(sens[0]!));
  });

  it('keeps the fatigue window bounded', () => {
    let s = NO_FATIGUE;
    for (let k = 0; k < 100; k++) s = recordPush(s, noon + k * DAY_MS, false);
    expect(s.pushes.length).toBeLessThanOrEqual(7);
    expect(fatigueLoad(s, noon + 100 * DAY_MS)).toBeGreaterThan(0);
    expect(fatigueLoad(s, noon + 120 * DAY_MS)).toBe(0);
  });

  it('reads the hour in the user zone, DST-correct', () => {
    const floor = DEFAULT_RESPONSE_MODEL.hourFloor;
    const madrid = world.zones.findIndex((z) => z.zone === 'Europe/Madrid');
    const tokyo = world.zones.findIndex((z) => z.zone === 'Asia/Tokyo');
    const m = users.find((i) => world.users.zone[i] === madrid)!;
    const t = Array.from(world.users.zone).indexOf(tokyo);
    for (const iso of [
      '2026-03-29T00:30:00Z',
      '2026-03-29T01:30:00Z',
      '2026-03-28T01:30:00Z',
      '2026-10-25T00:30:00Z',
      '2026-10-25T01:30:00Z',
    ]) {
      const ms = Date.parse(iso);
      for (const i of [m, t]) {
        const local = DateTime.fromMillis(ms, { zone: world.zones[world.users.zone[i]!]!.zone });
        const r = respond(world, i, sale('books'), ms);
        expect([r.localWeekday, r.localHour]).toEqual([local.weekday, local.hour]);
        const w = world.users.activeHours[i * 168 + (local.weekday - 1) * 24 + local.hour]! / 255;
        expect(r.factors.hour).toBeCloseTo(floor + (1 - floor) * w, 10);
      }
    }
  });

  it('reaches nobody who opted out or has no device', () => {
    const noDevice = Array.from(world.users.deviceCount).indexOf(0);
    expect(respond(world, noDevice, sale('books'), noon)).toMatchObject({
      reachable: false,
      pOpen: 0,
      pClick: 0,
    });
    const w = makeWorld({ activity: { optToggleShare: 1 } });
    const i = Array.from(w.users.pushOptIn).findIndex((o, k) => o === 1 && w.users.deviceCount[k]! > 0);
    const flip = w.users.optToggleAt[i]!;
    expect(respond(w, i, sale('books'), flip - 1).reachable).toBe(true);
    expect(respond(w, i, sale('books'), flip).pOpen).toBe(0);
    expect(pushOptInAt(w, i, flip)).toBe(false);
  });
});

describe('sampleResponse and feedbackEvents', () => {
  const world = makeWorld();
  const users = reachableUsers(world, 50);
  const sent = world.startMs + 3 * DAY_MS + 19 * HOUR_MS;

  it('opens and clicks at the modelled rates, in causal order', () => {
    const rng = createRng(5);
    let p = 0;
    let opens = 0;
    let clicks = 0;
    let pClickGivenOpen = 0;
    const N = 20_000;
    // Violations are collected and asserted once: 20,000 x several expect() calls would dominate the run.
    const bad: string[] = [];
    for (let k = 0; k < N; k++) {
      const i = users[k % users.length]!;
      const push: PushSpec = {
        category: world.categories[world.users.topCategory[i]!]!,
        discount: 40,
        kind: 'sale',
      };
      const o = sampleResponse(rng, world, i, push, sent);
      if (!o.delivered || o.deliveredAt! < sent) bad.push(`delivery ${k}`);
      p += o.probabilities.pOpen;
      if (o.opened) {
        opens++;
        pClickGivenOpen += o.probabilities.pClick;
        if (!(o.openedAt! > o.deliveredAt!) || o.openedAt! - sent > 21 * HOUR_MS) bad.push(`openedAt ${k}`);
      } else if (o.clicked || o.openedAt !== null) bad.push(`click without open ${k}`);
      if (o.clicked) {
        clicks++;
        if (!(o.clickedAt! > o.openedAt!)) bad.push(`clickedAt ${k}`);
      }
    }
    expect(bad).toEqual([]);
    const sd = Math.sqrt(p * (1 - p / N));
    expect(Math.abs(opens - p)).toBeLessThan(4 * sd);
    expect(Math.abs(clicks - pClickGivenOpen)).toBeLessThan(4 * Math.sqrt(pClickGivenOpen));
    expect(opens).toBeGreaterThan(500);
  });

  it('delivers nothing to an unreachable user', () => {
    const i = Array.from(world.users.deviceCount).indexOf(0);
    const o = sampleResponse(createRng(1), world, i, { category: 'books', discount: 10, kind: 'sale' }, sent);
    expect(o).toMatchObject({ delivered: false, opened: false, clicked: false, openedAt: null });
    expect(feedbackEvents({ world, pushId: 'p-1', user: i, strategy: 'daily-sale', outcome: o })).toEqual([]);
  });

  it('turns an outcome into delivered / opened / clicked feedback events that pass FeedbackV1', () => {
    const rng = createRng(9);
    const i = users[0]!;
    const push: PushSpec = {
      category: world.categories[world.users.topCategory[i]!]!,
      discount: 60,
      kind: 'sale',
    };
    let o = sampleResponse(rng, world, i, push, sent);
    while (!o.clicked) o = sampleResponse(rng, world, i, push, sent);
    const events = feedbackEvents({
      world,
      pushId: 'push-abc',
      user: i,
      strategy: 'daily-sale',
      candidateId: 'sale-3-1',
      outcome: o,
    });
    expect(events.map((e) => e.value.type)).toEqual(['delivered', 'opened', 'clicked']);
    expect(new Set(events.map((e) => e.value.eventId)).size).toBe(3);
    for (const e of events) {
      expect(FeedbackV1.parse(e.value)).toEqual(e.value);
      expect(e.key).toBe(e.value.userId);
      expect(Date.parse(e.value.at)).toBe(e.at);
      expect(e.value.candidateId).toBe('sale-3-1');
    }
    expect(events[1]!.at).toBe(o.openedAt);
    const long = feedbackEvents({ world, pushId: 'x'.repeat(128), user: i, strategy: 's', outcome: o });
    for (const e of long) expect(FeedbackV1.safeParse(e.value).success).toBe(true);
    expect(devicesAt(world, i, sent).length).toBeGreaterThan(0);
  });
});
