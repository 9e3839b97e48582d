import { DateTime } from 'luxon';
import { fnv1a } from '../../shared/ids';
import type { DecisionInput } from '../../shared/schemas/events.schema';
import type { Winner } from '../../shared/schemas/jobs.schema';
import { capReason, capsAllowFrom, type Contact } from '../../services/conciliation/contact-rules';
import { decideUser, holdoutOf, liftScopes } from '../../services/conciliation/decide';
import {
  DEFAULT_POLICY,
  choose,
  inHoldout,
  meanValues,
  parseFingerprint,
  phi,
  policyFingerprint,
  probabilities,
} from '../../services/conciliation/policy';

const arm = (over: Partial<DecisionInput['arms'][number]> = {}): DecisionInput['arms'][number] => ({
  strategy: 'daily-sale',
  pushId: 'p1',
  candidateId: 'c1',
  score: 1,
  delivered: 1000,
  opened: 30,
  clicked: 10,
  meanScore: 1,
  sinceHours: null,
  ...over,
});

const input = (arms: DecisionInput['arms'], user: Partial<DecisionInput['user']> = {}): DecisionInput => ({
  context: 'known',
  user: { delivered: 10, opened: 1, clicked: 0, fatigue: 0, ...user },
  global: { delivered: 10_000, opened: 300 },
  arms,
});

describe('the value policy', () => {
  it('values an arm as theta × user rate × quality × (1 − recovering penalty) × (1 + click weight × CTO)', () => {
    const x = input([arm()]);
    // theta = 31/1002 (Beta(31, 971)), g = 301/10002, r_u = (1 + 8g) / 18 / g, q = 1, recover 0, cto = 11/32.
    const g = 301 / 10002;
    const expected = (31 / 1002) * ((1 + 8 * g) / 18 / g) * (1 + 11 / 32);
    expect(meanValues(x, DEFAULT_POLICY)[0]).toBeCloseTo(expected, 12);
  });

  it('gives one arm its exact probability of clearing the bar, then mixes in exploration', () => {
    const x = input([arm()]);
    const c = { ...DEFAULT_POLICY, explore: 0.1 };
    const a = 31;
    const b = 971;
    const n = a + b;
    const mean = a / n;
    const sd = Math.sqrt((a * b) / (n * n * (n + 1)));
    const k = meanValues(x, c)[0]! / mean;
    const pSend = 1 - phi((c.minValue / k - mean) / sd);
    const p = probabilities(x, c);
    expect(p[0]).toBeCloseTo(0.9 * pSend + 0.05, 12);
    expect(p[1]).toBeCloseTo(0.9 * (1 - pSend) + 0.05, 12);
  });

  it('sends nothing below the minimum value but for exploration', () => {
    const x = input([arm({ score: 0.25 })], { opened: 0, delivered: 40 });
    const p = probabilities(x, { ...DEFAULT_POLICY, minValue: 0.5, explore: 0.05 });
    expect(p[0]).toBeCloseTo(0.025, 6);
    expect(p[1]).toBeCloseTo(0.975, 6);
  });

  it('raises the bar with fatigue', () => {
    const fresh = probabilities(input([arm()]), DEFAULT_POLICY)[0]!;
    const tired = probabilities(input([arm()], { fatigue: 20 }), DEFAULT_POLICY)[0]!;
    expect(tired).toBeLessThan(fresh);
  });

  it('penalises an arm the user got lately, and the penalty recovers with time', () => {
    const two = (since: number | null) =>
      input([arm({ strategy: 'a', pushId: 'pa', sinceHours: since }), arm({ strategy: 'b', pushId: 'pb' })]);
    const c = { ...DEFAULT_POLICY, explore: 0 };
    const justNow = probabilities(two(0), c);
    const later = probabilities(two(24 * 30), c);
    expect(justNow[0]).toBeLessThan(0.2);
    expect(later[0]).toBeGreaterThan(0.3);
    expect(later[0]).toBeCloseTo(later[1]!, 0);
    expect(justNow.reduce((s, p) => s + p, 0)).toBeCloseTo(1, 9);
  });

  it('learns: an arm with more opens gets more of the choices, and the posterior sharpens with data', () => {
    const c = { ...DEFAULT_POLICY, explore: 0 };
    const few = probabilities(
      input([
        arm({ strategy: 'a', pushId: 'pa', delivered: 20, opened: 2 }),
        arm({ strategy: 'b', pushId: 'pb', delivered: 20, opened: 1 }),
      ]),
      c,
    );
    const many = probabilities(
      input([
        arm({ strategy: 'a', pushId: 'pa', delivered: 20_000, opened: 2000 }),
        arm({ strategy: 'b', pushId: 'pb', delivered: 20_000, opened: 1000 }),
      ]),
      c,
    );
    expect(few[0]).toBeGreaterThan(few[1]!);
    expect(few[1]).toBeGreaterThan(0.05);
    expect(many[0]).toBeGreaterThan(0.99);
  });

  it('draws the choice from its probabilities, and logs the probability of what it chose', () => {
    const x = input([arm({ strategy: 'a', pushId: 'pa' }), arm({ strategy: 'b', pushId: 'pb', opened: 40 })]);
    const p = probabilities(x, DEFAULT_POLICY);
    expect(choose(x, DEFAULT_POLICY, 0).chosen).toBe(0);
    expect(choose(x, DEFAULT_POLICY, p[0]! + 1e-9).chosen).toBe(1);
    const none = choose(x, DEFAULT_POLICY, 0.999999999);
    expect(none.chosen).toBe(-1);
    expect(none.propensity).toBeCloseTo(p[2]!, 12);
    // The draw u picks arm 1 exactly on [p0, p0 + p1): its share of evenly spaced draws is p1.
    let hits = 0;
    for (let i = 0; i < 200; i++) if (choose(x, DEFAULT_POLICY, (i + 0.5) / 200).chosen === 1) hits++;
    expect(Math.abs(hits / 200 - p[1]!)).toBeLessThanOrEqual(1 / 200);
  });

  it('reads back its logged configuration', () => {
    const c = { ...DEFAULT_POLICY, minValue: 0.02, explore: 0.1 };
    expect(parseFingerprint(policyFingerprint(c))).toEqual(c);
  });
});

describe('caps per local day and week', () => {
  const rules = { all: { day: 1, week: 3 }, strategy: { 'market-basket': { day: 0, week: 1 } } };
  const at = (iso: string, tz = 'Europe/Madrid') => DateTime.fromISO(iso, { zone: tz }).toMillis();

  it('counts the local day across a DST change: 25 hours on the last Sunday of October in Madrid', () => {
    // 2026-10-25 is 25 hours long in Madrid (03:00 CEST becomes 02:00 CET).
    const history: Contact[] = [{ strategy: 'daily-sale', at: at('2026-10-25T00:30') }];
    expect(capReason(history, 'daily-sale', at('2026-10-25T23:30'), 'Europe/Madrid', rules)).toBe('cap_day');
    expect(capReason(history, 'daily-sale', at('2026-10-26T00:00'), 'Europe/Madrid', rules)).toBeNull();
    // The next allowed instant is local midnight, 24.5 + 1 hours after the push (the day had 25 hours).
    const next = capsAllowFrom(
      history,
      'daily-sale',
      at('2026-10-25T12:00'),
      at('2026-10-30T00:00'),
      'Europe/Madrid',
      rules,
    );
    expect(next).toBe(at('2026-10-26T00:00'));
    expect((next! - history[0]!.at) / 3_600_000).toBe(24.5);
  });

  it('counts the local day across the spring change: 23 hours', () => {
    const history: Contact[] = [{ strategy: 'daily-sale', at: at('2026-03-29T00:30') }];
    const next = capsAllowFrom(
      history,
      'daily-sale',
      at('2026-03-29T12:00'),
      at('2026-04-05T00:00'),
      'Europe/Madrid',
      rules,
    );
    expect((next! - history[0]!.at) / 3_600_000).toBe(22.5);
  });

  it('caps the week (Monday first) and a strategy of its own', () => {
    const history: Contact[] = [
      { strategy: 'daily-sale', at: at('2026-11-23T10:00') },
      { strategy: 'market-basket', at: at('2026-11-24T10:00') },
      { strategy: 'daily-sale', at: at('2026-11-25T10:00') },
    ];
    expect(capReason(history, 'daily-sale', at('2026-11-26T10:00'), 'Europe/Madrid', rules)).toBe('cap_week');
    expect(capReason(history, 'daily-sale', at('2026-11-30T00:00'), 'Europe/Madrid', rules)).toBeNull();
    const loose = { all: { day: 0, week: 0 }, strategy: rules.strategy };
    expect(capReason(history, 'market-basket', at('2026-11-26T10:00'), 'Europe/Madrid', loose)).toBe(
      'cap_week:market-basket',
    );
    expect(capReason(history, 'daily-sale', at('2026-11-26T10:00'), 'Europe/Madrid', loose)).toBeNull();
    // Nothing allowed before the deadline: null.
    expect(
      capsAllowFrom(
        history,
        'daily-sale',
        at('2026-11-26T10:00'),
        at('2026-11-29T10:00'),
        'Europe/Madrid',
        rules,
      ),
    ).toBeNull();
  });
});

describe('holdouts', () => {
  const h = { share: 0.05, strategyShare: 0.05, salt: 'herald' };
  const users = Array.from({ length: 20_000 }, (_, i) => `u${i}`);

  it('puts close to its share of users in the control group, the same users every time', () => {
    const control = users.filter((u) => holdoutOf(u, h, ['daily-sale']).control);
    expect(control.length / users.length).toBeGreaterThan(0.045);
    expect(control.length / users.length).toBeLessThan(0.055);
    expect(users.filter((u) => holdoutOf(u, h, ['daily-sale']).control)).toEqual(control);
    expect(inHoldout('u1', 0, 'herald', fnv1a)).toBe(false);
  });

  it('draws each strategy holdout independently, among users outside the control', () => {
    const s = ['daily-sale', 'market-basket'];
    const a = users.filter((u) => holdoutOf(u, h, s).strategies.has('daily-sale'));
    const b = users.filter((u) => holdoutOf(u, h, s).strategies.has('market-basket'));
    const both = a.filter((u) => b.includes(u));
    expect(a.length / users.length).toBeCloseTo(0.95 * 0.05, 2);
    expect(both.length).toBeLessThan(a.length * 0.15);
    expect(a.some((u) => holdoutOf(u, h, s).control)).toBe(false);
    const scopes = liftScopes(a[0]!, h, s);
    expect(scopes).toEqual([
      'all|treated',
      'daily-sale|holdout',
      `market-basket|${b.includes(a[0]!) ? 'holdout' : 'treated'}`,
    ]);
  });
});

describe('a user’s window decision', () => {
  const now = Date.parse('2026-11-23T15:00:00Z');
  const offer = (strategy: string, score: number, over: Partial<Winner> = {}): Winner => ({
    decisionId: `push-${strategy}`,
    strategy,
    targetId: `t-${strategy}`,
    candidate: {
      id: `c-${strategy}`,
      kind: 'sale',
      category: 'shoes',
      title: 'x',
      discount: 20,
      affinity: 0.5,
      deepLink: 'herald://x',
    },
    score,
    at: now,
    ...over,
  });
  const bandit = new Map<string, number>([
    ['daily-sale|known|delivered', 5000],
    ['daily-sale|known|opened', 250],
    ['daily-sale|known|clicked', 80],
    ['daily-sale|scoreSum', 5000],
    ['daily-sale|scoreN', 5000],
    ['market-basket|known|delivered', 5000],
    ['market-basket|known|opened', 50],
    ['market-basket|known|clicked', 10],
    ['market-basket|scoreSum', 2500],
    ['market-basket|scoreN', 5000],
  ]);
  const base = {
    userId: 'u1',
    timeZone: 'Europe/Madrid',
    now,
    engagement: { delivered: 10, opened: 1, clicked: 0, fatigue: 0 },
    contacts: [] as Contact[],
    bandit,
    anticipated: [] as Array<{ strategy: string; at: number }>,
  };
  const rules = { all: { day: 1, week: 5 }, strategy: {} };
  const policy = { ...DEFAULT_POLICY, explore: 0 };

  it('lets a weak real-time push wait for a better daily sale still to come', () => {
    const r = decideUser(
      {
        ...base,
        offers: [offer('market-basket', 0.4)],
        anticipated: [{ strategy: 'daily-sale', at: now + 3_600_000 }],
      },
      rules,
      policy,
    );
    expect(r.winner).toBeNull();
    expect(r.reason).toBe('waiting:daily-sale');
    expect(r.decision!.input.arms.map((a) => a.strategy)).toEqual(['market-basket', 'daily-sale']);
    expect(r.decision!.probs[1]).toBeGreaterThan(0.99);
  });

  it('sends the daily sale over the weaker real-time push once both are there, and logs the choice', () => {
    const r = decideUser(
      { ...base, offers: [offer('daily-sale', 1), offer('market-basket', 0.4)] },
      rules,
      policy,
    );
    expect(r.winner?.strategy).toBe('daily-sale');
    expect(r.winner?.decision?.outcome).toBe('sent');
    expect(r.winner?.decision?.chosen).toBe(0);
  });

  it('drops a capped offer with its reason, and offers already sent', () => {
    const contacts = [{ strategy: 'daily-sale', at: now - 3_600_000, pushId: 'push-old' }];
    const r = decideUser({ ...base, contacts, offers: [offer('daily-sale', 1)] }, rules, policy);
    expect(r.winner).toBeNull();
    expect(r.reason).toBe('cap_day');
    expect(r.capped.map((c) => c.reason)).toEqual(['cap_day']);
    const again = decideUser(
      {
        ...base,
        contacts: [{ strategy: 'daily-sale', at: now - 86_400_000 * 2, pushId: 'push-daily-sale' }],
        offers: [offer('daily-sale', 1)],
      },
      rules,
      policy,
    );
    expect(again.winner).toBeNull();
    expect(again.reason).toBe('no_offer');
  });

  it('decides the same way every time for the same offers (a retry)', () => {
    const d = { ...base, offers: [offer('daily-sale', 1), offer('market-basket', 2)] };
    const a = decideUser(d, rules, DEFAULT_POLICY);
    const b = decideUser(d, rules, DEFAULT_POLICY);
    expect(b).toEqual(a);
  });
});
