/**
 * Offline metrics of a probabilistic classifier: ROC AUC (ties count half), log loss and expected
 * calibration error. Pure.
 */

const { abs, log, max, min } = Math;

/** Area under the ROC curve: the chance a random positive scores above a random negative (ties half). */
export function auc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort(
    (a, b) => (scores[a] as number) - (scores[b] as number),
  );
  let pos = 0;
  let rankSum = 0;
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && scores[idx[j + 1] as number] === scores[idx[i] as number]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if ((labels[idx[k] as number] as number) > 0) {
        pos++;
        rankSum += rank;
      }
    }
    i = j + 1;
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) return NaN;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

export function logLoss(p: ArrayLike<number>, labels: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < p.length; i++) {
    const q = min(1 - 1e-7, max(1e-7, p[i] as number));
    s += (labels[i] as number) > 0 ? -log(q) : -log(1 - q);
  }
  return p.length ? s / p.length : NaN;
}

/**
 * Expected calibration error over `bins` equal-width bins of the predicted probability: the mean, weighted
 * by the bin's share of examples, of |mean prediction - observed rate|.
 */
export function ece(p: ArrayLike<number>, labels: ArrayLike<number>, bins = 10): number {
  const count = new Float64Array(bins);
  const sumP = new Float64Array(bins);
  const sumY = new Float64Array(bins);
  for (let i = 0; i < p.length; i++) {
    const q = p[i] as number;
    const b = min(bins - 1, max(0, Math.floor(q * bins)));
    count[b] = (count[b] as number) + 1;
    sumP[b] = (sumP[b] as number) + q;
    sumY[b] = (sumY[b] as number) + ((labels[i] as number) > 0 ? 1 : 0);
  }
  let e = 0;
  for (let b = 0; b < bins; b++) {
    const c = count[b] as number;
    if (c > 0) e += (c / p.length) * abs((sumP[b] as number) / c - (sumY[b] as number) / c);
  }
  return p.length ? e : NaN;
}

export interface HeadReport {
  auc: number;
  logLoss: number;
  ece: number;
  /** Share of positives. */
  rate: number;
  /** Mean prediction. */
  meanPrediction: number;
}

export function headReport(p: ArrayLike<number>, labels: ArrayLike<number>): HeadReport {
  let pos = 0;
  let sp = 0;
  for (let i = 0; i < p.length; i++) {
    pos += (labels[i] as number) > 0 ? 1 : 0;
    sp += p[i] as number;
  }
  return {
    auc: round4(auc(p, labels)),
    logLoss: round4(logLoss(p, labels)),
    ece: round4(ece(p, labels)),
    rate: round4(p.length ? pos / p.length : NaN),
    meanPrediction: round4(p.length ? sp / p.length : NaN),
  };
}

export function round4(v: number): number {
  return Number.isFinite(v) ? Math.round(v * 1e4) / 1e4 : v;
}
