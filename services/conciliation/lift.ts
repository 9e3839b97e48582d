/**
 * Holdout lift: what pushing did for the users it reached, measured against the control users the
 * conciliation held out (sent nothing). Pure; takes per-group sums of a per-user figure (opens, clicks or
 * conversions per user over the period) and returns the difference of means with a 95% interval.
 *
 * The interval is Welch's: the two groups' variances are estimated apart, se² = s_t² / n_t + s_h² / n_h, and
 * with the hundreds of users a holdout has the normal quantile stands in for Student's t. The relative lift
 * (treated / holdout − 1) is given when the holdout mean is above 0, its interval by the delta method. A group
 * of fewer than two users has no variance to estimate: no interval, and a note that says so; zero variance
 * in both groups gives a zero-width interval, never NaN.
 */

/** Two-sided 95% quantile of the standard normal. */
const Z95 = 1.959963984540054;

/** A group's per-user figure, summed: users, Σ x, Σ x². */
export interface GroupSums {
  n: number;
  sum: number;
  sumSq: number;
}

export const emptySums = (): GroupSums => ({ n: 0, sum: 0, sumSq: 0 });

/** Adds one user's figure to a group's sums. */
export function addUser(g: GroupSums, x: number): void {
  g.n += 1;
  g.sum += x;
  g.sumSq += x * x;
}

export interface GroupSummary {
  n: number;
  /** Null with no users. */
  mean: number | null;
  /** Sample variance (n − 1); null with fewer than two users. */
  variance: number | null;
}

export function summarize(g: GroupSums): GroupSummary {
  if (g.n <= 0) return { n: 0, mean: null, variance: null };
  const mean = g.sum / g.n;
  // Σ x² − n mean² can come out a hair below 0 in floating point.
  const variance = g.n < 2 ? null : Math.max(0, (g.sumSq - g.n * mean * mean) / (g.n - 1));
  return { n: g.n, mean, variance };
}

export interface Lift {
  treated: GroupSummary;
  holdout: GroupSummary;
  /** treated mean − holdout mean; null when a group has no users. */
  diff: number | null;
  /** Its 95% interval; null when a group has fewer than two users. */
  lo: number | null;
  hi: number | null;
  /** treated mean / holdout mean − 1, when the holdout mean is above 0. */
  relative: number | null;
  relLo: number | null;
  relHi: number | null;
  /** Why something is missing, for the reader: `not enough users`, `holdout mean is 0`. */
  note: string | null;
}

export function lift(treated: GroupSums, holdout: GroupSums): Lift {
  const t = summarize(treated);
  const h = summarize(holdout);
  const out: Lift = {
    treated: t,
    holdout: h,
    diff: null,
    lo: null,
    hi: null,
    relative: null,
    relLo: null,
    relHi: null,
    note: null,
  };
  if (t.mean === null || h.mean === null) return { ...out, note: 'not enough users' };
  out.diff = t.mean - h.mean;
  if (h.mean > 0) out.relative = t.mean / h.mean - 1;
  if (t.variance === null || h.variance === null) return { ...out, note: 'not enough users' };
  const vt = t.variance / t.n;
  const vh = h.variance / h.n;
  const se = Math.sqrt(vt + vh);
  out.lo = out.diff - Z95 * se;
  out.hi = out.diff + Z95 * se;
  if (h.mean > 0) {
    // d(t/h)/dt = 1/h, d(t/h)/dh = −t/h².
    const relSe = Math.sqrt(vt / (h.mean * h.mean) + (vh * t.mean * t.mean) / h.mean ** 4);
    out.relLo = out.relative! - Z95 * relSe;
    out.relHi = out.relative! + Z95 * relSe;
  } else {
    out.note = 'holdout mean is 0: no relative lift';
  }
  return out;
}

/** The per-user figures a holdout comparison reports. */
export const LIFT_METRICS = ['opens', 'clicks', 'conversions'] as const;
export type LiftMetric = (typeof LIFT_METRICS)[number];

/** Lift of every metric, from each group's sums per metric. */
export function liftTable(
  treated: Record<LiftMetric, GroupSums>,
  holdout: Record<LiftMetric, GroupSums>,
): Record<LiftMetric, Lift> {
  return {
    opens: lift(treated.opens, holdout.opens),
    clicks: lift(treated.clicks, holdout.clicks),
    conversions: lift(treated.conversions, holdout.conversions),
  };
}
