/**
 * @jest-environment ./test/helpers/onnx-environment.js
 */
import { FEATURE_COUNT, FEATURE_NAMES, FEATURE_SCHEMA_HASH } from '../../services/ranking/features';
import { formatGate, promotionGate } from '../../services/ranking/gate';
import {
  ModelRefusedError,
  createModelServer,
  loadModel,
  runModel,
} from '../../services/ranking/model-server';
import { initMlp } from '../../services/ranking/mlp';
import { exportOnnx, type ModelMetadata } from '../../services/ranking/onnx-export';
import { seededRandom } from '../../services/ranking/trainer';
import type { StoredModel } from '../../services/state';

function meta(over: Partial<ModelMetadata> = {}): ModelMetadata {
  return {
    schemaHash: FEATURE_SCHEMA_HASH,
    schemaVersion: 2,
    features: [...FEATURE_NAMES],
    window: {},
    counts: {},
    auc: { open: 0.7, click: 0.7 },
    logLoss: { open: 0.1, click: 0.05 },
    ece: { open: 0.01, click: 0.01 },
    heuristicAuc: { open: 0.6, click: 0.6 },
    calibration: {},
    hidden: [4],
    seed: 1,
    trainedAt: '2026-03-07T00:00:00.000Z',
    ...over,
  };
}

/** A model whose p_open is the same for every row: `bias`'s sigmoid (all weights zero). */
function constantModel(bias: number, over: Partial<ModelMetadata> = {}): Uint8Array {
  const m = initMlp({ inputs: FEATURE_COUNT, hidden: [4] }, seededRandom(1));
  m.params.fill(0);
  m.params[m.params.length - 1 - 5] = bias; // the open head's bias (open w[4], open b, click w[4], click b)
  return exportOnnx(m, meta(over));
}

function memoryRegistry() {
  const stored = new Map<string, StoredModel>();
  let promoted: string | null = null;
  return {
    add(version: string, onnx: Uint8Array) {
      stored.set(version, { version, onnx: Buffer.from(onnx), meta: '{}', registeredAt: 0 });
    },
    set(v: string | null) {
      promoted = v;
    },
    models: {
      promoted: () => Promise.resolve(promoted),
      get: (v: string) => Promise.resolve(stored.get(v) ?? null),
    },
  };
}

function captureLogger() {
  const lines: Array<{ level: string; msg: string }> = [];
  const at = (level: string) => (_obj: unknown, msg?: string) => lines.push({ level, msg: msg ?? '' });
  return { lines, logger: { info: at('info'), warn: at('warn'), error: at('error') } as never };
}

const row = new Float32Array(FEATURE_COUNT);

describe('the promotion gate', () => {
  const heuristic = { name: 'heuristic', open: { auc: 0.6 } };
  it('refuses a model whose open AUC is below the current model plus the margin, and says why', () => {
    const d = promotionGate(
      { name: 'new', open: { auc: 0.705 } },
      { heuristic, current: { name: 'current', open: { auc: 0.7 } } },
      0.01,
    );
    expect(d.promote).toBe(false);
    expect(d.reasons.join(' ')).toMatch(/open AUC 0.7050 < current 0.7000 \+ margin 0.0100/);
    expect(formatGate(d)).toMatch(/^REFUSE/m);
  });

  it('refuses a model no better than the heuristic, and promotes one better than both', () => {
    expect(promotionGate({ name: 'new', open: { auc: 0.605 } }, { heuristic }, 0.01).promote).toBe(false);
    const ok = promotionGate(
      { name: 'new', open: { auc: 0.72 } },
      { heuristic, current: { name: 'current', open: { auc: 0.7 } } },
      0.01,
    );
    expect(ok.promote).toBe(true);
    expect(formatGate(ok)).toMatch(/^PROMOTE/m);
  });

  it('refuses a model without an open AUC (no opens held out)', () => {
    expect(promotionGate({ name: 'new', open: { auc: NaN } }, { heuristic }, 0).promote).toBe(false);
  });
});

describe('loading a model', () => {
  it('serves a model of this schema', async () => {
    const m = await loadModel('v1', constantModel(0));
    const out = await runModel(m, row, 1);
    expect(out.pOpen[0]).toBeCloseTo(0.5, 6);
    await m.session.release();
  });

  it('refuses a model of another feature schema, naming both hashes', async () => {
    await expect(loadModel('v2', constantModel(0, { schemaHash: 'ffffffffffffffff' }))).rejects.toThrow(
      new RegExp(
        `model v2 refused: feature schema ffffffffffffffff differs from this worker's ${FEATURE_SCHEMA_HASH}`,
      ),
    );
  });

  it('refuses bytes that are not a model', async () => {
    await expect(loadModel('v3', Buffer.from('not a model at all'))).rejects.toBeInstanceOf(
      ModelRefusedError,
    );
  });
});

describe('the model server', () => {
  it('swaps to a newly promoted model without touching a batch in flight', async () => {
    const reg = memoryRegistry();
    reg.add('a', constantModel(-2));
    reg.add('b', constantModel(2));
    const { logger } = captureLogger();
    const server = createModelServer({ models: reg.models, logger });
    expect(server.acquire()).toBeNull(); // nothing promoted: the heuristic
    reg.set('a');
    await server.refresh();
    const inFlight = server.acquire();
    expect(inFlight?.version).toBe('a');
    reg.set('b');
    await server.refresh();
    expect(server.version()).toBe('b');
    // The batch that took 'a' still scores with it after the swap.
    const out = await runModel(inFlight!, row, 1);
    expect(out.pOpen[0]).toBeCloseTo(1 / (1 + Math.exp(2)), 5);
    server.release(inFlight!);
    const next = server.acquire();
    expect((await runModel(next!, row, 1)).pOpen[0]).toBeCloseTo(1 / (1 + Math.exp(-2)), 5);
    server.release(next!);
    await server.stop();
  });

  it('keeps the model in service when the promoted one is broken, with one clear error line', async () => {
    const reg = memoryRegistry();
    reg.add('good', constantModel(0));
    reg.add('broken', Buffer.from('\x08\x07garbage'));
    const { lines, logger } = captureLogger();
    const server = createModelServer({ models: reg.models, logger });
    reg.set('good');
    await server.refresh();
    reg.set('broken');
    await server.refresh();
    await server.refresh(); // not retried until another version is promoted
    expect(server.version()).toBe('good');
    const errors = lines.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]?.msg).toMatch(/model broken refused: .*; model good keeps scoring/);
    await server.stop();
  });

  it('refuses a model of another schema and the heuristic keeps scoring', async () => {
    const reg = memoryRegistry();
    reg.add('other', constantModel(0, { schemaHash: '0000000000000000' }));
    const { lines, logger } = captureLogger();
    const server = createModelServer({ models: reg.models, logger });
    reg.set('other');
    await server.refresh();
    expect(server.acquire()).toBeNull();
    expect(lines.find((l) => l.level === 'error')?.msg).toMatch(
      /model other refused: feature schema 0000000000000000 differs .*; the heuristic keeps scoring/,
    );
    await server.stop();
  });
});
