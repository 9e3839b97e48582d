/**
 * The score worker serving the promoted model, on real Redis and BullMQ: score jobs flow while two models
 * are promoted one after the other; every job is scored exactly once, by one scorer from start to end (the
 * heuristic, then the first model, then the second), with no restart. A broken model and a model of
 * another feature schema are refused with a clear log line while the model in service keeps scoring.
 */
import { Redis } from 'ioredis';
import type { Job } from 'bullmq';
import { stateKeys } from '../../shared/keys';
import { createQueues, jobOptions, type Queues } from '../../shared/queue-factory';
import type { Group } from '../../shared/schemas/jobs.schema';
import { FEATURE_COUNT, FEATURE_NAMES, FEATURE_SCHEMA_HASH } from '../../services/ranking/features';
import { initMlp } from '../../services/ranking/mlp';
import { exportOnnx, type ModelMetadata } from '../../services/ranking/onnx-export';
import { seededRandom } from '../../services/ranking/trainer';
import { createModelsStore, type ModelsStore } from '../../services/state/models.store';
import { createState } from '../../services/state';
import { createTestEnv, type TestEnv } from '../helpers/env';
import { profile } from '../helpers/fixtures';
import { sleep, waitFor } from '../helpers/wait';
import { Workers } from '../helpers/workers';

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** A model whose outputs are the same for every row: p_open = sigmoid(open), p_cgo = sigmoid(cgo). */
function constantModel(open: number, cgo: number, schemaHash = FEATURE_SCHEMA_HASH): Uint8Array {
  const m = initMlp({ inputs: FEATURE_COUNT, hidden: [4] }, seededRandom(1));
  m.params.fill(0);
  m.params[m.params.length - 6] = open;
  m.params[m.params.length - 1] = cgo;
  const meta: ModelMetadata = {
    schemaHash,
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
    // Training rows split evenly around 0.5 on every feature, and discounts all above 50%: served rows
    // (discounts of 10% and 30%) drift on `discount`.
    drift: FEATURE_NAMES.map((f) => ({ edges: [0.5], expected: f === 'discount' ? [0, 1] : [0.5, 0.5] })),
  };
  return exportOnnx(m, meta);
}

/** The score the worker gives under a constant model (SCORE_OPEN_WEIGHT 1, SCORE_CLICK_WEIGHT 2). */
const expected = (open: number, cgo: number) => {
  const po = Math.fround(sigmoid(open));
  const pc = Math.fround(po * Math.fround(sigmoid(cgo)));
  return Math.round((po + 2 * pc) * 1e6) / 1e6;
};

const USERS = Array.from({ length: 30 }, (_, i) => `u${String(i).padStart(2, '0')}`);

function group(k: number): Group {
  return {
    strategy: 'daily-sale',
    targetId: `t${k}`,
    at: Date.now(),
    userIds: USERS,
    candidates: [
      { id: `s${k}a`, kind: 'sale', category: 'wine', title: 'A', discount: 30, affinity: 0 },
      { id: `s${k}b`, kind: 'sale', category: 'books', title: 'B', discount: 10, affinity: 0 },
    ],
  };
}

describe('serving the promoted model', () => {
  let env: TestEnv;
  let workers: Workers;
  let redis: Redis;
  let queues: Queues;
  let models: ModelsStore;

  beforeAll(async () => {
    env = await createTestEnv({
      MODEL_POLL_MS: '100',
      SCORE_OPEN_WEIGHT: '1',
      SCORE_CLICK_WEIGHT: '2',
      MODEL_DRIFT_REPORT_MS: '200',
    });
    redis = new Redis(env.config.REDIS_URL, { maxRetriesPerRequest: null });
    queues = createQueues(redis, env.config.HERALD_PREFIX);
    models = createModelsStore(redis, stateKeys(env.config.HERALD_PREFIX));
    const state = createState(redis, env.config.HERALD_PREFIX);
    await state.users.fold({
      profiles: USERS.map((u) => profile(u) as never),
      purchases: USERS.map((u, i) => ({
        v: 1,
        eventId: `p-${u}`,
        userId: u,
        category: i % 2 ? 'wine' : 'books',
        amount: 10,
        currency: 'EUR',
        at: new Date(Date.now() - 3_600_000).toISOString(),
      })) as never,
    });
    workers = new Workers(env.vars).start(['score']);
  });
  afterAll(async () => {
    await workers?.stop();
    for (const q of Object.values(queues ?? {})) await q.close();
    await redis?.quit();
    await env?.cleanup();
  });

  const scoresOf = (job: Job) => {
    const picks = (job.data as { picks: Array<{ scores: number[] }> }).picks;
    return new Set(picks.flatMap((p) => p.scores));
  };

  it('swaps models while batches flow: each batch scored once, by one scorer, none lost', async () => {
    const A = { open: -2, cgo: -1 };
    const B = { open: 1, cgo: 0.5 };
    await models.register('A', constantModel(A.open, A.cgo), '{}', Date.now());
    await models.register('B', constantModel(B.open, B.cgo), '{}', Date.now());
    const N = 90;
    for (let k = 0; k < N; k++) {
      if (k === 30) await models.promote('A');
      if (k === 60) {
        // Under load the worker may take a while to poll: make sure A has served before B replaces it.
        await waitFor(
          async () =>
            (await queues.conciliate.getJobs(['waiting', 'prioritized'], 0, -1)).some((j) =>
              scoresOf(j).has(expected(A.open, A.cgo)),
            ) || null,
          'model A in service',
          20_000,
        );
        await models.promote('B');
      }
      await queues.score.add('score', { groups: [group(k)] }, jobOptions('score', `score-${k}`));
      await sleep(15);
    }
    // A score job completes after it has added its conciliate job.
    await waitFor(
      async () => ((await queues.score.getJobCounts('completed')).completed ?? 0) >= N || null,
      'every batch scored',
      60_000,
    );
    const counts = await queues.score.getJobCounts('completed', 'failed');
    expect(counts).toEqual({ completed: N, failed: 0 });
    const jobs = await queues.conciliate.getJobs(['waiting', 'prioritized'], 0, -1);
    expect(jobs).toHaveLength(N);
    const a = expected(A.open, A.cgo);
    const b = expected(B.open, B.cgo);
    const byScorer = { heuristic: 0, A: 0, B: 0 };
    for (const job of jobs) {
      const s = scoresOf(job);
      if (s.has(a)) {
        expect([...s]).toEqual([a]);
        byScorer.A++;
      } else if (s.has(b)) {
        expect([...s]).toEqual([b]);
        byScorer.B++;
      } else byScorer.heuristic++;
    }
    expect(byScorer.heuristic).toBeGreaterThan(0);
    expect(byScorer.A).toBeGreaterThan(0);
    expect(byScorer.B).toBeGreaterThan(0);
    expect(byScorer.heuristic + byScorer.A + byScorer.B).toBe(N);
    // Jobs added after B was promoted and picked up are scored by B.
    await queues.score.add('score', { groups: [group(1000)] }, jobOptions('score', 'score-after'));
    await waitFor(
      async () => ((await queues.conciliate.getJobCounts('waiting')).waiting ?? 0) >= N + 1 || null,
      'last batch',
    );
  });

  it('publishes the served features’ drift from training as a metric, and warns on the drifted ones', async () => {
    const keys = stateKeys(env.config.HERALD_PREFIX);
    const drift = await waitFor(
      async () => {
        const h = await redis.hgetall(keys.modelDrift);
        return h.version === 'B' && Number(h.rows) >= 1000 ? h : null;
      },
      'a drift report of model B',
      10_000,
    );
    expect(Number(drift['psi:discount'])).toBeGreaterThan(0.2);
    await waitFor(
      () =>
        /model B: served features drifted from training \(PSI > 0.2\): .*discount/.test(workers.logs()) ||
        null,
      'the drift warning',
      10_000,
    );
  });

  it('refuses a broken model and one of another schema; the model in service keeps scoring', async () => {
    await models.register('broken', Buffer.from('this is not onnx'), '{}', Date.now());
    await models.promote('broken');
    await waitFor(() => /model broken refused/.test(workers.logs()) || null, 'the refusal log line', 10_000);
    expect(workers.logs()).toMatch(/model broken refused: .*; model B keeps scoring/);
    await models.register('other', constantModel(0, 0, 'abcdefabcdefabcd'), '{}', Date.now());
    await models.promote('other');
    await waitFor(() => /model other refused/.test(workers.logs()) || null, 'the schema refusal', 10_000);
    expect(workers.logs()).toMatch(/model other refused: feature schema abcdefabcdefabcd differs/);
    const before = (await queues.conciliate.getJobCounts('waiting')).waiting ?? 0;
    await queues.score.add('score', { groups: [group(2000)] }, jobOptions('score', 'score-refused'));
    await waitFor(
      async () => ((await queues.conciliate.getJobCounts('waiting')).waiting ?? 0) > before || null,
      'scored',
    );
    const jobs = await queues.conciliate.getJobs(['waiting'], 0, -1);
    const last = jobs.find(
      (j) => (j.data as { picks: Array<{ targetId: string }> }).picks[0]?.targetId === 't2000',
    );
    expect(last && [...scoresOf(last)]).toEqual([expected(1, 0.5)]);
  });
});
