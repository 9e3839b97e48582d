/**
 * The conciliation policy: which of a user's candidates (one per strategy) takes the contact window, or
 * none. Pure; the stage reads the inputs and writes the outcome.
 *
 * Value on one scale. Each arm's value is an expected open, weighted up by the clicks that follow:
 *
 *   value = theta_s × r_u × q × (1 − recover) × (1 + clickWeight × cto_s)
 *
 *   theta_s   the strategy's open rate in the user's context, drawn from its Beta posterior (Thompson)
 *   r_u       the user's own open rate relative to everyone's, shrunk to 1 by `userPrior` pseudo-pushes
 *   q         the candidate's score relative to its strategy's mean score (clamped to [1/4, 4])
 *   recover   the recovering penalty of an arm the user got lately: `recoverPenalty × exp(−h / recoverHours)`
 *             (Duolingo's sleeping-and-recovering bandit)
 *   cto_s     the strategy's click-to-open rate (posterior mean)
 *
 * An arm is sent only if its value reaches the bar `minValue × (1 + fatigue × load)`, where load is the
 * user's decayed count of ignored pushes: fewer, better pushes. The arm of highest sampled value wins;
 * an anticipated arm (a scheduled campaign not yet arrived) can win, which means: wait for it.
 *
 * Probabilities are exact under the model used to choose: the Beta posterior is taken as a normal of the
 * same mean and variance, the probability of each arm (and of none) is computed (closed form for one arm,
 * a fixed-seed Monte Carlo of `draws` for more), mixed with `explore` spread evenly over the sendable arms
 * and none, and the choice is drawn from that vector. The logged propensity is therefore the probability
 * of the choice, and `probabilities` recomputes it for any configuration from a logged input.
 */
import type { DecisionInput } from '../../shared/schemas/events.schema';
import { seededRandom } from '../ranking/trainer';

export interface PolicyConfig {
  /** Nothing below this value is sent (expected opens per push, click-weighted). */
  minValue: number;
  /** Share of decisions spread evenly over the sendable arms and none (support for offline evaluation). */
  explore: number;
  /** Weight of the click-to-open rate in the value. */
  clickWeight: number;
  /** How much each unit of fatigue load raises the bar. */
  fatigue: number;
  /** Largest recovering penalty (0..1), right after the user got the strategy. */
  recoverPenalty: number;
  /** E-folding time of the recovering penalty, hours. */
  recoverHours: number;
  /** Pseudo-pushes at everyone's rate that a user's own open rate is shrunk with. */
  userPrior: number;
  /** Monte Carlo draws for decisions among two or more arms. */
  draws: number;
}

export const DEFAULT_POLICY: Readonly<PolicyConfig> = {
  minValue: 0.01,
  explore: 0.05,
  clickWeight: 1,
  fatigue: 0.15,
  recoverPenalty: 0.5,
  recoverHours: 48,
  userPrior: 8,
  draws: 256,
};

/** The policy's configuration as logged on every decision: `key=value;...` in a fixed order. */
export function policyFingerprint(c: PolicyConfig): string {
  return (Object.keys(DEFAULT_POLICY) as Array<keyof PolicyConfig>).map((k) => `${k}=${c[k]}`).join(';');
}

/** Parses a logged fingerprint back (unknown keys ignored, missing ones default). */
export function parseFingerprint(s: string): PolicyConfig {
  const out: PolicyConfig = { ...DEFAULT_POLICY };
  for (const kv of s.split(';')) {
    const [k, v] = kv.split('=');
    if (k && k in out && v !== undefined && Number.isFinite(Number(v)))
      out[k as keyof PolicyConfig] = Number(v);
  }
  return out;
}

/** A user's context class for the strategy posteriors: fewer than 3 pushes delivered is `new`. */
export function contextOf(delivered: number): 'new' | 'known' {
  return delivered < 3 ? 'new' : 'known';
}

/** What an arm's value is made of, before the strategy's open rate is drawn. */
interface ArmTerms {
  /** value = theta × k */
  k: number;
  /** The posterior of theta, as a normal: mean and standard deviation. */
  mean: number;
  sd: number;
  anticipated: boolean;
}

function terms(input: DecisionInput, c: PolicyConfig): ArmTerms[] {
  const g = (input.global.opened + 1) / (input.global.delivered + 2);
  const u = input.user;
  const rUser = (u.opened + c.userPrior * g) / (u.delivered + c.userPrior) / g;
  return input.arms.map((a) => {
    const alpha = a.opened + 1;
    const beta = Math.max(0, a.delivered - a.opened) + 1;
    const n = alpha + beta;
    const mean = alpha / n;
    const sd = Math.sqrt((alpha * beta) / (n * n * (n + 1)));
    const q = a.meanScore > 0 ? Math.min(4, Math.max(0.25, a.score / a.meanScore)) : 1;
    const recover = a.sinceHours === null ? 0 : c.recoverPenalty * Math.exp(-a.sinceHours / c.recoverHours);
    const cto = (a.clicked + 1) / (a.opened + 2);
    return {
      k: rUser * q * (1 - recover) * (1 + c.clickWeight * cto),
      mean,
      sd,
      anticipated: a.anticipated === true,
    };
  });
}

/** The bar an arm's value must clear for this user. */
export function bar(input: DecisionInput, c: PolicyConfig): number {
  return c.minValue * (1 + c.fatigue * input.user.fatigue);
}

/** Each arm's value at its posterior mean (what the trace and the log show; no randomness). */
export function meanValues(input: DecisionInput, c: PolicyConfig): number[] {
  return terms(input, c).map((t) => t.k * t.mean);
}

/** Standard normal CDF (Abramowitz-Stegun 7.1.26 through erf; |error| < 1.5e-7). */
export function phi(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-z * z);
  return x >= 0 ? 0.5 * (1 + y) : 0.5 * (1 - y);
}

/** Box-Muller from a uniform source. */
function normal(rnd: () => number): number {
  const u = Math.max(rnd(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd());
}

/**
 * The policy's probability of each arm, then of none (last), for this input and configuration. Exact for
 * one arm; for more, a Monte Carlo of `c.draws` with a fixed seed, so a replay computes the same vector.
 */
export function probabilities(input: DecisionInput, c: PolicyConfig): number[] {
  const t = terms(input, c);
  const b = bar(input, c);
  const n = t.length;
  const ts = new Array<number>(n + 1).fill(0);
  if (n === 1) {
    const a = t[0]!;
    // P(k × theta > b), theta ~ N(mean, sd).
    const pSend =
      b <= 0
        ? 1
        : a.k <= 0
          ? 0
          : a.sd === 0
            ? a.k * a.mean >= b
              ? 1
              : 0
            : 1 - phi((b / a.k - a.mean) / a.sd);
    ts[0] = pSend;
    ts[1] = 1 - pSend;
  } else {
    const rnd = seededRandom(0x5eed);
    for (let d = 0; d < c.draws; d++) {
      let best = -1;
      let bestV = -Infinity;
      for (let i = 0; i < n; i++) {
        const a = t[i]!;
        const v = a.k * Math.max(0, a.mean + a.sd * normal(rnd));
        if (v > bestV) {
          bestV = v;
          best = i;
        }
      }
      ts[bestV >= b ? best : n]! += 1 / c.draws;
    }
  }
  // Exploration spreads evenly over what can be sent now (not anticipated arms) and none.
  const sendable = t.map((a, i) => (a.anticipated ? -1 : i)).filter((i) => i >= 0);
  const share = c.explore / (sendable.length + 1);
  const out = ts.map((p) => (1 - c.explore) * p);
  for (const i of sendable) out[i]! += share;
  out[n]! += share;
  return out;
}

export interface Choice {
  /** Index of the arm, or -1 for none. An anticipated arm means: wait for it. */
  chosen: number;
  /** `probabilities` of the input: each arm's, then none's. */
  probs: number[];
  /** The probability of the choice. */
  propensity: number;
}

/** Draws the choice from `probabilities` with one uniform draw `u` in [0, 1). */
export function choose(input: DecisionInput, c: PolicyConfig, u: number): Choice {
  const probs = probabilities(input, c);
  let acc = 0;
  let chosen = probs.length - 1;
  for (let i = 0; i < probs.length; i++) {
    acc += probs[i]!;
    if (u < acc) {
      chosen = i;
      break;
    }
  }
  const n = input.arms.length;
  return { chosen: chosen === n ? -1 : chosen, probs, propensity: probs[chosen]! };
}

/** Whether a user is in a holdout of `share` (0..1) under `salt`: a hash, stable over time. */
export function inHoldout(userId: string, share: number, salt: string, hash: (s: string) => number): boolean {
  if (share <= 0) return false;
  return hash(`${salt}|${userId}`) / 4294967296 < share;
}
