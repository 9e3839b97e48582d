/**
 * Trains the score model (mlp.ts) on labelled pushes: mini-batch Adam, class weighting of the positives,
 * early stopping on a later time slice, a bias-only recalibration of each head on that slice (undoing the
 * class weighting's shift of the base rate), and a report on the slice after it, which neither training
 * nor early stopping saw. Reproducible from `seed`: the same examples and options give the same weights.
 */
import { FEATURE_COUNT, FEATURE_SCHEMA_HASH, featureIndex } from './features';
import { references, type FeatureReference } from './drift';
import { headReport, type HeadReport } from './metrics';
import {
  Adam,
  cloneMlp,
  initMlp,
  layout,
  logit,
  lossAndGrad,
  predict,
  sigmoid,
  standardization,
  type Mlp,
} from './mlp';

const DAY_MS = 86_400_000;
const { log, max, min, sqrt } = Math;

/** Labelled examples, row-major, in any order. */
export interface Examples {
  /** n rows of `d` features. */
  x: Float32Array;
  n: number;
  d: number;
  opened: Uint8Array;
  clicked: Uint8Array;
  /** When each push was sent (epoch ms): the time split reads it. */
  at: Float64Array;
}

export interface TrainOptions {
  /** Shared-bottom widths. Default [32, 16]. */
  hidden?: number[];
  /** Default 0.003. */
  learningRate?: number;
  /** Default 256. */
  batchSize?: number;
  /** Upper bound on epochs. Default 40. */
  maxEpochs?: number;
  /** Epochs without a better validation loss before stopping. Default 4. */
  patience?: number;
  /** L2 on weights. Default 1e-5. */
  l2?: number;
  /** Click task weight against the open task. Default 1. */
  clickWeight?: number;
  /**
   * Weight of a positive example: 'sqrt' (sqrt(negatives / positives) of each head, the default), 'none',
   * or a number for both heads.
   */
  classWeight?: 'sqrt' | 'none' | number;
  /** Days at the end held out for the report (test). Default 1. */
  testDays?: number;
  /** Days before them for early stopping and recalibration (validation). Default 1. */
  validDays?: number;
  /** Default 7. */
  seed?: number;
  /** Called after each epoch. */
  onEpoch?: (e: { epoch: number; maxEpochs: number; trainLoss: number; validLoss: number }) => void;
}

export interface SliceReport {
  examples: number;
  open: HeadReport;
  click: HeadReport;
}

export interface TrainReport {
  schemaHash: string;
  /** First and last send instant of the training slice, and of all data. */
  window: { trainFrom: string; trainTo: string; validFrom: string; testFrom: string; to: string };
  counts: { train: number; valid: number; test: number; trainOpened: number; trainClicked: number };
  test: SliceReport;
  valid: SliceReport;
  /** The heuristic score (0.5 affinity + 0.3 near + 0.2 discount) as a ranker on the test slice. */
  heuristic: { open: { auc: number }; click: { auc: number } };
  classWeight: { open: number; click: number };
  calibration: { openBiasShift: number; clickBiasShift: number; bins: number };
  epochs: number;
  bestEpoch: number;
  trainMs: number;
  seed: number;
}

export interface TrainResult {
  model: Mlp;
  report: TrainReport;
  /** Each feature's distribution over the training rows, for drift monitoring. */
  reference: FeatureReference[];
}

/** mulberry32: small, seeded, good enough for shuffling and initialization. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The heuristic score of each row, from its features (the same numbers the heuristic scorer reads). */
export function heuristicScores(ex: Pick<Examples, 'x' | 'n' | 'd'>): Float64Array {
  const a = featureIndex('affinity');
  const near = featureIndex('near');
  const disc = featureIndex('discount');
  const out = new Float64Array(ex.n);
  for (let i = 0; i < ex.n; i++) {
    const r = i * ex.d;
    out[i] =
      0.5 * (ex.x[r + a] as number) + 0.3 * (ex.x[r + near] as number) + 0.2 * (ex.x[r + disc] as number);
  }
  return out;
}

/** Rows of `ex` at `idx`, as a new set. */
export function subset(ex: Examples, idx: ArrayLike<number>): Examples {
  const n = idx.length;
  const x = new Float32Array(n * ex.d);
  const opened = new Uint8Array(n);
  const clicked = new Uint8Array(n);
  const at = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const i = idx[k] as number;
    x.set(ex.x.subarray(i * ex.d, (i + 1) * ex.d), k * ex.d);
    opened[k] = ex.opened[i] as number;
    clicked[k] = ex.clicked[i] as number;
    at[k] = ex.at[i] as number;
  }
  return { x, n, d: ex.d, opened, clicked, at };
}

/** Splits by UTC day of `at`: the last `testDays` days, the `validDays` before them, and the rest. */
/**
 * Splits by UTC day of `at`: the last `testDays` days, the `validDays` before them, and the rest. A log too
 * short for that (a slice would be empty) is split by time rank instead: the last 20% of the pushes, the
 * 20% before them, and the first 60%.
 */
export function splitByTime(
  ex: Examples,
  validDays: number,
  testDays: number,
): { train: Examples; valid: Examples; test: Examples; validFrom: number; testFrom: number } {
  const byDay = splitByDay(ex, validDays, testDays);
  if (byDay.train.n > 0 && byDay.valid.n > 0 && byDay.test.n > 0) return byDay;
  const order = Array.from({ length: ex.n }, (_, i) => i).sort(
    (a, b) => (ex.at[a] as number) - (ex.at[b] as number),
  );
  const a = Math.floor(ex.n * 0.6);
  const b = Math.floor(ex.n * 0.8);
  return {
    train: subset(ex, order.slice(0, a)),
    valid: subset(ex, order.slice(a, b)),
    test: subset(ex, order.slice(b)),
    validFrom: ex.at[order[a] as number] ?? NaN,
    testFrom: ex.at[order[b] as number] ?? NaN,
  };
}

function splitByDay(
  ex: Examples,
  validDays: number,
  testDays: number,
): { train: Examples; valid: Examples; test: Examples; validFrom: number; testFrom: number } {
  let last = -Infinity;
  for (let i = 0; i < ex.n; i++) last = max(last, ex.at[i] as number);
  const lastDay = Math.floor(last / DAY_MS) * DAY_MS;
  const testFrom = lastDay - (testDays - 1) * DAY_MS;
  const validFrom = testFrom - validDays * DAY_MS;
  const tr: number[] = [];
  const va: number[] = [];
  const te: number[] = [];
  for (let i = 0; i < ex.n; i++) {
    const t = ex.at[i] as number;
    (t >= testFrom ? te : t >= validFrom ? va : tr).push(i);
  }
  return { train: subset(ex, tr), valid: subset(ex, va), test: subset(ex, te), validFrom, testFrom };
}

function positiveWeight(labels: Uint8Array, mode: TrainOptions['classWeight']): number {
  if (typeof mode === 'number') return mode;
  if (mode === 'none') return 1;
  let pos = 0;
  for (const y of labels) pos += y;
  const neg = labels.length - pos;
  return pos > 0 ? max(1, sqrt(neg / pos)) : 1;
}

/** Unweighted validation loss: the open log loss plus the click log loss, what early stopping watches. */
function evalLoss(m: Mlp, ex: Examples): number {
  const out = predict(m, ex.x, ex.n);
  let s = 0;
  for (let i = 0; i < ex.n; i++) {
    const po = min(1 - 1e-7, max(1e-7, out.pOpen[i] as number));
    const pc = min(1 - 1e-7, max(1e-7, out.pClick[i] as number));
    s += ex.opened[i] ? -log(po) : -log(1 - po);
    s += ex.clicked[i] ? -log(pc) : -log(1 - pc);
  }
  return ex.n ? s / ex.n : NaN;
}

/** Minimizes a unimodal f on [lo, hi] by golden-section search. */
function goldenMin(f: (v: number) => number, lo: number, hi: number, iters = 60): number {
  const g = (sqrt(5) - 1) / 2;
  let a = lo;
  let b = hi;
  let c = b - g * (b - a);
  let d = a + g * (b - a);
  let fc = f(c);
  let fd = f(d);
  for (let k = 0; k < iters; k++) {
    if (fc < fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - g * (b - a);
      fc = f(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + g * (b - a);
      fd = f(d);
    }
  }
  return (a + b) / 2;
}

/**
 * Shifts each head's bias to minimize its log loss on `ex` (the open head first, then the click head with
 * the open head fixed). Positive weights scale the odds the model learns; this puts the base rate back.
 */
function recalibrate(m: Mlp, ex: Examples): { open: number; click: number } {
  if (ex.n === 0) return { open: 0, click: 0 };
  const L = layout(m.shape);
  const out = predict(m, ex.x, ex.n);
  const lo = Float64Array.from(out.pOpen, (p) => logit(p));
  const lc = Float64Array.from(out.pClickGivenOpen, (p) => logit(p));
  const openLoss = (delta: number) => {
    let s = 0;
    for (let i = 0; i < ex.n; i++) {
      const p = min(1 - 1e-7, max(1e-7, sigmoid((lo[i] as number) + delta)));
      s += ex.opened[i] ? -log(p) : -log(1 - p);
    }
    return s;
  };
  const dOpen = goldenMin(openLoss, -8, 8);
  const clickLoss = (delta: number) => {
    let s = 0;
    for (let i = 0; i < ex.n; i++) {
      const q = min(
        1 - 1e-7,
        max(1e-7, sigmoid((lo[i] as number) + dOpen) * sigmoid((lc[i] as number) + delta)),
      );
      s += ex.clicked[i] ? -log(q) : -log(1 - q);
    }
    return s;
  };
  const dClick = goldenMin(clickLoss, -8, 8);
  m.params[L.open.b] = (m.params[L.open.b] as number) + dOpen;
  m.params[L.click.b] = (m.params[L.click.b] as number) + dClick;
  return { open: dOpen, click: dClick };
}

function sliceReport(m: Mlp, ex: Examples): SliceReport {
  const out = predict(m, ex.x, ex.n);
  return {
    examples: ex.n,
    open: headReport(out.pOpen, ex.opened),
    click: headReport(out.pClick, ex.clicked),
  };
}

export function train(all: Examples, opts: TrainOptions = {}): TrainResult {
  if (all.d !== FEATURE_COUNT) {
    throw new RangeError(`train: examples have ${all.d} features, the schema has ${FEATURE_COUNT}`);
  }
  const started = performance.now();
  const seed = opts.seed ?? 7;
  const rand = seededRandom(seed);
  const {
    train: tr,
    valid,
    test,
    validFrom,
    testFrom,
  } = splitByTime(all, opts.validDays ?? 1, opts.testDays ?? 1);
  if (tr.n === 0 || valid.n === 0 || test.n === 0) {
    throw new RangeError(
      `train: need examples in the training, validation and test slices (got ${tr.n}, ${valid.n}, ${test.n}); log more days`,
    );
  }
  let opened = 0;
  let clicked = 0;
  for (let i = 0; i < tr.n; i++) {
    opened += tr.opened[i] as number;
    clicked += tr.clicked[i] as number;
  }
  let cgo = opened > 0 ? clicked / opened : 0.3;
  cgo = min(0.9, max(0.05, cgo));
  const hidden = opts.hidden ?? [32, 16];
  const model = initMlp({ inputs: all.d, hidden }, rand, {
    open: max(0.01, opened / tr.n),
    clickGivenOpen: cgo,
  });
  const std = standardization(tr.x, tr.n, tr.d);
  model.mean = std.mean;
  model.std = std.std;

  const wo = positiveWeight(tr.opened, opts.classWeight ?? 'sqrt');
  const wc = positiveWeight(tr.clicked, opts.classWeight ?? 'sqrt');
  const wOpen = Float64Array.from(tr.opened, (y) => (y ? wo : 1));
  const wClick = Float64Array.from(tr.clicked, (y) => (y ? wc : 1));

  const batchSize = opts.batchSize ?? 256;
  const maxEpochs = opts.maxEpochs ?? 40;
  const patience = opts.patience ?? 4;
  const adam = new Adam(model.params.length, opts.learningRate ?? 0.003);
  const grad = new Float64Array(model.params.length);
  const order = Uint32Array.from({ length: tr.n }, (_, i) => i);
  const bx = new Float32Array(batchSize * tr.d);
  const bo = new Uint8Array(batchSize);
  const bc = new Uint8Array(batchSize);
  const bwo = new Float64Array(batchSize);
  const bwc = new Float64Array(batchSize);

  let best = cloneMlp(model);
  let bestLoss = evalLoss(model, valid);
  let bestEpoch = 0;
  let epoch: number;
  for (epoch = 1; epoch <= maxEpochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      const t = order[i] as number;
      order[i] = order[j] as number;
      order[j] = t;
    }
    let lossSum = 0;
    let batches = 0;
    for (let from = 0; from < tr.n; from += batchSize) {
      const n = min(batchSize, tr.n - from);
      for (let k = 0; k < n; k++) {
        const i = order[from + k] as number;
        bx.set(tr.x.subarray(i * tr.d, (i + 1) * tr.d), k * tr.d);
        bo[k] = tr.opened[i] as number;
        bc[k] = tr.clicked[i] as number;
        bwo[k] = wOpen[i] as number;
        bwc[k] = wClick[i] as number;
      }
      lossSum += lossAndGrad(model, { x: bx, n, opened: bo, clicked: bc, wOpen: bwo, wClick: bwc }, grad, {
        clickWeight: opts.clickWeight ?? 1,
        l2: opts.l2 ?? 1e-5,
      });
      batches++;
      adam.step(model.params, grad);
    }
    // Early stopping compares models on the validation slice with the class weighting's base-rate shift
    // removed, which is how they will be served.
    const probe = cloneMlp(model);
    recalibrate(probe, valid);
    const validLoss = evalLoss(probe, valid);
    opts.onEpoch?.({ epoch, maxEpochs, trainLoss: lossSum / max(1, batches), validLoss });
    if (validLoss < bestLoss - 1e-6) {
      bestLoss = validLoss;
      best = cloneMlp(model);
      bestEpoch = epoch;
    } else if (epoch - bestEpoch >= patience) {
      break;
    }
  }
  const shift = recalibrate(best, valid);
  const h = heuristicScores(test);
  const iso = (ms: number) => new Date(ms).toISOString();
  let first = Infinity;
  let lastAt = -Infinity;
  for (const t of all.at) {
    first = min(first, t);
    lastAt = max(lastAt, t);
  }
  let trainTo = -Infinity;
  for (const t of tr.at) trainTo = max(trainTo, t);
  const report: TrainReport = {
    schemaHash: FEATURE_SCHEMA_HASH,
    window: {
      trainFrom: iso(first),
      trainTo: iso(trainTo),
      validFrom: iso(validFrom),
      testFrom: iso(testFrom),
      to: iso(lastAt),
    },
    counts: { train: tr.n, valid: valid.n, test: test.n, trainOpened: opened, trainClicked: clicked },
    test: sliceReport(best, test),
    valid: sliceReport(best, valid),
    heuristic: {
      open: { auc: headReport(h, test.opened).auc },
      click: { auc: headReport(h, test.clicked).auc },
    },
    classWeight: { open: round(wo), click: round(wc) },
    calibration: { openBiasShift: round(shift.open), clickBiasShift: round(shift.click), bins: 10 },
    epochs: min(epoch, maxEpochs),
    bestEpoch,
    trainMs: Math.round(performance.now() - started),
    seed,
  };
  return { model: best, report, reference: references(tr.x, tr.n, tr.d) };
}

function round(v: number): number {
  return Math.round(v * 1e4) / 1e4;
}
