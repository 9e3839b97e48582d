/**
 * Alternating least squares on implicit feedback (Hu, Koren, Volinsky 2008), the model Spark MLlib's
 * `ALS.setImplicitPrefs(true)` trains, small enough for the offline evaluation: each user's and product's
 * factors are solved exactly (Cholesky of a rank x rank system) with confidence c = 1 + alpha * strength and
 * the regularisation scaled by the row's count, as MLlib does (ALS-WR). Production trains with Spark
 * (infra/spark); this one lets `npm run offline -- recs` run on anyone's CSV with no JVM, in seconds.
 */
import { seededRandom } from '../ranking/trainer';
import type { Strengths } from './candidates';

export interface AlsOptions {
  /** Latent factors. Default 16. */
  rank: number;
  /** Alternations (users then products). Default 10. */
  iterations: number;
  /** L2 regularisation, scaled by each row's count. Default 0.1. */
  regParam: number;
  /** Confidence slope: c = 1 + alpha * strength. Default 10. */
  alpha: number;
  /** Seed of the initial factors. Default 42. */
  seed: number;
}

export const DEFAULT_ALS: AlsOptions = { rank: 16, iterations: 10, regParam: 0.1, alpha: 10, seed: 42 };

export interface AlsModel {
  rank: number;
  /** users x rank, row-major. */
  userFactors: Float64Array;
  /** items x rank, row-major. */
  itemFactors: Float64Array;
}

/** Solves A x = b in place for symmetric positive definite A (f x f, row-major); x lands in b. */
function choleskySolve(a: Float64Array, b: Float64Array, f: number): void {
  for (let j = 0; j < f; j++) {
    let d = a[j * f + j]!;
    for (let k = 0; k < j; k++) d -= a[j * f + k]! * a[j * f + k]!;
    const l = Math.sqrt(Math.max(d, 1e-12));
    a[j * f + j] = l;
    for (let i = j + 1; i < f; i++) {
      let s = a[i * f + j]!;
      for (let k = 0; k < j; k++) s -= a[i * f + k]! * a[j * f + k]!;
      a[i * f + j] = s / l;
    }
  }
  for (let i = 0; i < f; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= a[i * f + k]! * b[k]!;
    b[i] = s / a[i * f + i]!;
  }
  for (let i = f - 1; i >= 0; i--) {
    let s = b[i]!;
    for (let k = i + 1; k < f; k++) s -= a[k * f + i]! * b[k]!;
    b[i] = s / a[i * f + i]!;
  }
}

/** One half-step: solves every row of `out` against the fixed factors `fixed`. */
function solveSide(
  rows: ReadonlyArray<ReadonlyArray<readonly [number, number]>>,
  fixed: Float64Array,
  out: Float64Array,
  o: AlsOptions,
): void {
  const f = o.rank;
  const n = fixed.length / f;
  // YtY once per half-step.
  const yty = new Float64Array(f * f);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < f; a++) {
      const ya = fixed[i * f + a]!;
      if (ya === 0) continue;
      for (let b = a; b < f; b++) yty[a * f + b]! += ya * fixed[i * f + b]!;
    }
  }
  for (let a = 0; a < f; a++) for (let b = 0; b < a; b++) yty[a * f + b] = yty[b * f + a]!;
  const m = new Float64Array(f * f);
  const rhs = new Float64Array(f);
  rows.forEach((row, r) => {
    if (row.length === 0) {
      out.fill(0, r * f, r * f + f);
      return;
    }
    m.set(yty);
    rhs.fill(0);
    for (const [i, s] of row) {
      const c = 1 + o.alpha * s;
      for (let a = 0; a < f; a++) {
        const ya = fixed[i * f + a]!;
        rhs[a]! += c * ya;
        const w = (c - 1) * ya;
        for (let b = 0; b < f; b++) m[a * f + b]! += w * fixed[i * f + b]!;
      }
    }
    const reg = o.regParam * row.length;
    for (let a = 0; a < f; a++) m[a * f + a]! += reg;
    choleskySolve(m, rhs, f);
    out.set(rhs, r * f);
  });
}

/** Trains the factors of `users` x `items` from the users' strengths. */
export function trainAls(strengths: Strengths, items: number, o: AlsOptions = DEFAULT_ALS): AlsModel {
  const f = o.rank;
  const byUser = strengths.map((u) => [...u]);
  const byItem: Array<Array<[number, number]>> = Array.from({ length: items }, () => []);
  byUser.forEach((row, u) => {
    for (const [i, s] of row) byItem[i]!.push([u, s]);
  });
  const random = seededRandom(o.seed);
  const userFactors = new Float64Array(byUser.length * f);
  const itemFactors = new Float64Array(items * f);
  for (let i = 0; i < itemFactors.length; i++) itemFactors[i] = (random() - 0.5) * 0.1;
  for (let it = 0; it < o.iterations; it++) {
    solveSide(byUser, itemFactors, userFactors, o);
    solveSide(byItem, userFactors, itemFactors, o);
  }
  return { rank: f, userFactors, itemFactors };
}

/** The predicted preference of `user` for every product. */
export function alsScores(model: AlsModel, user: number): Float64Array {
  const f = model.rank;
  const n = model.itemFactors.length / f;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let a = 0; a < f; a++) s += model.userFactors[user * f + a]! * model.itemFactors[i * f + a]!;
    out[i] = s;
  }
  return out;
}
