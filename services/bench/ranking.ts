/**
 * `npm run bench:ranking`: the learned score model's figures, each beside a reference from the same run.
 *
 *   score   rows/s through the score stage's model path (feature rows built from user state, drift counted,
 *           one ONNX run, the best candidate per user; the heuristic's path for comparison), against raw
 *           session.run on the very same feature matrix, batch size and outputs. One daily-sale campaign
 *           group (the real strategy, personal policy), users in five zones. State reads are served from
 *           memory, so this is the CPU path; the Redis reads are the same pipeline reads the heuristic's
 *           path makes, plus two per user. Figures are medians of interleaved rounds; the ratio is the
 *           median of each round's path / raw, and the path's pieces are timed alone, µs a row.
 *   train   training time and peak RSS for N examples (default 1,000,000) drawn from a known logistic
 *           truth over the feature schema, with the trainer's defaults.
 *
 * Flags: --part score|train|all (all), --examples N (1000000), --users N per job (500), --candidates K (10),
 * --rounds N (7), --epochs N (trainer default 40), --json.
 */
import { parseArgs } from 'node:util';
import { Tensor } from 'onnxruntime-node';
import type { Group } from '../../shared/schemas/jobs.schema';
import { createScoreStage, featureRows, pickBestRows } from '../pipeline/score';
import { FEATURE_COUNT, FEATURE_NAMES } from '../ranking/features';
import { rankScore } from '../ranking/heuristic';
import { loadModel, runModel } from '../ranking/model-server';
import { exportOnnx } from '../ranking/onnx-export';
import { seededRandom, train, type Examples } from '../ranking/trainer';
import { metadataOf } from '../ranking/train';
import { createDailySale, DAILY_SALE } from '../strategies/daily-sale/daily-sale.strategy';
import type { UserState } from '../state';
import { median } from './util';

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

const ZONES = ['Europe/Madrid', 'America/New_York', 'Asia/Kolkata', 'Australia/Adelaide', 'UTC'];

/** Rows/s of `f` over `reps` calls of `rows` rows each, after two warm-up calls. */
async function rate(f: () => unknown, rows: number, reps: number): Promise<number> {
  for (let k = 0; k < 2; k++) await f();
  const t0 = performance.now();
  for (let k = 0; k < reps; k++) await f();
  return (rows * reps) / ((performance.now() - t0) / 1000);
}

async function benchScore(usersPerJob: number, candidates: number, rounds: number) {
  const ex = syntheticExamples(60_000, 3);
  const trained = train(ex, { seed: 3, maxEpochs: 2 });
  const bytes = exportOnnx(trained.model, metadataOf(trained, new Date(0).toISOString()));
  // Loaded as a score worker loads it, so the path counts drift as a worker does.
  const loaded = await loadModel('bench', bytes);
  const { session } = loaded;
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
      timeZone: ZONES[i % ZONES.length] as string,
      locale: 'es-ES',
      optIn: true,
      devices: [],
      location: { lat: 40.4 + r() * 0.1, lon: -3.7 + r() * 0.1 },
      lastCategory: CATS[i % CATS.length],
      lastPurchaseAt: Date.parse('2026-03-01T00:00:00Z') - Math.floor(r() * 30 * 86_400_000),
      categories,
    });
  }
  // The daily sale's personal policy: one campaign group, every user x the day's top sales.
  const group: Group = {
    strategy: DAILY_SALE,
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
  const plugin = createDailySale({ policy: 'personal', maxCandidates: candidates });
  const strategies = new Map([[DAILY_SALE, plugin]]);
  const hourCounts = Array.from({ length: 24 }, (_, h) => (h >= 8 && h <= 22 ? 1 + (h % 3) : 0));
  const engagement = new Map(
    ids.map((id, i) => [id, { delivered: i % 9, opened: i % 3 === 0 ? 1 : 0, clicked: 0 }]),
  );
  const timingRead = {
    user: new Map(ids.map((id) => [id, { values: hourCounts, at: [] }])),
    zone: new Map(),
    all: { values: hourCounts, at: [] },
  };
  const memory = {
    users: { getUsers: () => Promise.resolve(users) },
    telemetry: { engagementOf: () => Promise.resolve(engagement) },
    timing: { read: () => Promise.resolve(timingRead) },
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
  // The very matrix the path builds (same users, engagement and hour counters), so the reference runs the
  // same rows, the same batch size and the same outputs as the path's one ONNX run.
  const hoursMap = new Map(ids.map((id) => [id, hourCounts]));
  const build = () => featureRows([group], users, () => plugin, engagement, hoursMap);
  const { x } = build();
  const raw = async () => {
    await session.run({ features: new Tensor('float32', x, [rows, FEATURE_COUNT]) }, ['p_open', 'p_click']);
  };
  const path = async () => {
    await withModel({ groups: [group] }, {} as never);
  };
  const heur = async () => {
    await heuristic({ groups: [group] }, {} as never);
  };
  const day = new Date(group.at).toISOString().slice(0, 10);
  const drift = () => loaded.drift?.observe(x, rows, day);
  const scored = await runModel(loaded, x, rows);
  const pick = () => {
    pickBestRows([group], users, scored.pOpen, scored.pClick, { open: 1, click: 2 });
  };
  // Interleaved, round by round, so a change in the machine's load hits every figure of a round alike; each
  // figure is the median of its rounds, the ratio the median of each round's path / raw.
  const reps = 20;
  const figures = { raw: [], path: [], ratio: [], heuristic: [], build: [], drift: [], pick: [] } as Record<
    'raw' | 'path' | 'ratio' | 'heuristic' | 'build' | 'drift' | 'pick',
    number[]
  >;
  for (let round = 0; round < rounds; round++) {
    const rawRate = await rate(raw, rows, reps);
    const pathRate = await rate(path, rows, reps);
    figures.raw.push(rawRate);
    figures.path.push(pathRate);
    figures.ratio.push(pathRate / rawRate);
    figures.heuristic.push(await rate(heur, rows, reps));
    figures.build.push(await rate(build, rows, reps));
    figures.drift.push(await rate(drift, rows, reps));
    figures.pick.push(await rate(pick, rows, reps));
  }
  await session.release();
  const med = (k: keyof typeof figures) => Math.round(median(figures[k]));
  const range = (k: keyof typeof figures) => [
    Math.round(Math.min(...figures[k])),
    Math.round(Math.max(...figures[k])),
  ];
  const usPerRow = (k: keyof typeof figures) => Math.round((1e6 / median(figures[k])) * 1000) / 1000;
  return {
    rowsPerJob: rows,
    rounds,
    rawRowsPerS: med('raw'),
    pathRowsPerS: med('path'),
    ratio: Math.round(median(figures.ratio) * 1000) / 1000,
    ratioRange: figures.ratio.map((v) => Math.round(v * 1000) / 1000).sort((a, b) => a - b),
    rawRange: range('raw'),
    pathRange: range('path'),
    heuristicRowsPerS: med('heuristic'),
    featureRowsPerS: med('build'),
    /** The path's pieces, µs a row (median rounds): feature rows, drift counting, ONNX, the picks. */
    usPerRow: {
      features: usPerRow('build'),
      drift: usPerRow('drift'),
      onnx: usPerRow('raw'),
      pick: usPerRow('pick'),
      path: usPerRow('path'),
    },
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
      rounds: { type: 'string', default: '7' },
      epochs: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const out: Record<string, unknown> = { features: FEATURE_NAMES.length };
  if (values.part === 'score' || values.part === 'all') {
    const s = await benchScore(Number(values.users), Number(values.candidates), Number(values.rounds));
    out.score = s;
    const u = s.usPerRow;
    process.stderr.write(
      `score: ${s.rowsPerJob} rows a job, median of ${s.rounds} rounds; score-stage model path ${s.pathRowsPerS} rows/s (${s.pathRange.join('-')}), raw session.run on the same matrix ${s.rawRowsPerS} rows/s (${s.rawRange.join('-')}); ratio ${s.ratio} (rounds ${s.ratioRange.join(', ')}; target 0.5)\n` +
        `score: heuristic path ${s.heuristicRowsPerS} rows/s; feature rows alone ${s.featureRowsPerS} rows/s\n` +
        `score: µs a row: features ${u.features}, drift ${u.drift}, onnx ${u.onnx}, picks ${u.pick}; whole path ${u.path}\n`,
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
