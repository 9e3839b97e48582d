/**
 * Serves the promoted score model in a score worker: loads it with onnxruntime-node, checks it was trained on
 * this process's feature schema, and swaps to a newly promoted version without a restart.
 *
 * Guarantees:
 * - A batch is scored by one model from start to end: it acquires the current model and releases it when
 *   done; a swap never touches a model in use (the old session is released after its last batch).
 * - A model that fails to load, or whose schema hash or inputs differ from this process's, is refused with
 *   one log line naming the version and the reason; whatever served before keeps serving (the previous
 *   model, or the heuristic when there was none). A refused version is not retried until another is
 *   promoted.
 * - No promoted version (or a rollback to none) means the heuristic scores.
 */
import { InferenceSession, Tensor } from 'onnxruntime-node';
import type { Logger } from '../../shared/logger';
import { startLoop, type Loop } from '../../shared/loop';
import type { ModelsStore } from '../state';
import { DriftMonitor } from './drift';
import { FEATURE_COUNT, FEATURE_NAMES, FEATURE_SCHEMA_HASH } from './features';
import { INPUT_NAME, OUTPUT_NAMES, parseMetadata, readMetadata, type ModelMetadata } from './onnx-export';

export class ModelRefusedError extends Error {
  constructor(
    readonly version: string,
    readonly reason: string,
  ) {
    super(`model ${version} refused: ${reason}`);
    this.name = 'ModelRefusedError';
  }
}

export interface LoadedModel {
  version: string;
  meta: Partial<ModelMetadata>;
  session: InferenceSession;
  /** Counts the rows it serves against its training distribution (absent: no reference in its metadata). */
  drift?: DriftMonitor;
}

/** Loads ONNX bytes after checking their metadata against this process's feature schema. */
export async function loadModel(
  version: string,
  bytes: Uint8Array,
  expectedHash: string = FEATURE_SCHEMA_HASH,
): Promise<LoadedModel> {
  let meta: Partial<ModelMetadata>;
  try {
    meta = parseMetadata(readMetadata(bytes));
  } catch (e) {
    throw new ModelRefusedError(version, `not an ONNX model (${(e as Error).message})`);
  }
  if (meta.schemaHash !== expectedHash) {
    throw new ModelRefusedError(
      version,
      `feature schema ${String(meta.schemaHash)} differs from this worker's ${expectedHash}`,
    );
  }
  if (JSON.stringify(meta.features) !== JSON.stringify(FEATURE_NAMES)) {
    throw new ModelRefusedError(version, 'its input columns differ from this worker’s feature names');
  }
  let session: InferenceSession;
  try {
    session = await InferenceSession.create(bytes);
  } catch (e) {
    throw new ModelRefusedError(version, `onnxruntime could not load it (${(e as Error).message})`);
  }
  const missing = OUTPUT_NAMES.filter((o) => !session.outputNames.includes(o));
  if (!session.inputNames.includes(INPUT_NAME) || missing.length) {
    await session.release();
    throw new ModelRefusedError(version, `it lacks input ${INPUT_NAME} or outputs ${missing.join(', ')}`);
  }
  const loaded: LoadedModel = { version, meta, session };
  if (Array.isArray(meta.drift) && meta.drift.length === FEATURE_COUNT) {
    loaded.drift = new DriftMonitor(FEATURE_NAMES, meta.drift, '');
  }
  return loaded;
}

/** p_open and p_click of n rows of FEATURE_COUNT features. */
export async function runModel(
  m: LoadedModel,
  x: Float32Array,
  n: number,
): Promise<{ pOpen: Float32Array; pClick: Float32Array }> {
  const out = await m.session.run({ [INPUT_NAME]: new Tensor('float32', x, [n, FEATURE_COUNT]) }, [
    'p_open',
    'p_click',
  ]);
  return { pOpen: out.p_open?.data as Float32Array, pClick: out.p_click?.data as Float32Array };
}

/** Features whose PSI is above `warnAt`, worst first. Pure. */
export function driftWarnings(
  psi: Readonly<Record<string, number>>,
  warnAt: number,
): Array<[string, number]> {
  return Object.entries(psi)
    .filter(([, v]) => v > warnAt)
    .sort((a, b) => b[1] - a[1]);
}

/**
 * Every `everyMs`, reports the drift of the model in service: the PSI of each feature goes to the registry's
 * drift hash (the metric), and features above `warnAt` to one warning line. Reports from fewer than
 * `minRows` rows are skipped: a few rows make any PSI large.
 */
export function startDriftReports(deps: {
  server: Pick<ModelServer, 'drift'>;
  models: Pick<ModelsStore, 'saveDrift'>;
  logger: Logger;
  everyMs: number;
  warnAt: number;
  /** Default 1000. */
  minRows?: number;
}): Loop {
  return startLoop({
    name: 'model-drift',
    idleMs: deps.everyMs,
    logger: deps.logger,
    round: async () => {
      const r = deps.server.drift();
      if (!r || r.rows < (deps.minRows ?? 1000)) return 0;
      await deps.models.saveDrift(r);
      const worst = driftWarnings(r.psi, deps.warnAt);
      if (worst.length) {
        deps.logger.warn(
          { version: r.version, day: r.day, rows: r.rows, psi: Object.fromEntries(worst) },
          `model ${r.version}: served features drifted from training (PSI > ${deps.warnAt}): ${worst
            .map(([f, v]) => `${f} ${v.toFixed(3)}`)
            .join(', ')}`,
        );
      }
      return 0;
    },
  });
}

export interface ModelServer {
  /** The model to score a batch with (null: the heuristic); hand it back with `release` when done. */
  acquire(): LoadedModel | null;
  release(m: LoadedModel): void;
  /** Checks the registry once and swaps to a newly promoted version. */
  refresh(): Promise<void>;
  /** The version in service, or null. */
  version(): string | null;
  /** The drift of the model in service over the rows it served this day, or null. */
  drift(): { version: string; day: string; rows: number; psi: Record<string, number> } | null;
  /** Polls the registry every `pollMs` until `stop`. */
  start(pollMs: number): void;
  stop(): Promise<void>;
}

export function createModelServer(deps: {
  models: Pick<ModelsStore, 'promoted' | 'get'>;
  logger: Logger;
  /** Default FEATURE_SCHEMA_HASH. */
  schemaHash?: string;
}): ModelServer {
  let current: LoadedModel | null = null;
  const inUse = new Map<LoadedModel, number>();
  const retired = new Set<LoadedModel>();
  let refused: string | null = null;
  let loop: Loop | undefined;

  const dispose = (m: LoadedModel) => {
    retired.delete(m);
    m.session.release().catch((e: unknown) => deps.logger.warn({ err: String(e) }, 'model release failed'));
  };
  const retire = (m: LoadedModel | null) => {
    if (!m) return;
    if ((inUse.get(m) ?? 0) > 0) retired.add(m);
    else dispose(m);
  };

  const server: ModelServer = {
    acquire() {
      if (current) inUse.set(current, (inUse.get(current) ?? 0) + 1);
      return current;
    },
    release(m) {
      const n = (inUse.get(m) ?? 1) - 1;
      if (n > 0) inUse.set(m, n);
      else {
        inUse.delete(m);
        if (retired.has(m)) dispose(m);
      }
    },
    version: () => current?.version ?? null,
    drift: () => (current?.drift ? { version: current.version, ...current.drift.report() } : null),
    async refresh() {
      const version = await deps.models.promoted();
      if (version === (current?.version ?? null)) return;
      if (version === null) {
        deps.logger.warn({ from: current?.version }, 'no promoted model: the heuristic scores');
        retire(current);
        current = null;
        refused = null;
        return;
      }
      if (version === refused) return;
      try {
        const stored = await deps.models.get(version);
        if (!stored) throw new ModelRefusedError(version, 'it is not in the registry');
        const loaded = await loadModel(version, stored.onnx, deps.schemaHash ?? FEATURE_SCHEMA_HASH);
        const previous = current;
        current = loaded;
        refused = null;
        deps.logger.info(
          { version, from: previous?.version ?? 'heuristic', auc: loaded.meta.auc },
          `score model ${version} in service`,
        );
        retire(previous);
      } catch (e) {
        refused = version;
        const reason = e instanceof ModelRefusedError ? e.message : `model ${version} refused: ${String(e)}`;
        deps.logger.error(
          { version, keeps: current?.version ?? 'heuristic' },
          `${reason}; ${current ? `model ${current.version}` : 'the heuristic'} keeps scoring`,
        );
      }
    },
    start(pollMs) {
      loop = startLoop({
        name: 'model-refresh',
        idleMs: pollMs,
        logger: deps.logger,
        round: async () => {
          await server.refresh();
          return 0;
        },
      });
    },
    async stop() {
      await loop?.stop();
      retire(current);
      current = null;
    },
  };
  return server;
}
