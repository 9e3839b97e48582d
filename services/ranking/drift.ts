/**
 * Drift: the population stability index (PSI) of each feature between the rows a model was trained on and
 * the rows it serves. The trainer writes each feature's reference (decile edges of the training rows and the
 * share of rows in each bin) into the model's metadata; a score worker counts the rows it serves into the
 * same bins per day of Herald's clock, and reports each feature's PSI:
 *
 *   PSI = sum over bins of (actual - expected) x ln(actual / expected)      (shares floored at 1e-4)
 *
 * Rules of thumb: below 0.1 stable, 0.1-0.2 moving, above 0.2 drifted (a warning).
 */

const { log, max } = Math;
const FLOOR = 1e-4;

export interface FeatureReference {
  /** Upper bin edges (a value v falls in the first bin whose edge is >= v; the last bin is open). */
  edges: number[];
  /** Share of training rows in each bin; edges.length + 1 entries. */
  expected: number[];
}

/** Bins of value `v` given upper edges. */
export function binOf(edges: readonly number[], v: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (v <= (edges[mid] as number)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Each feature's reference from n rows of d features (deciles; repeated edges merged). */
export function references(x: ArrayLike<number>, n: number, d: number, bins = 10): FeatureReference[] {
  const out: FeatureReference[] = [];
  const col = new Float64Array(n);
  for (let j = 0; j < d; j++) {
    for (let i = 0; i < n; i++) col[i] = x[i * d + j] as number;
    col.sort();
    const edges: number[] = [];
    for (let b = 1; b < bins; b++) {
      const e = round6(col[Math.min(n - 1, Math.floor((b * n) / bins))] ?? 0);
      if (edges.length === 0 || e > (edges[edges.length - 1] as number)) edges.push(e);
    }
    const counts = new Float64Array(edges.length + 1);
    for (let i = 0; i < n; i++) {
      const k = binOf(edges, col[i] as number);
      counts[k] = (counts[k] as number) + 1;
    }
    out.push({ edges, expected: Array.from(counts, (c) => round6(c / max(1, n))) });
  }
  return out;
}

export function psi(expected: readonly number[], actual: readonly number[]): number {
  let s = 0;
  for (let k = 0; k < expected.length; k++) {
    const e = max(FLOOR, expected[k] as number);
    const a = max(FLOOR, actual[k] ?? 0);
    s += (a - e) * log(a / e);
  }
  return s;
}

/** Counts served rows into a model's reference bins, per day; reports each feature's PSI. */
export class DriftMonitor {
  private counts: Float64Array[];
  private rows = 0;
  constructor(
    readonly names: readonly string[],
    private readonly refs: readonly FeatureReference[],
    /** The day (any label: a UTC date of Herald's clock) the counts are of. */
    public day: string,
  ) {
    this.counts = refs.map((r) => new Float64Array(r.edges.length + 1));
  }

  /** Adds n rows of the feature matrix x. Rows of another day than the current start a new count. */
  observe(x: ArrayLike<number>, n: number, day: string): void {
    if (day !== this.day) this.reset(day);
    const d = this.refs.length;
    // Column by column, binning a run of equal values once: a batch's rows are users x candidates, so most
    // columns (those of the user) repeat down a user's rows. The counts are those of binning every value.
    for (let j = 0; j < d; j++) {
      const c = this.counts[j] as Float64Array;
      const edges = (this.refs[j] as FeatureReference).edges;
      let i = 0;
      while (i < n) {
        const v = x[i * d + j] as number;
        let run = 1;
        while (i + run < n && x[(i + run) * d + j] === v) run++;
        const k = binOf(edges, v);
        c[k] = (c[k] as number) + run;
        i += run;
      }
    }
    this.rows += n;
  }

  reset(day: string): void {
    this.day = day;
    this.rows = 0;
    for (const c of this.counts) c.fill(0);
  }

  /** Each feature's PSI over the rows counted so far this day (empty before any row). */
  report(): { day: string; rows: number; psi: Record<string, number> } {
    const out: Record<string, number> = {};
    if (this.rows > 0) {
      this.refs.forEach((r, j) => {
        const c = this.counts[j] as Float64Array;
        out[this.names[j] ?? `f${j}`] = round6(
          psi(
            r.expected,
            Array.from(c, (v) => v / this.rows),
          ),
        );
      });
    }
    return { day: this.day, rows: this.rows, psi: out };
  }
}

function round6(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}
