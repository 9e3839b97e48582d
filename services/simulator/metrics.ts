/**
 * The evaluation's measures of a policy, from its pushes and their sampled responses. Expected rates use
 * the ground-truth probabilities (less noisy than the draws); the ratios are taken on them.
 */
import type { PushRecord } from './sim-run';

export interface Measures {
  pushes: number;
  usersReached: number;
  /** Pushes per user of the world. */
  pushesPerUser: number;
  /** Users reached / users of the world. */
  reach: number;
  opens: number;
  openRate: number;
  expectedOpenRate: number;
  clicks: number;
  expectedClicks: number;
  /** Clicks / opens. */
  clickToOpen: number;
  /** Mean over days of distinct sales pushed / sales valid at some moment of that day. */
  coverage: number;
  /** Share of pushes sent within an hour of the user's most active hour of that day (ground truth). */
  nearBestHour: number;
  /** The expected open rate had each push gone at the user's most active hour of its day. */
  expectedOpenRateAtBestHour: number;
  /**
   * Means over the pushes of the response model's factors of the open probability, and of the user's own
   * responsiveness (the open probability over the product of the factors): where the rate comes from.
   * Absent when the pushes carry no factors.
   */
  factors?: {
    user: number;
    category: number;
    discount: number;
    distance: number;
    hour: number;
    fatigue: number;
  };
}

function meanFactors(pushes: readonly PushRecord[]): Measures['factors'] {
  const withF = pushes.filter((p) => p.factors);
  if (withF.length === 0) return undefined;
  const sum = { user: 0, category: 0, discount: 0, distance: 0, hour: 0, fatigue: 0 };
  let users = 0;
  for (const p of withF) {
    const f = p.factors!;
    sum.category += f.category;
    sum.discount += f.discount;
    sum.distance += f.distance;
    sum.hour += f.hour;
    sum.fatigue += f.fatigue;
    const product = f.category * f.discount * f.distance * f.hour * f.fatigue;
    // Unreachable pushes (pOpen 0) and capped ones say nothing about the user's responsiveness.
    if (product > 0 && p.pOpen > 0) {
      sum.user += p.pOpen / product;
      users++;
    }
  }
  const n = withF.length;
  return {
    user: users ? sum.user / users : 0,
    category: sum.category / n,
    discount: sum.discount / n,
    distance: sum.distance / n,
    hour: sum.hour / n,
    fatigue: sum.fatigue / n,
  };
}

export function measure(
  pushes: readonly PushRecord[],
  users: number,
  salesPerDay: readonly number[],
): Measures {
  const opens = pushes.filter((p) => p.opened).length;
  const clicks = pushes.filter((p) => p.clicked).length;
  const sumPOpen = pushes.reduce((a, p) => a + p.pOpen, 0);
  const coverageByDay = salesPerDay.map((available, day) => {
    const sent = new Set(pushes.filter((p) => p.kind === 'sale' && p.day === day).map((p) => p.candidateId));
    return available > 0 ? sent.size / available : 0;
  });
  const reached = new Set(pushes.map((p) => p.userId)).size;
  const factors = meanFactors(pushes);
  return {
    pushes: pushes.length,
    usersReached: reached,
    pushesPerUser: users > 0 ? pushes.length / users : 0,
    reach: users > 0 ? reached / users : 0,
    opens,
    openRate: pushes.length ? opens / pushes.length : 0,
    expectedOpenRate: pushes.length ? sumPOpen / pushes.length : 0,
    clicks,
    expectedClicks: pushes.reduce((a, p) => a + p.pOpen * p.pClick, 0),
    clickToOpen: opens ? clicks / opens : 0,
    coverage: coverageByDay.length ? coverageByDay.reduce((a, b) => a + b, 0) / coverageByDay.length : 0,
    nearBestHour: pushes.length ? pushes.filter((p) => p.nearBestHour).length / pushes.length : 0,
    expectedOpenRateAtBestHour: pushes.length
      ? pushes.reduce((a, p) => a + p.pOpenBestHour, 0) / pushes.length
      : 0,
    ...(factors ? { factors } : {}),
  };
}

export interface PolicyResult {
  policy: string;
  description: string;
  overall: Measures;
  byStrategy: Record<string, Measures>;
  realSeconds: number;
  eventsPublished: number;
}

export function policyResult(
  policy: string,
  description: string,
  pushes: readonly PushRecord[],
  users: number,
  salesPerDay: readonly number[],
  run: { realSeconds: number; eventsPublished: number },
): PolicyResult {
  const strategies = [...new Set(pushes.map((p) => p.strategy))].sort();
  return {
    policy,
    description,
    overall: measure(pushes, users, salesPerDay),
    byStrategy: Object.fromEntries(
      strategies.map((s) => [
        s,
        measure(
          pushes.filter((p) => p.strategy === s),
          users,
          salesPerDay,
        ),
      ]),
    ),
    ...run,
  };
}

/** Open rate against the baseline, and the share of the oracle's gain over the baseline a policy captures. */
export function relative(r: Measures, baseline: Measures, oracle: Measures | undefined) {
  const base = baseline.expectedOpenRate;
  return {
    openRateVsBaseline: base > 0 ? r.expectedOpenRate / base : NaN,
    oracleGainCaptured:
      oracle && oracle.expectedOpenRate !== base
        ? (r.expectedOpenRate - base) / (oracle.expectedOpenRate - base)
        : NaN,
  };
}
