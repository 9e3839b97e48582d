/**
 * `npm run train -- --from-simulator --users 2000 --days 7 --out DIR [--json]`: draws a push log from the
 * simulated world's response model (no Kafka, no Redis), trains the score model on it, writes
 * DIR/model.onnx and DIR/report.json, and prints a summary (with --json, one JSON object on stdout; the
 * progress bar stays on stderr).
 *
 * Exit codes: 0 done, 2 bad flags (one line on stderr), 1 anything else.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../shared/config';
import { stateKeys } from '../../shared/keys';
import { createRedis } from '../../shared/redis';
import { simulatePushLog } from '../simulator/push-log';
import { createModelsStore, type ModelsStore } from '../state/models.store';
import { formatGate } from './gate';
import { registerAndGate } from './registry';
import { FEATURE_NAMES, FEATURE_SCHEMA } from './features';
import { auc, round4 } from './metrics';
import { exportOnnx, type ModelMetadata } from './onnx-export';
import { readKafkaPushLog } from './push-log';
import { splitByTime, train, type Examples, type TrainOptions, type TrainResult } from './trainer';

export class UsageError extends Error {}

const USAGE = `usage: npm run train -- --from-simulator [--users 2000] [--days 7] [--seed 7] --out DIR [--json]
       npm run train -- --from-kafka --out DIR [--register] [--json]
  --from-simulator   draw the push log from the simulated world's response model
  --from-kafka       Herald's own log: push.sent (with the features each push was scored with) joined with
                     feedback, at KAFKA_BROKERS / KAFKA_TOPIC_PREFIX
  --users N          simulated users (default 2000)
  --days D           days of pushes, one a user a day (default 7; the last is the test slice, the one
                     before it the validation slice)
  --warmup D         days of behaviour before the first push (default 14)
  --seed S           seed of the world and the trainer (default 7)
  --hidden A,B       shared-bottom widths (default 32,16)
  --epochs N         most epochs (default 40)
  --class-weight W   sqrt | none | a number (default sqrt)
  --out DIR          where model.onnx and report.json go
  --json             print one JSON object on stdout
  --register         register the model in the registry (REDIS_URL, HERALD_PREFIX) and promote it if it
                     passes the gate (open AUC >= the current model's and the heuristic's + margin)
  --margin M         the gate's AUC margin (default MODEL_GATE_MARGIN, 0.01)
  --dry-run          with --register: register and report, never promote
  --rollback         serve the previously promoted model again (or the heuristic), then exit`;

function int(v: string | undefined, name: string, dflt: number, lo = 1): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < lo) throw new UsageError(`--${name}=${v} must be an integer >= ${lo}`);
  return n;
}

/** The model's metadata from its training report. */
export function metadataOf(result: TrainResult, now: string): ModelMetadata {
  const r = result.report;
  return {
    schemaHash: r.schemaHash,
    schemaVersion: FEATURE_SCHEMA.version,
    features: [...FEATURE_NAMES],
    window: r.window,
    counts: r.counts,
    auc: { open: r.test.open.auc, click: r.test.click.auc },
    logLoss: { open: r.test.open.logLoss, click: r.test.click.logLoss },
    ece: { open: r.test.open.ece, click: r.test.click.ece },
    heuristicAuc: { open: r.heuristic.open.auc, click: r.heuristic.click.auc },
    calibration: r.calibration,
    hidden: [...result.model.shape.hidden],
    seed: r.seed,
    trainedAt: now,
    drift: result.reference,
  };
}

export async function main(
  argv: string[],
  out: (s: string) => void,
  err: (s: string) => void,
): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        'from-simulator': { type: 'boolean' },
        'from-kafka': { type: 'boolean' },
        users: { type: 'string' },
        days: { type: 'string' },
        warmup: { type: 'string' },
        seed: { type: 'string' },
        hidden: { type: 'string' },
        epochs: { type: 'string' },
        'class-weight': { type: 'string' },
        out: { type: 'string' },
        json: { type: 'boolean' },
        register: { type: 'boolean' },
        'dry-run': { type: 'boolean' },
        margin: { type: 'string' },
        rollback: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (e) {
    err(`train: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    out(`${USAGE}\n`);
    return 0;
  }
  try {
    if (values.rollback) {
      const back = await withModels((models) => models.rollback());
      out(`${JSON.stringify({ promoted: back ?? 'heuristic' })}\n`);
      return 0;
    }
    if (!values['from-simulator'] === !values['from-kafka'])
      throw new UsageError('give one source: --from-simulator or --from-kafka');
    if (!values.out) throw new UsageError('--out DIR is required');
    const users = int(values.users, 'users', 2000);
    const days = int(values.days, 'days', 7, 3);
    const seed = int(values.seed, 'seed', 7, 0);
    const hidden = (values.hidden ?? '32,16').split(',').map((h) => int(h, 'hidden', 1));
    const cw = values['class-weight'] ?? 'sqrt';
    const classWeight: TrainOptions['classWeight'] =
      cw === 'sqrt' || cw === 'none'
        ? cw
        : Number.isFinite(Number(cw)) && Number(cw) > 0
          ? Number(cw)
          : (() => {
              throw new UsageError(`--class-weight=${cw} must be sqrt, none or a positive number`);
            })();
    const dir = resolve(values.out);
    const t0 = performance.now();
    let log: Examples & { truthOpen?: Float64Array; truthClick?: Float64Array };
    if (values['from-kafka']) {
      err('train: reading push.sent and feedback from Kafka ...\n');
      const k = await readKafkaPushLog(loadConfig(process.env));
      err(
        `train: ${k.pushes} pushes, ${k.feedback} feedback events; ${k.n} labelled examples (${k.skipped} without this schema's features)\n`,
      );
      log = k;
    } else {
      err(`train: simulating ${users} users x ${days} days of pushes ...\n`);
      log = simulatePushLog({ users, days, seed, warmupDays: int(values.warmup, 'warmup', 14, 0) });
    }
    const simMs = Math.round(performance.now() - t0);
    err(`train: ${log.n} pushes logged in ${(simMs / 1000).toFixed(1)} s; training\n`);
    const result = train(log, {
      seed,
      hidden,
      classWeight,
      maxEpochs: int(values.epochs, 'epochs', 40),
      onEpoch: (e) =>
        err(progress(e.epoch, e.maxEpochs, `loss ${e.trainLoss.toFixed(4)} valid ${e.validLoss.toFixed(4)}`)),
    });
    err('\n');
    const meta = metadataOf(result, new Date().toISOString());
    mkdirSync(dir, { recursive: true });
    const modelPath = join(dir, 'model.onnx');
    writeFileSync(modelPath, exportOnnx(result.model, meta));
    const r = result.report;
    const testFrom = Date.parse(r.window.testFrom);
    const testRows = Array.from(log.at, (t, i) => (t >= testFrom ? i : -1)).filter((i) => i >= 0);
    const pick = (a: ArrayLike<number>) => testRows.map((i) => a[i] as number);
    // The ceiling: the world's own probabilities as a ranker on the same test rows.
    const truthAuc =
      log.truthOpen && log.truthClick
        ? {
            open: round4(auc(pick(log.truthOpen), pick(log.opened))),
            click: round4(auc(pick(log.truthClick), pick(log.clicked))),
          }
        : undefined;
    const summary = {
      model: join(values.out, 'model.onnx'),
      examples: log.n,
      auc: { open: r.test.open.auc, click: r.test.click.auc },
      heuristicAuc: { open: r.heuristic.open.auc, click: r.heuristic.click.auc },
      ...(truthAuc ? { truthAuc } : {}),
      logLoss: { open: r.test.open.logLoss, click: r.test.click.logLoss },
      ece: { open: r.test.open.ece, click: r.test.click.ece },
      rates: { open: r.test.open.rate, click: r.test.click.rate },
      inputs: [...FEATURE_NAMES],
      schemaHash: r.schemaHash,
      counts: r.counts,
      epochs: r.epochs,
      bestEpoch: r.bestEpoch,
      simulateMs: simMs,
      trainMs: r.trainMs,
    };
    let gate: Record<string, unknown> | undefined;
    if (values.register) {
      const margin =
        values.margin === undefined ? loadConfig(process.env).MODEL_GATE_MARGIN : Number(values.margin);
      if (!Number.isFinite(margin)) throw new UsageError(`--margin=${values.margin} must be a number`);
      const { test } = splitByTime(log, 1, 1);
      const res = await withModels((models) =>
        registerAndGate({
          models,
          bytes: readFileSync(modelPath),
          meta,
          test,
          margin,
          now: Date.now(),
          dryRun: values['dry-run'] === true,
        }),
      );
      err(formatGate(res.decision));
      gate = {
        version: res.version,
        promoted: res.decision.promote && !values['dry-run'],
        reasons: res.decision.reasons,
      };
    }
    writeFileSync(join(dir, 'report.json'), `${JSON.stringify({ ...summary, gate, report: r }, null, 2)}\n`);
    if (values.json) out(`${JSON.stringify(gate ? { ...summary, gate } : summary)}\n`);
    else {
      out(
        [
          `model     ${summary.model} (schema ${r.schemaHash})`,
          `examples  ${log.n} (train ${r.counts.train}, valid ${r.counts.valid}, test ${r.counts.test})`,
          `              AUC     log loss  ECE     rate`,
          `open      ${fmt(r.test.open.auc)}  ${fmt(r.test.open.logLoss)}    ${fmt(r.test.open.ece)}  ${fmt(r.test.open.rate)}`,
          `click     ${fmt(r.test.click.auc)}  ${fmt(r.test.click.logLoss)}    ${fmt(r.test.click.ece)}  ${fmt(r.test.click.rate)}`,
          `heuristic ${fmt(r.heuristic.open.auc)} (open AUC)  ${fmt(r.heuristic.click.auc)} (click AUC)`,
          `epochs    ${r.epochs} (best ${r.bestEpoch}), ${(r.trainMs / 1000).toFixed(1)} s`,
          '',
        ].join('\n'),
      );
    }
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      err(`train: ${e.message}\n`);
      return 2;
    }
    err(`train failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 1;
  }
}

/** Runs `f` on the model registry at REDIS_URL under HERALD_PREFIX. */
async function withModels<T>(f: (models: ModelsStore) => Promise<T>): Promise<T> {
  const config = loadConfig(process.env);
  const redis = createRedis(config.REDIS_URL, 'herald-train');
  try {
    return await f(createModelsStore(redis, stateKeys(config.HERALD_PREFIX)));
  } finally {
    await redis.quit();
  }
}

function fmt(v: number): string {
  return v.toFixed(4);
}

function progress(done: number, total: number, text: string): string {
  const w = 24;
  const filled = Math.round((done / total) * w);
  return `\r[${'#'.repeat(filled)}${'.'.repeat(w - filled)}] epoch ${done}/${total} ${text}`;
}

if (require.main === module) {
  main(
    process.argv.slice(2),
    (s) => process.stdout.write(s),
    (s) => process.stderr.write(s),
  ).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`train failed: ${String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
