/**
 * Writes a trained score model as an ONNX ModelProto (IR 8, opset 13) built by hand from Gemm, Relu,
 * Sigmoid and Mul, and reads its metadata back. The input standardization is folded into the first Gemm,
 * so the graph takes raw feature vectors.
 *
 *   input   features            float [batch, FEATURE_COUNT]   columns in FEATURE_NAMES order
 *   output  p_open              float [batch, 1]
 *           p_click_given_open  float [batch, 1]
 *           p_click             float [batch, 1]               p_open * p_click_given_open
 *
 * Metadata (string key/values): every key of ModelMetadata below, numbers and objects as JSON.
 */
import { onnx } from 'onnx-proto';
import type { FeatureReference } from './drift';
import { FEATURE_NAMES, FEATURE_SCHEMA } from './features';
import { layout, type Mlp } from './mlp';

export const INPUT_NAME = 'features';
export const OUTPUT_NAMES = ['p_open', 'p_click_given_open', 'p_click'] as const;

/** What a model carries about itself; the registry and the score worker read it before serving. */
export interface ModelMetadata {
  /** Hash of the feature schema it was trained on (features.ts). */
  schemaHash: string;
  schemaVersion: number;
  /** The input columns, in order. */
  features: string[];
  /** Training window (ISO instants) and slice counts. */
  window: Record<string, string>;
  counts: Record<string, number>;
  /** Held-out (test slice) AUC, log loss, ECE of each head, and the heuristic's AUC. */
  auc: { open: number; click: number };
  logLoss: { open: number; click: number };
  ece: { open: number; click: number };
  heuristicAuc: { open: number; click: number };
  /** Recalibration applied to the heads' biases. */
  calibration: Record<string, number>;
  hidden: number[];
  seed: number;
  trainedAt: string;
  /** Each feature's training distribution (decile bins), for drift monitoring. */
  drift?: FeatureReference[];
}

function tensor(name: string, dims: number[], values: ArrayLike<number>): onnx.ITensorProto {
  return onnx.TensorProto.create({
    name,
    dims,
    dataType: onnx.TensorProto.DataType.FLOAT,
    floatData: Array.from(values, (v) => Math.fround(v)),
  });
}

function valueInfo(name: string, cols: number): onnx.IValueInfoProto {
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: onnx.TensorShapeProto.create({
          dim: [
            onnx.TensorShapeProto.Dimension.create({ dimParam: 'batch' }),
            onnx.TensorShapeProto.Dimension.create({ dimValue: cols }),
          ],
        }),
      }),
    }),
  });
}

function node(op: string, inputs: string[], outputs: string[], transB = false): onnx.INodeProto {
  return onnx.NodeProto.create({
    opType: op,
    input: inputs,
    output: outputs,
    name: outputs[0] ?? op,
    attribute: transB
      ? [onnx.AttributeProto.create({ name: 'transB', type: onnx.AttributeProto.AttributeType.INT, i: 1 })]
      : [],
  });
}

/** The model as ONNX bytes. */
export function exportOnnx(m: Mlp, meta: ModelMetadata): Uint8Array {
  if (m.shape.hidden.length === 0) throw new RangeError('exportOnnx: the model needs a hidden layer');
  const L = layout(m.shape);
  const p = m.params;
  const nodes: onnx.INodeProto[] = [];
  const inits: onnx.ITensorProto[] = [];
  let prev = INPUT_NAME;
  L.layers.forEach((l, li) => {
    const w = new Float64Array(l.out * l.in);
    const b = new Float64Array(l.out);
    for (let o = 0; o < l.out; o++) {
      let bias = p[l.b + o] as number;
      for (let k = 0; k < l.in; k++) {
        let v = p[l.w + o * l.in + k] as number;
        if (li === 0) {
          // W ((x - mean) / std) + b = (W / std) x + (b - W (mean / std))
          v /= m.std[k] as number;
          bias -= v * (m.mean[k] as number);
        }
        w[o * l.in + k] = v;
      }
      b[o] = bias;
    }
    inits.push(tensor(`W${li + 1}`, [l.out, l.in], w), tensor(`B${li + 1}`, [l.out], b));
    nodes.push(node('Gemm', [prev, `W${li + 1}`, `B${li + 1}`], [`gemm${li + 1}`], true));
    nodes.push(node('Relu', [`gemm${li + 1}`], [`h${li + 1}`]));
    prev = `h${li + 1}`;
  });
  const width = (L.layers[L.layers.length - 1] as { out: number }).out;
  for (const [head, at] of [
    ['open', L.open],
    ['cgo', L.click],
  ] as const) {
    inits.push(
      tensor(`W_${head}`, [1, width], p.subarray(at.w, at.w + width)),
      tensor(`B_${head}`, [1], [p[at.b] as number]),
    );
    nodes.push(node('Gemm', [prev, `W_${head}`, `B_${head}`], [`logit_${head}`], true));
  }
  nodes.push(node('Sigmoid', ['logit_open'], ['p_open']));
  nodes.push(node('Sigmoid', ['logit_cgo'], ['p_click_given_open']));
  nodes.push(node('Mul', ['p_open', 'p_click_given_open'], ['p_click']));
  const graph = onnx.GraphProto.create({
    name: 'herald_score',
    node: nodes,
    initializer: inits,
    input: [valueInfo(INPUT_NAME, m.shape.inputs)],
    output: OUTPUT_NAMES.map((n) => valueInfo(n, 1)),
    docString: `inputs: ${FEATURE_NAMES.join(',')}`,
  });
  const props = Object.entries(meta).map(([key, value]) =>
    onnx.StringStringEntryProto.create({
      key,
      value: typeof value === 'string' ? value : JSON.stringify(value),
    }),
  );
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: 13 })],
    producerName: 'herald',
    producerVersion: String(FEATURE_SCHEMA.version),
    graph,
    metadataProps: props,
  });
  return onnx.ModelProto.encode(model).finish();
}

/** The metadata of ONNX bytes written by exportOnnx (throws when they are not a ModelProto). */
export function readMetadata(bytes: Uint8Array): Record<string, string> {
  const model = onnx.ModelProto.decode(bytes);
  const out: Record<string, string> = {};
  for (const e of model.metadataProps) if (e.key) out[e.key] = e.value ?? '';
  return out;
}

/** Parses the JSON-valued metadata entries back (strings stay strings). */
export function parseMetadata(raw: Record<string, string>): Partial<ModelMetadata> & Record<string, unknown> {
  const out: Partial<ModelMetadata> & Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    try {
      out[k] = JSON.parse(v);
    } catch {
      out[k] = v;
    }
  }
  return out;
}
