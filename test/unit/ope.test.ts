import { seededRandom } from '../../services/ranking/trainer';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  conciliationUnits,
  crossFitQ,
  evaluate,
  evaluateRatio,
  ratioEstimate,
  type DecisionOutcome,
  type OpeUnit,
} from '../../services/conciliation/ope';
import { DEFAULT_POLICY, policyFingerprint, probabilities } from '../../services/conciliation/policy';
import { decisionProblem } from '../../services/offline/decision-log';
import { main } from '../../services/offline/offline';
import { parseOverrides, type toJson } from '../../services/offline/ope.command';
import type { Decision, DecisionInput } from '../../shared/schemas/events.schema';

const Z = 1.959963984540054;

/**
 * Five decisions among two arms and none (actions 0, 1, 2). Columns: opens, then pushes (1 for an arm).
 * The reward model predicts opens 0.5 / 0.25 / 0 and pushes 1 / 1 / 0 for every unit.
 *
 *   unit  w  logged          a  opens  target            ρ = target[a] / logged[a]
 *   1     1  .5  .3  .2      0  1      .2  .6  .2        .2 / .5  = 0.4
 *   2     1  .5  .3  .2      1  0      .2  .6  .2        .6 / .3  = 2
 *   3     2  .25 .25 .5      2  0      .5  .25 .25       .25 / .5 = 0.5
 *   4     1  .4  .4  .2      1  1      .1  .8  .1        .8 / .4  = 2
 *   5     1  .8  .1  .1      0  0      .5  .4  .1        .5 / .8  = 0.625
 */
const Q = [
  [0.5, 0.25, 0],
  [1, 1, 0],
];
const unit = (
  weight: number,
  logged: number[],
  action: number,
  opens: number,
  target: number[],
): OpeUnit => ({ weight, logged, action, rewards: [opens, action < 2 ? 1 : 0], target, qhat: Q });
const HAND: OpeUnit[] = [
  unit(1, [0.5, 0.3, 0.2], 0, 1, [0.2, 0.6, 0.2]),
  unit(1, [0.5, 0.3, 0.2], 1, 0, [0.2, 0.6, 0.2]),
  unit(2, [0.25, 0.25, 0.5], 2, 0, [0.5, 0.25, 0.25]),
  unit(1, [0.4, 0.4, 0.2], 1, 1, [0.1, 0.8, 0.1]),
  unit(1, [0.8, 0.1, 0.1], 0, 0, [0.5, 0.4, 0.1]),
];

describe('OPE estimators on a hand-computed log', () => {
  const r = evaluate(HAND);
  const opens = r.columns[0]!;

  it('on-policy: Σ w r / Σ w = (1 + 0 + 0 + 1 + 0) / 6', () => {
    expect(r.units).toBe(5);
    expect(r.weighted).toBe(6);
    expect(opens.onPolicy!.value).toBeCloseTo(2 / 6, 9);
  });

  it('IPS: Σ w ρ r / Σ w = (0.4 + 2) / 6 = 0.4, se from w (ρr − 0.4)', () => {
    expect(opens.ips!.value).toBeCloseTo(0.4, 9);
    // w (ρ r − V): 0, −0.4, 2 × −0.4, 1.6, −0.4 → squares 0 + .16 + .64 + 2.56 + .16 = 3.52;
    // se² = 3.52 / 6² × 5 / 4.
    const se = Math.sqrt((3.52 / 36) * (5 / 4));
    expect(opens.ips!.se).toBeCloseTo(se, 9);
    expect(opens.ips!.lo).toBeCloseTo(0.4 - Z * se, 9);
    expect(opens.ips!.hi).toBeCloseTo(0.4 + Z * se, 9);
  });

  it('SNIPS: Σ w ρ r / Σ w ρ = 2.4 / (0.4 + 2 + 1 + 2 + 0.625)', () => {
    const v = 2.4 / 6.025;
    expect(opens.snips!.value).toBeCloseTo(v, 9);
    // w (ρ r − V ρ): 0.4 − 0.4V, −2V, −2 × 0.5V, 2 − 2V, −0.625V over (Σ w ρ)².
    const ss = (0.4 - 0.4 * v) ** 2 + (2 * v) ** 2 + (2 * 0.5 * v) ** 2 + (2 - 2 * v) ** 2 + (0.625 * v) ** 2;
    expect(opens.snips!.se).toBeCloseTo(Math.sqrt((ss / 6.025 ** 2) * (5 / 4)), 9);
  });

  it('DR: direct value Σ target q plus ρ (r − q[a]), averaged with w', () => {
    // 1: .2×.5 + .6×.25 = .25,   + .4 × (1 − .5)     =  .2     → .45
    // 2: .25,                    + 2 × (0 − .25)     = −.5     → −.25
    // 3: .5×.5 + .25×.25 = .3125, + .5 × (0 − 0)     =  0      → .3125 (w 2)
    // 4: .1×.5 + .8×.25 = .25,   + 2 × (1 − .25)     = 1.5     → 1.75
    // 5: .5×.5 + .4×.25 = .35,   + .625 × (0 − .5)   = −.3125  → .0375
    // Σ w x = .45 − .25 + .625 + 1.75 + .0375 = 2.6125
    expect(opens.dr!.value).toBeCloseTo(2.6125 / 6, 9);
    // The paired gain over the logging policy: Σ w (x − r) / Σ w = (2.6125 − 2) / 6.
    expect(opens.drGain!.value).toBeCloseTo(0.6125 / 6, 9);
  });

  it('ESS of w ρ and the largest ρ', () => {
    // Σ w ρ = 6.025; Σ (w ρ)² = .16 + 4 + 1 + 4 + .390625 = 9.550625.
    expect(r.ess).toBeCloseTo(6.025 ** 2 / 9.550625, 9);
    expect(r.maxWeight).toBe(2);
    expect(r.unsupported).toBe(0);
  });

  it('pushes: with an exact reward model DR is the direct value and has no variance', () => {
    // Σ target over the arms: .8, .8, .75 (w 2), .9, .9 → 4.9 / 6.
    const pushes = r.columns[1]!;
    expect(pushes.dr!.value).toBeCloseTo(4.9 / 6, 9);
    expect(pushes.onPolicy!.value).toBeCloseTo(4 / 6, 9);
    expect(pushes.ips!.value).toBeCloseTo(5.025 / 6, 9);
  });

  it('open rate = opens / pushes: each estimator over itself', () => {
    const rate = evaluateRatio(HAND, 0, 1);
    expect(rate.onPolicy!.value).toBeCloseTo(2 / 4, 9);
    // Σ w ρ opens / Σ w ρ pushes = 2.4 / (0.4 + 2 + 2 + 0.625): IPS and SNIPS agree.
    expect(rate.ips!.value).toBeCloseTo(2.4 / 5.025, 9);
    expect(rate.snips!.value).toBeCloseTo(2.4 / 5.025, 9);
    expect(rate.dr!.value).toBeCloseTo(2.6125 / 4.9, 9);
    expect(rate.drGain).toBeNull();
  });

  it('is null with nothing to divide by, and has no interval with one unit', () => {
    expect(ratioEstimate([], [], [])).toBeNull();
    expect(ratioEstimate([1, 1], [1, 1], [0, 0])).toBeNull();
    expect(ratioEstimate([1], [0.5], [1])).toEqual({ value: 0.5, se: null, lo: null, hi: null });
    expect(evaluate([]).columns).toEqual([]);
  });

  it('sums the terms of a cluster before squaring them when every unit has one', () => {
    // Units 2 and 3 one user, the others one each. IPS terms w (ρ r − .4): unit 1 0; units 2 + 3
    // −.4 − .8 = −1.2; unit 4 1.6; unit 5 −.4. se² = (0 + 1.44 + 2.56 + .16) / 36 × 4 / 3.
    const clustered = HAND.map((u, i) => ({ ...u, cluster: i === 1 || i === 2 ? 'ann' : `u${i}` }));
    const ips = evaluate(clustered).columns[0]!.ips!;
    expect(ips.value).toBeCloseTo(0.4, 12);
    expect(ips.se).toBeCloseTo(Math.sqrt((4.16 / 36) * (4 / 3)), 9);
    // One cluster: no interval.
    expect(evaluate(HAND.map((u) => ({ ...u, cluster: 'one' }))).columns[0]!.ips!.se).toBeNull();
  });

  it('measures the target probability the logging policy never takes', () => {
    // Unit 1's arm 1 is never logged: the target's .6 there, in 1 decision of 6.
    const units = [{ ...HAND[0]!, logged: [0.8, 0, 0.2] }, ...HAND.slice(1)];
    expect(evaluate(units).unsupported).toBeCloseTo(0.6 / 6, 12);
  });
});

describe('crossFitQ', () => {
  it('scores each half with the other half, finest key first, then everything, then 0', () => {
    const keys = [['a|new', 'a'], ['b|new', 'b'], []];
    const rows = [
      { fold: 0 as const, keys, action: 0, weight: 1, rewards: [1] },
      { fold: 0 as const, keys, action: 0, weight: 1, rewards: [0] },
      { fold: 1 as const, keys, action: 0, weight: 2, rewards: [1] },
      { fold: 1 as const, keys: [['a|known', 'a'], ['c|new', 'c'], []], action: 2, weight: 1, rewards: [0] },
    ];
    const q = crossFitQ(rows, 1);
    // Fold 0 from fold 1: a|new seen (1); b never seen → the mean of every keyed action of fold 1 (1); none 0.
    expect(q[0]).toEqual([[1, 1, 0]]);
    // Fold 1 from fold 0: a|new → 0.5; a|known unseen → a → 0.5; c unseen → everything → 0.5.
    expect(q[2]).toEqual([[0.5, 0.5, 0]]);
    expect(q[3]).toEqual([[0.5, 0.5, 0]]);
  });
});

describe('OPE on a simulated logged bandit', () => {
  // Two contexts, three arms with known open rates, none earns 0. Logging: uniform over the four actions.
  const P = [
    [0.3, 0.1, 0.05],
    [0.05, 0.2, 0.15],
  ];
  const n = 20_000;
  const rnd = seededRandom(42);
  const uniform = [0.25, 0.25, 0.25, 0.25];
  const log = Array.from({ length: n }, (_, i) => {
    const ctx = rnd() < 0.5 ? 0 : 1;
    const action = Math.min(3, Math.floor(rnd() * 4));
    const reward = action < 3 && rnd() < P[ctx]![action]! ? 1 : 0;
    return { i, ctx, action, reward };
  });
  const unitsFor = (targetOf: (ctx: number) => number[]): OpeUnit[] => {
    const keys = (ctx: number) => [[`0|${ctx}`], [`1|${ctx}`], [`2|${ctx}`], []];
    const q = crossFitQ(
      log.map((l) => ({
        fold: (l.i & 1) as 0 | 1,
        keys: keys(l.ctx),
        action: l.action,
        weight: 1,
        rewards: [l.reward],
      })),
      1,
    );
    return log.map((l, k) => ({
      weight: 1,
      logged: uniform,
      action: l.action,
      rewards: [l.reward],
      target: targetOf(l.ctx),
      qhat: q[k]!,
    }));
  };

  it('estimates a deterministic target within a few percent, the truth inside the interval', () => {
    // Target: the best arm of each context (0 in context 0, 1 in context 1). Truth: (0.3 + 0.2) / 2.
    const truth = 0.25;
    const r = evaluate(unitsFor((ctx) => (ctx === 0 ? [1, 0, 0, 0] : [0, 1, 0, 0])));
    const c = r.columns[0]!;
    for (const e of [c.ips!, c.snips!, c.dr!]) {
      expect(Math.abs(e.value - truth) / truth).toBeLessThan(0.05);
      expect(e.lo!).toBeLessThan(truth);
      expect(e.hi!).toBeGreaterThan(truth);
    }
    // The logging policy earns (mean of every arm, and none's 0) / 4 = 0.85 / 8.
    expect(Math.abs(c.onPolicy!.value - 0.85 / 8)).toBeLessThan(0.005);
    expect(r.maxWeight).toBe(4);
    // A quarter of the log matches the target's action: ESS = n / 4.
    expect(r.ess / n).toBeCloseTo(0.25, 1);
    // DR with a good reward model is tighter than IPS.
    expect(c.dr!.se!).toBeLessThan(c.ips!.se!);
  });

  it('estimates a stochastic target, and IPS of the logging policy is its on-policy mean', () => {
    const target = [0.5, 0.2, 0.1, 0.2];
    const truth = (0.5 * (0.3 + 0.05) + 0.2 * (0.1 + 0.2) + 0.1 * (0.05 + 0.15)) / 2;
    const c = evaluate(unitsFor(() => target)).columns[0]!;
    expect(Math.abs(c.dr!.value - truth) / truth).toBeLessThan(0.05);
    expect(Math.abs(c.snips!.value - truth) / truth).toBeLessThan(0.05);
    const same = evaluate(unitsFor(() => uniform)).columns[0]!;
    expect(same.ips!.value).toBeCloseTo(same.onPolicy!.value, 12);
  });
});

/** A sendable daily-sale arm and an anticipated market-basket one. */
const INPUT: DecisionInput = {
  context: 'known',
  user: { delivered: 10, opened: 3, clicked: 1, fatigue: 1 },
  global: { delivered: 1000, opened: 200 },
  arms: [
    {
      strategy: 'daily-sale',
      pushId: 'p1',
      candidateId: 's1',
      score: 0.2,
      delivered: 40,
      opened: 8,
      clicked: 2,
      meanScore: 0.2,
      sinceHours: 30,
    },
    {
      strategy: 'market-basket',
      pushId: 'p2',
      candidateId: 'st1',
      score: 0.1,
      delivered: 5,
      opened: 1,
      clicked: 0,
      meanScore: 0.2,
      sinceHours: null,
      anticipated: true,
    },
  ],
};

/** A decision of the default policy over INPUT's first `arms` arms, whose push ids are `p-<id>-<arm>`. */
function decisionOf(
  id: string,
  chosen: number,
  outcome: Decision['outcome'],
  o: { weight?: number; arms?: number; probs?: number[] } = {},
): Decision {
  const input = {
    ...INPUT,
    arms: INPUT.arms.slice(0, o.arms ?? 2).map((a, k) => ({ ...a, pushId: `p-${id}-${k}` })),
  };
  return {
    v: 1,
    decisionId: id,
    userId: `u-${id}`,
    at: '2026-11-20T10:00:00Z',
    input,
    probs: o.probs ?? probabilities(input, DEFAULT_POLICY),
    chosen,
    outcome,
    weight: o.weight ?? 1,
    policy: policyFingerprint(DEFAULT_POLICY),
  };
}

describe('conciliationUnits', () => {
  const outcome = (d: Decision, opens: number): DecisionOutcome => ({
    decision: d,
    rewards: { pushes: d.chosen === 0 ? 1 : 0, opens, clicks: 0 },
  });

  it('with no overrides the target is the logging policy: ρ = 1 and IPS is the on-policy mean', () => {
    const outcomes = [
      outcome(decisionOf('d1', 0, 'sent'), 1),
      outcome(decisionOf('d2', 0, 'sent'), 0),
      outcome(decisionOf('d3', -1, 'suppressed', { weight: 4 }), 0),
      outcome(decisionOf('d4', 1, 'suppressed', { weight: 4 }), 0),
    ];
    const u = conciliationUnits(outcomes, {});
    expect(u.mismatched).toBe(0);
    expect(u.policies.get(policyFingerprint(DEFAULT_POLICY))).toBe(4);
    expect(u.units.map((x) => x.action)).toEqual([0, 0, 2, 1]);
    // The anticipated arm and none predict nothing.
    for (const x of u.units) for (const q of x.qhat) expect([q[1], q[2]]).toEqual([0, 0]);
    const r = evaluate(u.units);
    expect(r.maxWeight).toBeCloseTo(1, 12);
    for (const c of r.columns) expect(c.ips!.value).toBeCloseTo(c.onPolicy!.value, 12);
    expect(r.weighted).toBe(1 + 1 + 4 + 4);
  });

  it('uses the logged probabilities, counts those that differ from a recomputation', () => {
    const logged = [0.5, 0.1, 0.4];
    const u = conciliationUnits([outcome(decisionOf('d1', 0, 'sent', { probs: logged }), 1)], { explore: 1 });
    expect(u.mismatched).toBe(1);
    expect(u.maxMismatch).toBeGreaterThan(1e-6);
    expect(u.units[0]!.logged).toEqual(logged);
    // explore 1: evenly over the sendable arm and none; the anticipated arm gets nothing.
    expect(u.units[0]!.target).toEqual([0.5, 0, 0.5]);
  });
});

describe('npm run offline -- ope (files)', () => {
  const decision = (id: string, chosen: number, outcome: Decision['outcome'], weight = 1) =>
    decisionOf(id, chosen, outcome, { weight, arms: 1 });
  const push = (d: Decision) => ({
    v: 1,
    pushId: `p-${d.decisionId}-0`,
    userId: d.userId,
    strategy: 'daily-sale',
    targetId: 't1',
    candidate: { id: 's1', kind: 'sale', category: 'food' },
    title: 'Sale',
    body: 'Now',
    deepLink: 'https://example.test/s1',
    devices: [],
    score: 0.3,
    sentAt: d.at,
    decision: d,
  });
  const feedback = (eventId: string, pushId: string, type: string) => ({
    v: 1,
    eventId,
    pushId,
    userId: 'u',
    strategy: 'daily-sale',
    type,
    at: '2026-11-20T11:00:00Z',
  });
  const jsonl = (xs: unknown[]) => xs.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join('\n');

  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'herald-ope-'));
    const sent = decision('d1', 0, 'sent');
    const sentQuiet = decision('d2', 0, 'sent');
    // Decisions that sent nothing: one sampled at a rate of 1/4, a holdout, a duplicate, and junk.
    writeFileSync(
      join(dir, 'decisions.jsonl'),
      jsonl([
        decision('d3', -1, 'suppressed', 4),
        decision('d4', 0, 'holdout'),
        decision('d3', -1, 'suppressed', 4),
        'not json',
        { ...decision('d5', -1, 'suppressed'), probs: [0.5, 0.3, 0.2] },
        '',
      ]),
    );
    writeFileSync(
      join(dir, 'pushes.jsonl'),
      jsonl([push(sent), push(sentQuiet), push(sent), { ...push(sent), pushId: 'p-other' }]) + '\r\n',
    );
    writeFileSync(
      join(dir, 'feedback.jsonl'),
      jsonl([
        feedback('e1', 'p-d1-0', 'opened'),
        feedback('e1', 'p-d1-0', 'opened'),
        feedback('e2', 'p-d1-0', 'clicked'),
        feedback('e3', 'p-d1-0', 'delivered'),
        { ...feedback('e4', 'p-d2-0', 'opened'), type: 'liked' },
      ]),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const runOpe = async (...args: string[]) => {
    let out = '';
    let err = '';
    const code = await main(['ope', ...args], { out: (t) => (out += t), err: (t) => (err += t) });
    return { code, out, err };
  };
  const files = () => [
    '--decisions',
    join(dir, 'decisions.jsonl'),
    '--pushes',
    join(dir, 'pushes.jsonl'),
    '--feedback',
    join(dir, 'feedback.jsonl'),
  ];

  it('joins rewards by pushId, weights sampled decisions, leaves holdout out, counts what it skips', async () => {
    const { code, out, err } = await runOpe('--config', '', ...files(), '--json');
    expect(code).toBe(0);
    const j = JSON.parse(out) as ReturnType<typeof toJson>;
    // d1 (sent, opened, clicked), d2 (sent, nothing), d3 (nothing, stands for 4): 6 decisions.
    expect(j.decisions).toBe(3);
    expect(j.weighted).toBe(6);
    expect(j.holdout).toEqual({ records: 1, weighted: 1 });
    expect(j.duplicates).toEqual({ decisions: 1, pushes: 1, feedback: 1 });
    expect(j.skipped).toEqual({
      'decisions: invalid JSON': 1,
      'decisions: probs: not one per arm plus none': 1,
      "pushes: decision: the chosen arm's pushId is not the push's": 1,
      'feedback: type: Invalid option: expected one of "delivered"|"opened"|"clicked"|"converted"': 1,
    });
    expect(err).toMatch(/4 records skipped/);
    const m = j.metrics;
    expect(m.pushesPerDecision.onPolicy!.value).toBeCloseTo(2 / 6, 12);
    expect(m.opensPerDecision.onPolicy!.value).toBeCloseTo(1 / 6, 12);
    expect(m.clicksPerDecision.onPolicy!.value).toBeCloseTo(1 / 6, 12);
    expect(m.openRate.onPolicy!.value).toBeCloseTo(1 / 2, 12);
    // The target is the logging policy: IPS is the on-policy mean.
    expect(m.opensPerDecision.ips!.value).toBeCloseTo(1 / 6, 12);
    expect(j.logging.mismatched).toBe(0);
    expect(j.maxWeight).toBeCloseTo(1, 12);
  });

  it('prints the table', async () => {
    const { code, out } = await runOpe('--config', 'explore=0.5', ...files());
    expect(code).toBe(0);
    expect(out).toMatch(/^ope: 3 decisions \(6 weighted\); 1 holdout left out; 4 records skipped/);
    expect(out).toMatch(/target: each decision's logging policy with explore=0.5/);
    for (const row of ['pushes/decision', 'opens/decision', 'clicks/decision', 'open rate'])
      expect(out).toMatch(new RegExp(`\\n${row} +\\d\\.\\d{4} \\[`));
  });

  it('refuses unknown keys, non-numbers, partial file sets, and a log with no decisions', async () => {
    const bad = await runOpe('--config', 'explore=0.1,warp=9', ...files());
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(
      /unknown key "warp" \(known: minValue, explore, clickWeight, fatigue, recoverPenalty/,
    );
    expect((await runOpe('--config', 'explore=lots', ...files())).err).toMatch(/explore must be a number/);
    expect((await runOpe('--config', 'explore=0.1', ...files().slice(0, 2))).err).toMatch(/give all three/);
    const empty = join(dir, 'empty.jsonl');
    writeFileSync(empty, '');
    const none = await runOpe('--config', '', '--decisions', empty, '--pushes', empty, '--feedback', empty);
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/no decisions to evaluate/);
  });

  it('names what is wrong with a decision it cannot evaluate', () => {
    const d = decisionOf('d1', 0, 'sent');
    expect(decisionProblem(d)).toBeNull();
    expect(decisionProblem({ ...d, chosen: 2 })).toBe('chosen: beyond the arms');
    expect(decisionProblem({ ...d, probs: [0.5, 0.5, 0.5] })).toBe('probs: do not sum to 1');
    expect(decisionProblem({ ...d, probs: [0, 0.5, 0.5] })).toBe('probs: the action taken has probability 0');
    expect(decisionProblem({ ...d, chosen: 1 })).toBe('outcome sent, but no sendable arm chosen');
    expect(decisionProblem({ ...d, chosen: -1 })).toBe('outcome sent, but no sendable arm chosen');
    expect(decisionProblem({ ...d, chosen: -1, outcome: 'suppressed' })).toBeNull();
  });

  it('parses overrides', () => {
    expect(parseOverrides(' explore=0.2, minValue = 0.05 ,')).toEqual({ explore: 0.2, minValue: 0.05 });
    expect(parseOverrides('')).toEqual({});
    expect(() => parseOverrides('draws=0')).toThrow(/draws must be a positive whole number/);
    expect(() => parseOverrides('toString=1')).toThrow(/unknown key/);
  });
});
