import { DateTime } from 'luxon';
import { isQuiet, planSend, slots, type PlanInput } from '../../services/timing/plan';
import {
  DEFAULT_ENGAGEMENT,
  addEvidence,
  alphaFromPrior,
  argmaxHour,
  cohortPrior,
  effective,
  emptyCounters,
  localHour,
  posteriorAlpha,
  posteriorMean,
} from '../../services/timing/engagement';

const at = (iso: string) => DateTime.fromISO(iso, { setZone: true }).toMillis();
const local = (ms: number, tz: string) =>
  DateTime.fromMillis(ms, { zone: tz }).toFormat("yyyy-MM-dd'T'HH:mmZZ");
const peak = (hour: number) => Array.from({ length: 24 }, (_, h) => (h === hour ? 0.5 : 0.5 / 23));
const QUIET = { start: 22, end: 8 };
const base = (over: Partial<PlanInput>): PlanInput => ({
  now: at('2026-11-22T10:00:00Z'),
  tz: 'UTC',
  latest: at('2026-11-23T06:00:00Z'),
  probs: peak(20),
  quiet: QUIET,
  urgency: 'best',
  waitMargin: 0.2,
  explore: 0,
  draws: [0.99, 0.5],
  minuteOffset: 0,
  ...over,
});

describe('quiet hours', () => {
  it('wrap midnight', () => {
    expect([21, 22, 23, 0, 7, 8].map((h) => isQuiet(h, QUIET))).toEqual([
      false,
      true,
      true,
      true,
      true,
      false,
    ]);
    expect(isQuiet(13, { start: 12, end: 14 })).toBe(true);
    expect(isQuiet(3, { start: 0, end: 0 })).toBe(false);
  });
});

describe('planSend', () => {
  it('goes at the best local hour, in the user’s zone', () => {
    const plan = planSend(base({ tz: 'Europe/Madrid' }))!;
    expect(local(plan.due, 'Europe/Madrid')).toBe('2026-11-22T20:00+01:00');
    expect(plan).toMatchObject({ hour: 20, bestHour: 20, propensity: 1, explored: false });
  });

  it('never plans into quiet hours, even when the model likes them best', () => {
    const plan = planSend(base({ probs: peak(23) }))!;
    expect(isQuiet(plan.hour, QUIET)).toBe(false);
    expect(plan.bestHour).not.toBe(23);
  });

  it('goes before a deadline that comes before the best hour', () => {
    const plan = planSend(base({ latest: at('2026-11-22T15:00:00Z') }))!;
    expect(plan.due).toBeLessThan(at('2026-11-22T15:00:00Z'));
    expect(plan.hour).toBeLessThan(15);
  });

  it('finds nothing when all that is left before the deadline is quiet', () => {
    expect(
      planSend(base({ now: at('2026-11-22T23:00:00Z'), latest: at('2026-11-23T05:00:00Z') })),
    ).toBeNull();
  });

  it('sends a real-time push now when now is good enough, and waits when a later hour is much better', () => {
    const flat = Array.from({ length: 24 }, () => 1 / 24);
    expect(planSend(base({ urgency: 'now-if-good', probs: flat }))!.due).toBe(at('2026-11-22T10:00:00Z'));
    const waits = planSend(base({ urgency: 'now-if-good' }))!;
    expect(local(waits.due, 'UTC')).toBe('2026-11-22T20:00+00:00');
  });

  it('explores with the share it is given and logs the exact probability of the choice', () => {
    const probs = peak(20);
    const plan = planSend(base({ explore: 0.1, draws: [0.05, 0.0] }))!; // explores, draws the first slot
    expect(plan.explored).toBe(true);
    expect(plan.hour).toBe(10);
    const allowed = slots(base({}).now, 'UTC', base({}).latest, QUIET);
    const total = allowed.reduce((a, s) => a + probs[s.hour]!, 0);
    expect(plan.propensity).toBeCloseTo(0.1 * (probs[10]! / total), 12);
    const greedy = planSend(base({ explore: 0.1, draws: [0.5, 0.0] }))!;
    expect(greedy.propensity).toBeCloseTo(0.9 + 0.1 * (probs[20]! / total), 12);
  });
});

describe('slots across zones and DST', () => {
  it('America/New_York spring forward: 02:00 does not exist, 03:00 follows 01:00', () => {
    const s = slots(at('2026-03-08T05:30:00Z'), 'America/New_York', at('2026-03-08T12:00:00Z'), {
      start: 0,
      end: 0,
    });
    expect(s.map((x) => x.hour)).toEqual([0, 1, 3, 4, 5, 6, 7]);
  });

  it('America/New_York fall back: 01:00 happens twice and is planned once', () => {
    const s = slots(at('2026-11-01T03:30:00Z'), 'America/New_York', at('2026-11-01T10:00:00Z'), {
      start: 0,
      end: 0,
    });
    expect(s.map((x) => x.hour)).toEqual([23, 0, 1, 2, 3, 4]);
    expect(local(s[2]!.start, 'America/New_York')).toBe('2026-11-01T01:00-04:00');
  });

  it('keeps the hour starts of half-hour and 45-minute zones', () => {
    const kolkata = planSend(base({ tz: 'Asia/Kolkata', now: at('2026-11-22T03:00:00Z') }))!;
    expect(local(kolkata.due, 'Asia/Kolkata')).toBe('2026-11-22T20:00+05:30');
    const chatham = planSend(base({ tz: 'Pacific/Chatham', now: at('2026-11-21T20:00:00Z') }))!;
    expect(local(chatham.due, 'Pacific/Chatham')).toBe('2026-11-22T20:00+13:45');
  });

  it('Australia/Lord_Howe, whose DST moves by half an hour', () => {
    // 2026-10-04 02:00 local becomes 02:30 (+10:30 -> +11:00).
    const s = slots(at('2026-10-03T14:30:00Z'), 'Australia/Lord_Howe', at('2026-10-03T20:00:00Z'), {
      start: 0,
      end: 0,
    });
    const labels = s.map((x) => local(x.start, 'Australia/Lord_Howe'));
    expect(labels[0]).toBe('2026-10-04T01:00+10:30');
    expect(new Set(s.map((x) => x.hour)).size).toBe(s.length);
    for (let i = 1; i < s.length; i++) expect(s[i]!.start).toBeGreaterThan(s[i - 1]!.start);
  });
});

describe('the engagement posterior', () => {
  const cohort = Array.from({ length: 24 }, (_, h) => (h === 19 ? 50 : 5));
  const global = Array.from({ length: 24 }, (_, h) => (h === 12 ? 500 : 50));

  it('gives a new user the cohort’s best hour', () => {
    const alpha = posteriorAlpha(new Array<number>(24).fill(0), cohort, global, DEFAULT_ENGAGEMENT);
    expect(argmaxHour(posteriorMean(alpha))).toBe(19);
  });

  it('moves toward the user’s own hour as their evidence grows, and decays it with time', () => {
    const now = at('2026-11-22T00:00:00Z');
    const c = emptyCounters();
    addEvidence(c, 7, 1, now, DEFAULT_ENGAGEMENT.halfLifeDays);
    const one = posteriorMean(posteriorAlpha(effective(c, now, 30), cohort, global, DEFAULT_ENGAGEMENT));
    for (let i = 0; i < 9; i++) addEvidence(c, 7, 1, now, DEFAULT_ENGAGEMENT.halfLifeDays);
    const ten = posteriorMean(posteriorAlpha(effective(c, now, 30), cohort, global, DEFAULT_ENGAGEMENT));
    expect(one[7]!).toBeLessThan(ten[7]!);
    expect(one[19]!).toBeGreaterThan(ten[19]!); // the cohort's pull shrinks as the user's evidence grows
    expect(argmaxHour(ten)).toBe(7);
    expect(effective(c, now + 30 * 86_400_000, 30)[7]).toBeCloseTo(5, 9); // half after a half-life
  });

  it('is the same, to the last bit, when a batch shrinks the zone’s prior once for all its users', () => {
    const now = at('2026-11-22T00:00:00Z');
    const prior = cohortPrior(cohort, global, DEFAULT_ENGAGEMENT);
    for (let k = 0; k < 20; k++) {
      const c = emptyCounters();
      for (let e = 0; e < k; e++) addEvidence(c, (e * 5 + k) % 24, 1 + (e % 3), now - e * 7_200_000, 30);
      const user = effective(c, now, 30);
      expect(alphaFromPrior(user, prior, DEFAULT_ENGAGEMENT.priorStrength)).toEqual(
        posteriorAlpha(user, cohort, global, DEFAULT_ENGAGEMENT),
      );
    }
  });
});

describe('localHour', () => {
  it('agrees with luxon across zones, DST changes and odd offsets', () => {
    const zones = [
      'UTC',
      'Europe/Madrid',
      'America/New_York',
      'Asia/Kolkata',
      'Pacific/Chatham',
      'Australia/Lord_Howe',
    ];
    const start = at('2026-01-01T00:00:00Z');
    for (let i = 0; i < 3000; i++) {
      const t = start + Math.floor((((i * 7919) % 1000) / 1000) * 365 * 86_400_000) + i * 60_013;
      for (const tz of zones) expect(localHour(t, tz)).toBe(DateTime.fromMillis(t, { zone: tz }).hour);
    }
  });
});
