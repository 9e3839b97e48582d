/**
 * Offline policy evaluation: what a conciliation policy other than the one that ran would have earned per
 * decision, estimated from the decision log (DESIGN rule 11). Pure; services/offline/ope.command.ts reads the
 * log and prints these numbers.
 *
 * A unit is one logged decision: the logging policy's probability of each action (each arm, then none, last),
 * the action taken, its rewards (one per column: pushes, opens, clicks), the target policy's probabilities in
 * the same layout, and a reward model's prediction for every action (for the doubly robust estimate). With
 * `w` the unit's sample weight (1 / the rate its kind of decision was logged at), `ρ = target[a] / logged[a]`
 * its importance weight and `r` its reward:
 *
 *   on-policy  Σ w r / Σ w                              what the logging policy earned
 *   IPS        Σ w ρ r / Σ w                            unbiased when logged[a] > 0 wherever target[a] > 0
 *   SNIPS      Σ w ρ r / Σ w ρ                          IPS divided by its own estimate of 1: a little bias,
 *                                                       much less variance when ρ is large
 *   DR         Σ w (Σ_a target[a] q[a] + ρ (r − q[a])) / Σ w
 *                                                       the reward model's value plus the IPS of its error:
 *                                                       unbiased if either the propensities or q are right
 *
 * Every estimate is a ratio Σ w a_i / Σ w b_i of per-unit terms, so one function gives them all and their 95%
 * intervals: a normal approximation with the linearised (sandwich) variance
 * Σ w² (a_i − V b_i)² / (Σ w b_i)² × n / (n − 1), or its cluster-robust form when units carry a cluster (the
 * command clusters by user: one user's decisions are not independent draws). A ratio of two estimates (open rate = opens / pushes) is the
 * same form with the numerator's terms over the denominator's (the delta method). The IPS and SNIPS ratios
 * are the same number: their normalisers cancel.
 */
import { fnv1a } from '../../shared/ids';
import type { Decision } from '../../shared/schemas/events.schema';
import { parseFingerprint, probabilities, type PolicyConfig } from './policy';

/** Two-sided 95% quantile of the standard normal. */
const Z95 = 1.959963984540054;

/** One logged decision, ready to be evaluated. */
export interface OpeUnit {
  /** How many decisions this record stands for (1 / its sample rate). */
  weight: number;
  /** The logging policy's probability of each action: each arm, then none. */
  logged: readonly number[];
  /** Index of the action taken in `logged` (none is the last); `logged[action]` must be above 0. */
  action: number;
  /** The action's reward, one per column. */
  rewards: readonly number[];
  /** The target policy's probability of each action, in `logged`'s layout. */
  target: readonly number[];
  /** Per column, the reward model's prediction for each action, in `logged`'s layout. */
  qhat: ReadonlyArray<readonly number[]>;
  /** What the unit is not independent of (its user): intervals are cluster-robust when every unit has one. */
  cluster?: string;
}

/** An estimate with its 95% interval; `se` (and the interval) is null with fewer than two units (clusters). */
export interface Estimate {
  value: number;
  se: number | null;
  lo: number | null;
  hi: number | null;
}

/**
 * Σ w a / Σ w b with its 95% normal interval (linearised variance, see the header). Null when there is nothing
 * to divide by (no units, or Σ w b = 0).
 *
 * With `clusters` (e.g. each unit's user), the terms w (a − V b) are summed per cluster before they are
 * squared, and n is the number of clusters: the cluster-robust variance, for units that are not independent
 * (one user's decisions share the user).
 */
export function ratioEstimate(
  w: readonly number[],
  a: readonly number[],
  b: readonly number[],
  clusters?: readonly string[],
): Estimate | null {
  const n = w.length;
  let sa = 0;
  let sb = 0;
  for (let i = 0; i < n; i++) {
    sa += w[i]! * a[i]!;
    sb += w[i]! * b[i]!;
  }
  if (n === 0 || sb === 0) return null;
  const value = sa / sb;
  const d = (i: number) => w[i]! * (a[i]! - value * b[i]!);
  let ss = 0;
  let g = n;
  if (clusters) {
    const sums = new Map<string, number>();
    for (let i = 0; i < n; i++) sums.set(clusters[i]!, (sums.get(clusters[i]!) ?? 0) + d(i));
    for (const x of sums.values()) ss += x * x;
    g = sums.size;
  } else {
    for (let i = 0; i < n; i++) ss += d(i) ** 2;
  }
  if (g < 2) return { value, se: null, lo: null, hi: null };
  const se = Math.sqrt((ss / (sb * sb)) * (g / (g - 1)));
  return { value, se, lo: value - Z95 * se, hi: value + Z95 * se };
}

/** The four estimates of one reward column (or of a ratio of two). */
export interface ColumnEstimates {
  /** The logging policy's own weighted mean. */
  onPolicy: Estimate | null;
  ips: Estimate | null;
  snips: Estimate | null;
  dr: Estimate | null;
  /** DR minus the on-policy mean, paired unit by unit (usually a narrower interval than the two apart). */
  drGain: Estimate | null;
}

/** Per-unit terms of every estimator for one column. */
interface Terms {
  r: number[];
  ipsTerm: number[];
  rho: number[];
  drTerm: number[];
}

function terms(units: readonly OpeUnit[], column: number): Terms {
  const t: Terms = { r: [], ipsTerm: [], rho: [], drTerm: [] };
  for (const u of units) {
    const rho = u.target[u.action]! / u.logged[u.action]!;
    const r = u.rewards[column]!;
    const q = u.qhat[column]!;
    let direct = 0;
    for (let a = 0; a < u.target.length; a++) direct += u.target[a]! * q[a]!;
    t.r.push(r);
    t.rho.push(rho);
    t.ipsTerm.push(rho * r);
    t.drTerm.push(direct + rho * (r - q[u.action]!));
  }
  return t;
}

export interface OpeResult {
  /** Units evaluated, and the decisions they stand for (Σ w). */
  units: number;
  weighted: number;
  /** One entry per reward column. */
  columns: ColumnEstimates[];
  /** Kish's effective sample size of the combined weights w ρ: (Σ w ρ)² / Σ (w ρ)². */
  ess: number;
  /** The largest importance weight ρ = target / logged of an action taken. */
  maxWeight: number;
  /**
   * The target's probability, per decision (weighted), of actions the logging policy never takes there
   * (logged probability 0). IPS and SNIPS cannot see what happens there, so a share above 0 biases them.
   */
  unsupported: number;
}

/** Every estimator for every reward column. */
export function evaluate(units: readonly OpeUnit[]): OpeResult {
  const w = units.map((u) => u.weight);
  const ones = w.map(() => 1);
  const cl = clustersOf(units);
  const ratio = (a: readonly number[], b: readonly number[]) => ratioEstimate(w, a, b, cl);
  const columnCount = units[0]?.rewards.length ?? 0;
  const columns: ColumnEstimates[] = [];
  let first: Terms | undefined;
  for (let c = 0; c < columnCount; c++) {
    const t = terms(units, c);
    first ??= t;
    columns.push({
      onPolicy: ratio(t.r, ones),
      ips: ratio(t.ipsTerm, ones),
      snips: ratio(t.ipsTerm, t.rho),
      dr: ratio(t.drTerm, ones),
      drGain: ratio(
        t.drTerm.map((x, i) => x - t.r[i]!),
        ones,
      ),
    });
  }
  const rho = first?.rho ?? units.map((u) => u.target[u.action]! / u.logged[u.action]!);
  let s1 = 0;
  let s2 = 0;
  let maxWeight = 0;
  let unsupported = 0;
  for (let i = 0; i < units.length; i++) {
    const x = w[i]! * rho[i]!;
    s1 += x;
    s2 += x * x;
    if (rho[i]! > maxWeight) maxWeight = rho[i]!;
    const u = units[i]!;
    for (let a = 0; a < u.target.length; a++) if (!(u.logged[a]! > 0)) unsupported += w[i]! * u.target[a]!;
  }
  const weighted = w.reduce((s, x) => s + x, 0);
  return {
    units: units.length,
    weighted,
    columns,
    ess: s2 > 0 ? (s1 * s1) / s2 : 0,
    maxWeight,
    unsupported: weighted > 0 ? unsupported / weighted : 0,
  };
}

/**
 * A ratio of two columns' estimates, e.g. open rate = opens / pushes, each estimator over the same estimator
 * (delta-method interval). `drGain` is null: a difference of ratios is not this form.
 */
export function evaluateRatio(units: readonly OpeUnit[], num: number, den: number): ColumnEstimates {
  const w = units.map((u) => u.weight);
  const cl = clustersOf(units);
  const a = terms(units, num);
  const b = terms(units, den);
  const ips = ratioEstimate(w, a.ipsTerm, b.ipsTerm, cl);
  return {
    onPolicy: ratioEstimate(w, a.r, b.r, cl),
    ips,
    snips: ips,
    dr: ratioEstimate(w, a.drTerm, b.drTerm, cl),
    drGain: null,
  };
}

/** The units' clusters when every unit has one. */
function clustersOf(units: readonly OpeUnit[]): string[] | undefined {
  const out: string[] = [];
  for (const u of units) {
    if (u.cluster === undefined) return undefined;
    out.push(u.cluster);
  }
  return out;
}

/** One unit as the reward model sees it. */
export interface RewardModelRow {
  /** The half it belongs to (0 or 1); it is scored by the model fitted on the other half. */
  fold: 0 | 1;
  /**
   * Per action, the keys its reward is pooled under, finest first (e.g. strategy|context, then strategy);
   * empty: the action earns nothing by definition (none, an anticipated arm) and predicts 0.
   */
  keys: ReadonlyArray<readonly string[]>;
  action: number;
  weight: number;
  rewards: readonly number[];
}

/** Pooled over every action that has keys, when none of an action's own keys was seen. */
const ANY = '\u0000any';

/**
 * The doubly robust estimate's reward model, cross-fitted: per key, the weighted mean reward of the other
 * fold's units that took an action with that key; an action takes its finest key seen in the other fold, else
 * the other fold's mean over all keyed actions, else 0. Returns per row, per column, per action.
 */
export function crossFitQ(rows: readonly RewardModelRow[], columns: number): number[][][] {
  const pool = () => new Map<string, { w: number; sums: number[] }>();
  const stats = [pool(), pool()] as const;
  for (const row of rows) {
    const keys = row.keys[row.action] ?? [];
    if (keys.length === 0) continue;
    for (const k of [...keys, ANY]) {
      let s = stats[row.fold].get(k);
      if (!s) stats[row.fold].set(k, (s = { w: 0, sums: new Array<number>(columns).fill(0) }));
      s.w += row.weight;
      for (let c = 0; c < columns; c++) s.sums[c]! += row.weight * row.rewards[c]!;
    }
  }
  return rows.map((row) => {
    const other = stats[row.fold === 0 ? 1 : 0];
    const pooled = row.keys.map((keys) => {
      if (keys.length === 0) return undefined;
      for (const k of [...keys, ANY]) {
        const s = other.get(k);
        if (s && s.w > 0) return s;
      }
      return undefined;
    });
    return Array.from({ length: columns }, (_, c) => pooled.map((s) => (s ? s.sums[c]! / s.w : 0)));
  });
}

/** The reward columns of a conciliation decision, in this order. */
export const REWARDS = ['pushes', 'opens', 'clicks'] as const;
export type RewardName = (typeof REWARDS)[number];

/** A decision that was acted on, with what came of it. */
export interface DecisionOutcome {
  decision: Decision;
  /** 1 when a push went out (outcome `sent`), and whether it was opened, clicked. */
  rewards: Record<RewardName, number>;
}

export interface ConciliationUnits {
  units: OpeUnit[];
  /** Decisions whose logged probabilities differ by more than 1e-6 from a recomputation under their policy. */
  mismatched: number;
  /** The largest such difference (of equal-length vectors). */
  maxMismatch: number;
  /** How many decisions each logging policy (fingerprint) made. */
  policies: Map<string, number>;
}

/**
 * Units for the target `{...each decision's logging config, ...overrides}`. The logged probabilities are used
 * as they are; recomputing them is only a check. An anticipated arm (the policy waits for a later campaign)
 * is an action that earns nothing and that the reward model predicts 0 for, like none. `progress` is called
 * every 100,000 decisions (each costs two `probabilities`, a Monte Carlo for two arms or more).
 */
export function conciliationUnits(
  outcomes: readonly DecisionOutcome[],
  overrides: Partial<PolicyConfig>,
  progress?: (done: number) => void,
): ConciliationUnits {
  const policies = new Map<string, number>();
  const configs = new Map<string, { logging: PolicyConfig; target: PolicyConfig }>();
  let mismatched = 0;
  let maxMismatch = 0;
  const partial = outcomes.map(({ decision: d, rewards }, i) => {
    if (progress && i > 0 && i % 100_000 === 0) progress(i);
    policies.set(d.policy, (policies.get(d.policy) ?? 0) + 1);
    let cfg = configs.get(d.policy);
    if (!cfg) {
      const logging = parseFingerprint(d.policy);
      configs.set(d.policy, (cfg = { logging, target: { ...logging, ...overrides } }));
    }
    const recomputed = probabilities(d.input, cfg.logging);
    const diff =
      recomputed.length === d.probs.length
        ? Math.max(...recomputed.map((p, i) => Math.abs(p - d.probs[i]!)))
        : Infinity;
    if (diff > 1e-6) mismatched++;
    if (Number.isFinite(diff)) maxMismatch = Math.max(maxMismatch, diff);
    const keys = [
      ...d.input.arms.map((a) => (a.anticipated ? [] : [`${a.strategy}|${d.input.context}`, a.strategy])),
      [],
    ];
    const action = d.chosen < 0 ? d.input.arms.length : d.chosen;
    return {
      row: {
        fold: (fnv1a(d.decisionId) & 1) as 0 | 1,
        keys,
        action,
        weight: d.weight,
        rewards: REWARDS.map((k) => rewards[k]),
      },
      logged: d.probs,
      target: probabilities(d.input, cfg.target),
    };
  });
  const q = crossFitQ(
    partial.map((p) => p.row),
    REWARDS.length,
  );
  const units = partial.map((p, i) => ({
    weight: p.row.weight,
    logged: p.logged,
    action: p.row.action,
    rewards: p.row.rewards,
    target: p.target,
    qhat: q[i]!,
    cluster: outcomes[i]!.decision.userId,
  }));
  return { units, mismatched, maxMismatch, policies };
}
