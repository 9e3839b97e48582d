/**
 * @jest-environment ./test/helpers/onnx-environment.js
 */
import { InferenceSession, Tensor } from 'onnxruntime-node';
import {
  FEATURE_COUNT,
  FEATURE_NAMES,
  FEATURE_SCHEMA_HASH,
  featureVector,
  schemaHash,
} from '../../services/ranking/features';
import { auc, ece, logLoss } from '../../services/ranking/metrics';
import { initMlp, layout, lossAndGrad, predict, type Mlp } from '../../services/ranking/mlp';
import {
  INPUT_NAME,
  OUTPUT_NAMES,
  exportOnnx,
  parseMetadata,
  readMetadata,
} from '../../services/ranking/onnx-export';
import { seededRandom, train, type Examples } from '../../services/ranking/trainer';
import { metadataOf } from '../../services/ranking/train';

/** A small synthetic log whose opens depend on two features, spread over 5 days. */
function synthetic(n: number, seed: number): Examples {
  const r = seededRandom(seed);
  const x = new Float32Array(n * FEATURE_COUNT);
  const opened = new Uint8Array(n);
  const clicked = new Uint8Array(n);
  const at = new Float64Array(n);
  const t0 = Date.parse('2026-03-02T00:00:00Z');
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < FEATURE_COUNT; j++) x[i * FEATURE_COUNT + j] = r();
    const a = x[i * FEATURE_COUNT] as number;
    const b = x[i * FEATURE_COUNT + 7] as number;
    const p = 1 / (1 + Math.exp(-(4 * a + 2 * b - 4)));
    opened[i] = r() < p ? 1 : 0;
    clicked[i] = opened[i] && r() < 0.2 + 0.6 * a ? 1 : 0;
    at[i] = t0 + Math.floor((i / n) * 5 * 86_400_000);
  }
  return { x, n, d: FEATURE_COUNT, opened, clicked, at };
}

function randomModel(seed: number, hidden = [5, 4]): Mlp {
  const r = seededRandom(seed);
  const m = initMlp({ inputs: 6, hidden }, r);
  for (let j = 0; j < 6; j++) {
    m.mean[j] = r() - 0.5;
    m.std[j] = 0.5 + r();
  }
  for (let k = 0; k < m.params.length; k++) m.params[k] = (m.params[k] as number) + (r() - 0.5) * 0.5;
  return m;
}

describe('the score model', () => {
  it('computes the gradient of its loss (both heads, class weights, L2) as finite differences do', () => {
    const m = randomModel(3);
    const r = seededRandom(11);
    const n = 9;
    const x = Float64Array.from({ length: n * 6 }, () => r() * 2 - 1);
    const opened = Uint8Array.from({ length: n }, () => (r() < 0.4 ? 1 : 0));
    const clicked = Uint8Array.from(opened, (o) => (o && r() < 0.5 ? 1 : 0));
    const batch = {
      x,
      n,
      opened,
      clicked,
      wOpen: Float64Array.from(opened, (o) => (o ? 2.5 : 1)),
      wClick: Float64Array.from(clicked, (c) => (c ? 3 : 1)),
    };
    const opts = { clickWeight: 0.7, l2: 0.01 };
    const grad = new Float64Array(m.params.length);
    lossAndGrad(m, batch, grad, opts);
    const scratch = new Float64Array(m.params.length);
    const h = 1e-6;
    let worst = 0;
    for (let k = 0; k < m.params.length; k++) {
      const keep = m.params[k] as number;
      m.params[k] = keep + h;
      const up = lossAndGrad(m, batch, scratch, opts);
      m.params[k] = keep - h;
      const down = lossAndGrad(m, batch, scratch, opts);
      m.params[k] = keep;
      const numeric = (up - down) / (2 * h);
      const rel =
        Math.abs(numeric - (grad[k] as number)) /
        Math.max(1e-4, Math.abs(numeric) + Math.abs(grad[k] as number));
      worst = Math.max(worst, rel);
    }
    expect(worst).toBeLessThan(1e-5);
    expect(m.params.length).toBe(layout(m.shape).size);
  });

  it('keeps p_click at most p_open (click = open x click-given-open)', () => {
    const m = randomModel(5);
    const x = Float64Array.from({ length: 50 * 6 }, (_, i) => Math.sin(i));
    const out = predict(m, x, 50);
    for (let i = 0; i < 50; i++) {
      expect(out.pClick[i]).toBeCloseTo((out.pOpen[i] as number) * (out.pClickGivenOpen[i] as number), 12);
      expect(out.pClick[i] as number).toBeLessThanOrEqual(out.pOpen[i] as number);
    }
  });

  it('exports to ONNX whose outputs equal the forward pass within 1e-5', async () => {
    const ex = synthetic(3000, 1);
    const trained = train(ex, { seed: 1, maxEpochs: 3 });
    const model = trained.model;
    const bytes = exportOnnx(model, metadataOf(trained, '2026-03-07T00:00:00.000Z'));
    const session = await InferenceSession.create(bytes);
    expect(session.inputNames).toEqual([INPUT_NAME]);
    expect([...session.outputNames].sort()).toEqual([...OUTPUT_NAMES].sort());
    const n = 257;
    const x = ex.x.slice(0, n * FEATURE_COUNT);
    const res = await session.run({ [INPUT_NAME]: new Tensor('float32', x, [n, FEATURE_COUNT]) });
    const mine = predict(model, x, n);
    let worst = 0;
    for (let i = 0; i < n; i++) {
      worst = Math.max(
        worst,
        Math.abs((res.p_open?.data[i] as number) - (mine.pOpen[i] as number)),
        Math.abs((res.p_click?.data[i] as number) - (mine.pClick[i] as number)),
        Math.abs((res.p_click_given_open?.data[i] as number) - (mine.pClickGivenOpen[i] as number)),
      );
    }
    expect(worst).toBeLessThan(1e-5);
    await session.release();
  });

  it('writes the schema hash, window, counts, AUCs and calibration into the model', () => {
    const ex = synthetic(3000, 2);
    const result = train(ex, { seed: 2, maxEpochs: 2 });
    const meta = parseMetadata(
      readMetadata(exportOnnx(result.model, metadataOf(result, '2026-03-07T00:00:00Z'))),
    );
    expect(meta.schemaHash).toBe(FEATURE_SCHEMA_HASH);
    expect(meta.features).toEqual([...FEATURE_NAMES]);
    expect(meta.counts).toEqual(result.report.counts);
    expect(meta.counts?.train).toBeGreaterThan(0);
    expect(meta.window?.testFrom).toBe('2026-03-06T00:00:00.000Z');
    expect(meta.auc?.open).toBe(result.report.test.open.auc);
    expect(meta.auc?.open).toBeGreaterThan(0.6);
    expect(meta.ece?.open).toBe(result.report.test.open.ece);
    expect(typeof meta.calibration?.openBiasShift).toBe('number');
    expect(meta.heuristicAuc?.open).toBe(result.report.heuristic.open.auc);
  });

  it('trains the same weights from the same seed, and others from another', () => {
    const ex = synthetic(2000, 4);
    const a = train(ex, { seed: 9, maxEpochs: 2 });
    const b = train(ex, { seed: 9, maxEpochs: 2 });
    const c = train(ex, { seed: 10, maxEpochs: 2 });
    expect(Array.from(a.model.params)).toEqual(Array.from(b.model.params));
    expect(Array.from(a.model.params)).not.toEqual(Array.from(c.model.params));
  });

  it('refuses examples of another feature layout, naming both sizes', () => {
    const ex = synthetic(100, 5);
    expect(() => train({ ...ex, d: FEATURE_COUNT - 1 })).toThrow(/has \d+|features/);
  });
});

describe('the feature schema', () => {
  it('has a hash that changes with the names or the version', () => {
    expect(FEATURE_SCHEMA_HASH).toMatch(/^[0-9a-f]{16}$/);
    expect(schemaHash({ version: 1, names: ['a', 'b'] })).not.toBe(
      schemaHash({ version: 1, names: ['b', 'a'] }),
    );
    expect(schemaHash({ version: 1, names: ['a'] })).not.toBe(schemaHash({ version: 2, names: ['a'] }));
  });

  it('computes distance, hour and engagement features from what Herald knows', () => {
    const v = featureVector({
      candidate: { kind: 'store', category: 'wine', discount: 20, location: { lat: 40.4168, lon: -3.7038 } },
      user: {
        timeZone: 'Europe/Madrid',
        location: { lat: 40.4168, lon: -3.7038 },
        lastCategory: 'wine',
        categories: { wine: 3, books: 1 },
      },
      affinity: 0.6,
      engagement: { delivered: 5, opened: 2, clicked: 1 },
      at: Date.parse('2026-03-07T11:00:00Z'), // Saturday, 12:00 in Madrid
      hourCounts: Array.from({ length: 24 }, (_, h) => (h === 12 ? 10 : 0)),
    });
    const f = (name: (typeof FEATURE_NAMES)[number]) => v[FEATURE_NAMES.indexOf(name)] as number;
    expect(f('category_share')).toBeCloseTo(0.75, 6);
    expect(f('top_category')).toBe(1);
    expect(f('near')).toBeCloseTo(1, 6);
    expect(f('is_store')).toBe(1);
    expect(f('weekend')).toBe(1);
    expect(f('hour_cos')).toBeCloseTo(-1, 5);
    expect(f('open_rate')).toBeCloseTo(3 / 10, 6);
    expect(f('hour_activity')).toBeGreaterThan(3);
    expect(f('purchase_recency')).toBe(1);
  });
});

describe('metrics', () => {
  it('AUC counts ties half; log loss and ECE of a perfect and a constant predictor', () => {
    expect(auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBeCloseTo(0.75, 9);
    expect(auc([0.5, 0.5], [0, 1])).toBe(0.5);
    expect(logLoss([1, 0], [1, 0])).toBeLessThan(1e-6);
    expect(ece([0.5, 0.5, 0.5, 0.5], [1, 0, 1, 0])).toBeCloseTo(0, 9);
    expect(ece([0.9, 0.9], [0, 0])).toBeCloseTo(0.9, 9);
  });
});
