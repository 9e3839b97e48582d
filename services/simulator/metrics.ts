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
