/**
 * The score model: a shared-bottom multi-task MLP, small enough to train in pure TypeScript on two cores.
 *
 *   z      = (x - mean) / std                      standardized inputs (fixed from the training slice)
 *   h      = relu(W_k ... relu(W_1 z + b_1) ... )  the shared bottom
 *   p_open = sigmoid(w_o . h + b_o)                the open head
 *   p_cgo  = sigmoid(w_c . h + b_c)                the click head: click given open
 *   p_click = p_open * p_cgo                       click, over every push sent
 *
 * The click formulation is ESMM's: the click loss is taken on p_click over every push sent, not on p_cgo
 * over opened pushes only. A click head trained only on opens learns from a sample selected by the open
 * head (selection bias, and 5-10x fewer examples); a click head trained as an independent P(click) can
 * exceed P(open). The product keeps p_click <= p_open by construction and still gives p_cgo for the
 * conciliator.
 *
 * Parameters live in one Float64Array (layers in order, then the two heads), so the optimizer, the gradient
 * check and the ONNX export all walk one layout. Everything here is pure and deterministic.
 */

const { exp, log, max, min, sqrt } = Math;

export interface MlpShape {
  inputs: number;
  /** Widths of the shared bottom's layers. */
  hidden: readonly number[];
}

export interface Mlp {
  shape: MlpShape;
  /** Standardization of the inputs. */
  mean: Float64Array;
  std: Float64Array;
  params: Float64Array;
}

export interface Outputs {
  pOpen: Float64Array;
  pClickGivenOpen: Float64Array;
  pClick: Float64Array;
}

/** Where each block of parameters starts. */
export interface Layout {
  layers: Array<{ w: number; b: number; in: number; out: number }>;
  open: { w: number; b: number };
  click: { w: number; b: number };
  size: number;
}

export function layout(shape: MlpShape): Layout {
  let at = 0;
  let prev = shape.inputs;
  const layers = shape.hidden.map((out) => {
    const l = { w: at, b: at + out * prev, in: prev, out };
    at += out * prev + out;
    prev = out;
    return l;
  });
  const open = { w: at, b: at + prev };
  at += prev + 1;
  const click = { w: at, b: at + prev };
  at += prev + 1;
  return { layers, open, click, size: at };
}

/** He-initialized weights, zero biases; the heads' biases start at the given base rates' logits. */
export function initMlp(
  shape: MlpShape,
  rand: () => number,
  base: { open: number; clickGivenOpen: number } = { open: 0.1, clickGivenOpen: 0.3 },
): Mlp {
  const L = layout(shape);
  const params = new Float64Array(L.size);
  const gauss = () => {
    const u = max(1e-12, rand());
    return sqrt(-2 * log(u)) * Math.cos(2 * Math.PI * rand());
  };
  for (const l of L.layers) {
    const s = sqrt(2 / l.in);
    for (let k = 0; k < l.in * l.out; k++) params[l.w + k] = gauss() * s;
  }
  const last = L.layers.length ? (L.layers[L.layers.length - 1] as { out: number }).out : shape.inputs;
  for (const head of [L.open, L.click]) {
    const s = sqrt(1 / last);
    for (let k = 0; k < last; k++) params[head.w + k] = gauss() * s;
  }
  params[L.open.b] = logit(base.open);
  params[L.click.b] = logit(base.clickGivenOpen);
  return {
    shape,
    mean: new Float64Array(shape.inputs),
    std: new Float64Array(shape.inputs).fill(1),
    params,
  };
}

export function logit(p: number): number {
  const q = min(1 - 1e-6, max(1e-6, p));
  return log(q / (1 - q));
}

export function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z));
}

/** Per-column mean and standard deviation of row-major `x` (n rows of d). Constant columns get std 1. */
export function standardization(
  x: ArrayLike<number>,
  n: number,
  d: number,
): { mean: Float64Array; std: Float64Array } {
  const mean = new Float64Array(d);
  const std = new Float64Array(d);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < d; j++) mean[j] = (mean[j] as number) + (x[i * d + j] as number);
  for (let j = 0; j < d; j++) mean[j] = (mean[j] as number) / max(1, n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < d; j++) {
      const v = (x[i * d + j] as number) - (mean[j] as number);
      std[j] = (std[j] as number) + v * v;
    }
  for (let j = 0; j < d; j++) {
    const s = sqrt((std[j] as number) / max(1, n));
    std[j] = s > 1e-9 ? s : 1;
  }
  return { mean, std };
}

/** Scratch buffers for one example's forward and backward pass. */
interface Scratch {
  acts: Float64Array[];
  deltas: Float64Array[];
}

function scratch(m: Mlp): Scratch {
  const sizes = [m.shape.inputs, ...m.shape.hidden];
  return {
    acts: sizes.map((s) => new Float64Array(s)),
    deltas: sizes.map((s) => new Float64Array(s)),
  };
}

/** Forward pass of row `i` of `x`; returns the heads' logits and leaves the activations in `s`. */
function forwardRow(
  m: Mlp,
  L: Layout,
  x: ArrayLike<number>,
  i: number,
  s: Scratch,
): { lo: number; lc: number } {
  const d = m.shape.inputs;
  const p = m.params;
  const a0 = s.acts[0] as Float64Array;
  for (let j = 0; j < d; j++)
    a0[j] = ((x[i * d + j] as number) - (m.mean[j] as number)) / (m.std[j] as number);
  for (let li = 0; li < L.layers.length; li++) {
    const l = L.layers[li] as Layout['layers'][number];
    const inp = s.acts[li] as Float64Array;
    const out = s.acts[li + 1] as Float64Array;
    for (let o = 0; o < l.out; o++) {
      let z = p[l.b + o] as number;
      const row = l.w + o * l.in;
      for (let k = 0; k < l.in; k++) z += (p[row + k] as number) * (inp[k] as number);
      out[o] = z > 0 ? z : 0;
    }
  }
  const h = s.acts[L.layers.length] as Float64Array;
  let lo = p[L.open.b] as number;
  let lc = p[L.click.b] as number;
  for (let k = 0; k < h.length; k++) {
    lo += (p[L.open.w + k] as number) * (h[k] as number);
    lc += (p[L.click.w + k] as number) * (h[k] as number);
  }
  return { lo, lc };
}

/** Both heads for every row of `x` (n rows of `shape.inputs`). */
export function predict(m: Mlp, x: ArrayLike<number>, n: number): Outputs {
  const L = layout(m.shape);
  const s = scratch(m);
  const out: Outputs = {
    pOpen: new Float64Array(n),
    pClickGivenOpen: new Float64Array(n),
    pClick: new Float64Array(n),
  };
  for (let i = 0; i < n; i++) {
    const { lo, lc } = forwardRow(m, L, x, i, s);
    const po = sigmoid(lo);
    const pc = sigmoid(lc);
    out.pOpen[i] = po;
    out.pClickGivenOpen[i] = pc;
    out.pClick[i] = po * pc;
  }
  return out;
}

/** A training batch: rows of x, labels, and per-example loss weights of each head. */
export interface Batch {
  x: ArrayLike<number>;
  n: number;
  opened: ArrayLike<number>;
  clicked: ArrayLike<number>;
  /** Weight of the open loss of each row (class weighting). Default 1. */
  wOpen?: ArrayLike<number>;
  /** Weight of the click loss of each row. Default 1. */
  wClick?: ArrayLike<number>;
}

export interface LossOptions {
  /** Weight of the click task against the open task. Default 1. */
  clickWeight?: number;
  /** L2 penalty on weights (not biases), added once per batch as l2 / 2 * |W|^2. Default 0. */
  l2?: number;
}

const EPS = 1e-7;

/**
 * Mean weighted loss over the batch (binary cross-entropy of the open head on `opened`, plus `clickWeight`
 * times that of p_click on `clicked`) and its gradient with respect to `m.params`, written into `grad`.
 */
export function lossAndGrad(m: Mlp, batch: Batch, grad: Float64Array, opts: LossOptions = {}): number {
  const L = layout(m.shape);
  const s = scratch(m);
  const p = m.params;
  const cw = opts.clickWeight ?? 1;
  const l2 = opts.l2 ?? 0;
  grad.fill(0);
  let loss = 0;
  let wsum = 0;
  const nl = L.layers.length;
  const h = s.acts[nl] as Float64Array;
  for (let i = 0; i < batch.n; i++) {
    const { lo, lc } = forwardRow(m, L, batch.x, i, s);
    const po = sigmoid(lo);
    const pc = sigmoid(lc);
    const q = min(1 - EPS, max(EPS, po * pc));
    const yo = batch.opened[i] as number;
    const yc = batch.clicked[i] as number;
    const wo = batch.wOpen ? (batch.wOpen[i] as number) : 1;
    const wc = (batch.wClick ? (batch.wClick[i] as number) : 1) * cw;
    const pob = min(1 - EPS, max(EPS, po));
    loss += -wo * (yo * log(pob) + (1 - yo) * log(1 - pob));
    loss += -wc * (yc * log(q) + (1 - yc) * log(1 - q));
    wsum += 1;
    // d loss / d logit: the open loss gives (po - yo); the click loss through q = po * pc gives
    // (q - yc) (1 - po) / (1 - q) on the open logit and (q - yc) (1 - pc) / (1 - q) on the click logit.
    const gq = (q - yc) / (1 - q);
    const glo = wo * (po - yo) + wc * gq * (1 - po);
    const glc = wc * gq * (1 - pc);
    const top = s.deltas[nl] as Float64Array;
    for (let k = 0; k < h.length; k++) {
      grad[L.open.w + k] = (grad[L.open.w + k] as number) + glo * (h[k] as number);
      grad[L.click.w + k] = (grad[L.click.w + k] as number) + glc * (h[k] as number);
      top[k] =
        (h[k] as number) > 0 ? glo * (p[L.open.w + k] as number) + glc * (p[L.click.w + k] as number) : 0;
    }
    grad[L.open.b] = (grad[L.open.b] as number) + glo;
    grad[L.click.b] = (grad[L.click.b] as number) + glc;
    for (let li = nl - 1; li >= 0; li--) {
      const l = L.layers[li] as Layout['layers'][number];
      const inp = s.acts[li] as Float64Array;
      const dOut = s.deltas[li + 1] as Float64Array;
      const dIn = s.deltas[li] as Float64Array;
      if (li > 0) dIn.fill(0);
      for (let o = 0; o < l.out; o++) {
        const g = dOut[o] as number;
        if (g === 0) continue;
        grad[l.b + o] = (grad[l.b + o] as number) + g;
        const row = l.w + o * l.in;
        for (let k = 0; k < l.in; k++) {
          grad[row + k] = (grad[row + k] as number) + g * (inp[k] as number);
          if (li > 0) dIn[k] = (dIn[k] as number) + g * (p[row + k] as number);
        }
      }
      // The relu of the layer below: no gradient where it was off.
      if (li > 0) for (let k = 0; k < l.in; k++) if ((inp[k] as number) <= 0) dIn[k] = 0;
    }
  }
  const n = max(1, wsum);
  for (let k = 0; k < grad.length; k++) grad[k] = (grad[k] as number) / n;
  loss /= n;
  if (l2 > 0) {
    const addL2 = (from: number, count: number) => {
      for (let k = from; k < from + count; k++) {
        loss += (l2 / 2) * (p[k] as number) ** 2;
        grad[k] = (grad[k] as number) + l2 * (p[k] as number);
      }
    };
    for (const l of L.layers) addL2(l.w, l.in * l.out);
    addL2(L.open.w, h.length);
    addL2(L.click.w, h.length);
  }
  return loss;
}

/** Adam over a flat parameter vector. */
export class Adam {
  private readonly m1: Float64Array;
  private readonly m2: Float64Array;
  private t = 0;
  constructor(
    size: number,
    private readonly lr: number,
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly eps = 1e-8,
  ) {
    this.m1 = new Float64Array(size);
    this.m2 = new Float64Array(size);
  }
  step(params: Float64Array, grad: Float64Array): void {
    this.t++;
    const c1 = 1 - this.beta1 ** this.t;
    const c2 = 1 - this.beta2 ** this.t;
    for (let k = 0; k < params.length; k++) {
      const g = grad[k] as number;
      const a = (this.m1[k] = this.beta1 * (this.m1[k] as number) + (1 - this.beta1) * g);
      const b = (this.m2[k] = this.beta2 * (this.m2[k] as number) + (1 - this.beta2) * g * g);
      params[k] = (params[k] as number) - (this.lr * (a / c1)) / (sqrt(b / c2) + this.eps);
    }
  }
}

export function cloneMlp(m: Mlp): Mlp {
  return {
    shape: { inputs: m.shape.inputs, hidden: [...m.shape.hidden] },
    mean: Float64Array.from(m.mean),
    std: Float64Array.from(m.std),
    params: Float64Array.from(m.params),
  };
}
