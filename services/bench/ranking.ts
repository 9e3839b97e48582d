/**
 * `npm run bench:ranking`: the learned score model's figures, each beside a reference from the same run.
 *
 *   score   rows/s through the score stage's model path (feature rows built from user state, one ONNX run,
 *           the best candidate per user, the heuristic's path for comparison), against raw session.run
 *           on the very same feature matrix. State reads are served from memory, so this is the CPU path;
 *           the Redis reads are the same pipeline reads the heuristic's path makes, plus two per user.
 *   train   training time and peak RSS for N examples (default 1,000,000) drawn from a known logistic
 *           truth over the feature schema, with the trainer's defaults.
 *
 * Flags: --part score|train|all (all), --examples N (1000000), --users N per job (500), --candidates K (10),
 * --epochs N (trainer default 40), --json.
 */
import { parseArgs } from 'node:util';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import type { Group } from '../../shared/schemas/jobs.schema';
import { createScoreStage, featureRows } from '../pipeline/score';
import { FEATURE_COUNT, FEATURE_NAMES, FEATURE_SCHEMA_HASH } from '../ranking/features';
import { rankScore } from '../ranking/heuristic';
import { type LoadedModel } from '../ranking/model-server';
import { exportOnnx } from '../ranking/onnx-export';
import { seededRandom, train, type Examples } from '../ranking/trainer';
import { metadataOf } from '../ranking/train';
import type { StrategyPlugin } from '../strategies';
import type { UserState } from '../state';

const CATS = ['wine', 'books', 'electronics', 'fashion', 'groceries', 'sports', 'toys', 'beauty'];

function syntheticExamples(n: number, seed: number): Examples {
  const r = seededRandom(seed);
  const d = FEATURE_COUNT;
  const x = new Float32Array(n * d);
  const opened = new Uint8Array(n);
  const clicked = new Uint8Array(n);
  const at = new Float64Array(n);
  const w = Array.from({ length: d }, () => (r() - 0.5) * 2);
  const t0 = Date.parse('2026-03-02T00:00:00Z');
  for (let i = 0; i < n; i++) {
    let z = -4;
    for (let j = 0; j < d; j++) {
      const v = r();
      x[i * d + j] = v;
      z += (w[j] as number) * v;
    }
    const p = 1 / (1 + Math.exp(-z));
    opened[i] = r() < p ? 1 : 0;
    clicked[i] = opened[i] && r() < 0.3 ? 1 : 0;
    at[i] = t0 + Math.floor((i / n) * 7 * 86_400_000);
  }
  return { x, n, d, opened, clicked, at };
}

function rssMb(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

async function benchScore(usersPerJob: number, candidates: number, rounds: number) {
  const ex = syntheticExamples(60_000, 3);
  const trained = train(ex, { seed: 3, maxEpochs: 2 });
  const bytes = exportOnnx(trained.model, metadataOf(trained, new Date(0).toISOString()));
  const session = await InferenceSession.create(bytes);
  const loaded: LoadedModel = { version: 'bench', meta: { schemaHash: FEATURE_SCHEMA_HASH }, session };
  const r = seededRandom(5);
  const users = new Map<string, UserState>();
  const ids: string[] = [];
  for (let i = 0; i < usersPerJob; i++) {
    const id = `u${i}`;
    ids.push(id);
    const categories: Record<string, number> = {};
    for (const c of CATS) if (r() < 0.4) categories[c] = 1 + Math.floor(r() * 5);
    users.set(id, {
      userId: id,
      timeZone: i % 3 ? 'Europe/Madrid' : 'America/New_York',
      locale: 'es-ES',
      optIn: true,
      devices: [],
      location: { lat: 40.4 + r() * 0.1, lon: -3.7 + r() * 0.1 },
      lastCategory: CATS[i % CATS.length],
      lastPurchaseAt: Date.parse('2026-03-01T00:00:00Z'),
      categories,
    });
  }
  const group: Group = {
    strategy: 'bench',
    targetId: 'bench',
    at: Date.parse('2026-03-07T09:00:00Z'),
    userIds: ids,
    candidates: Array.from({ length: candidates }, (_, k) => ({
      id: `c${k}`,
      kind: 'sale' as const,
      category: CATS[k % CATS.length] as string,
      title: `sale ${k}`,
      discount: 10 + k * 5,
      affinity: 0,
    })),
  };
  const plugin = {
    name: 'bench',
    usesCategories: true,
    features: (c, u) => {
      const all = Object.values(u.categories ?? {}).reduce((a, b) => a + b, 0);
      return { affinity: all ? (u.categories?.[c.category] ?? 0) / all : 0 };
    },
  } as Pick<StrategyPlugin, 'name' | 'features' | 'usesCategories'> as StrategyPlugin;
  const strategies = new Map([['bench', plugin]]);
  const hourCounts = Array.from({ length: 24 }, (_, h) => (h >= 8 && h <= 22 ? 1 : 0));
  const engagement = new Map(ids.map((id) => [id, { delivered: 5, opened: 1, clicked: 0 }]));
  const memory = {
    users: { getUsers: () => Promise.resolve(users) },
    telemetry: { engagementOf: () => Promise.resolve(engagement) },
    timing: {
      read: () =>
        Promise.resolve({
          user: new Map(ids.map((id) => [id, { values: hourCounts, at: [] }])),
          zone: new Map(),
          all: { values: hourCounts, at: [] },
        }),
    },
  };
  const withModel = createScoreStage({
    users: memory.users,
    strategies,
    scorer: rankScore,
    model: {
      server: { acquire: () => loaded, release: () => undefined },
      telemetry: memory.telemetry,
      timing: memory.timing,
      weights: { open: 1, click: 2 },
      logger: { warn: () => undefined } as never,
    },
  });
  const heuristic = createScoreStage({ users: memory.users, strategies, scorer: rankScore });
  const rows = usersPerJob * candidates;
  const { x } = featureRows([group], users, () => plugin, engagement, new Map());
  const raw = async () => {
    await session.run({ features: new Tensor('float32', x, [rows, FEATURE_COUNT]) });
  };
  const path = async () => {
    await withModel({ groups: [group] }, {} as never);
  };
  const hoursMap = new Map(ids.map((id) => [id, hourCounts]));
  const build = () => {
    featureRows([group], users, () => plugin, engagement, hoursMap);
    return Promise.resolve();
  };
  const heur = async () => {
    await heuristic({ groups: [group] }, {} as never);
  };
  const time = async (f: () => Promise<void>) => {
    for (let k = 0; k < 5; k++) await f();
    const t0 = performance.now();
    for (let k = 0; k < rounds; k++) await f();
    return (rows * rounds) / ((performance.now() - t0) / 1000);
  };
  // Interleave the three so drift in the machine's load hits all of them alike.
  const acc = { raw: 0, path: 0, heuristic: 0, build: 0 };
  for (let rep = 0; rep < 3; rep++) {
    acc.raw += await time(raw);
    acc.path += await time(path);
    acc.heuristic += await time(heur);
    acc.build += await time(build);
  }
  await session.release();
  return {
    rowsPerJob: rows,
    rawRowsPerS: Math.round(acc.raw / 3),
    pathRowsPerS: Math.round(acc.path / 3),
    heuristicRowsPerS: Math.round(acc.heuristic / 3),
    featureRowsPerS: Math.round(acc.build / 3),
    ratio: Math.round((acc.path / acc.raw) * 1000) / 1000,
  };
}

function benchTrain(n: number, maxEpochs: number | undefined) {
  const rss0 = rssMb();
  const t0 = performance.now();
  const ex = syntheticExamples(n, 11);
  const genS = (performance.now() - t0) / 1000;
  const rssData = rssMb();
  let epochS = 0;
  let last = performance.now();
  const res = train(ex, {
    seed: 11,
    ...(maxEpochs ? { maxEpochs } : {}),
    onEpoch: (e) => {
      const now = performance.now();
      epochS = (now - last) / 1000;
      last = now;
      process.stderr.write(
        `\rtrain: epoch ${e.epoch} valid loss ${e.validLoss.toFixed(4)} (${epochS.toFixed(1)} s)`,
      );
    },
  });
  process.stderr.write('\n');
  return {
    examples: n,
    generateS: Math.round(genS * 10) / 10,
    trainS: Math.round(res.report.trainMs / 100) / 10,
    epochs: res.report.epochs,
    bestEpoch: res.report.bestEpoch,
    lastEpochS: Math.round(epochS * 10) / 10,
    testAucOpen: res.report.test.open.auc,
    peakRssMb: rssMb(),
    rssBeforeMb: rss0,
    rssWithDataMb: rssData,
    dataMb: Math.round((ex.x.byteLength + ex.at.byteLength + 2 * n) / 1e6),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      part: { type: 'string', default: 'all' },
      examples: { type: 'string', default: '1000000' },
      users: { type: 'string', default: '500' },
      candidates: { type: 'string', default: '10' },
      epochs: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const out: Record<string, unknown> = { features: FEATURE_NAMES.length };
  if (values.part === 'score' || values.part === 'all') {
    const s = await benchScore(Number(values.users), Number(values.candidates), 20);
    out.score = s;
    process.stderr.write(
      `score: ${s.rowsPerJob} rows a job; score-stage model path ${s.pathRowsPerS} rows/s, raw session.run ${s.rawRowsPerS} rows/s (ratio ${s.ratio}); heuristic path ${s.heuristicRowsPerS} rows/s; feature rows alone ${s.featureRowsPerS} rows/s\n`,
    );
  }
  if (values.part === 'train' || values.part === 'all') {
    const t = benchTrain(Number(values.examples), values.epochs ? Number(values.epochs) : undefined);
    out.train = t;
    process.stderr.write(
      `train: ${t.examples} examples in ${t.trainS} s (${t.epochs} epochs, best ${t.bestEpoch}, last epoch ${t.lastEpochS} s); peak RSS ${t.peakRssMb} MB (data ${t.dataMb} MB)\n`,
    );
  }
  if (values.json) process.stdout.write(`${JSON.stringify(out)}\n`);
}

if (require.main === module) {
  main().catch((e: unknown) => {
    process.stderr.write(
      `bench:ranking failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
    );
    process.exitCode = 1;
  });
}
