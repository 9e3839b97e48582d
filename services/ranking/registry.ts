/**
 * Registering a trained model and promoting it through the gate. The candidate, the promoted model (when
 * there is one it can compare with) and the heuristic are measured on the same held-out rows, the
 * candidate and the current model through onnxruntime, as the score workers will run them.
 */
import { createHash } from 'node:crypto';
import type { ModelsStore } from '../state';
import { FEATURE_SCHEMA_HASH } from './features';
import { promotionGate, type Contender, type GateDecision } from './gate';
import { headReport } from './metrics';
import { loadModel, runModel, type LoadedModel } from './model-server';
import type { ModelMetadata } from './onnx-export';
import { heuristicScores, type Examples } from './trainer';

/** A version name from the training instant and the bytes: `m20260307T101500-1a2b3c`. */
export function versionOf(bytes: Uint8Array, trainedAt: string): string {
  const stamp = trainedAt
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, '')
    .replace('Z', '');
  return `m${stamp}-${createHash('sha256').update(bytes).digest('hex').slice(0, 6)}`;
}

async function measure(name: string, m: LoadedModel, test: Examples): Promise<Contender> {
  const out = await runModel(m, test.x, test.n);
  return { name, open: headReport(out.pOpen, test.opened), click: headReport(out.pClick, test.clicked) };
}

export interface PromotionResult {
  version: string;
  decision: GateDecision;
  /** Why the current model could not be compared, when it could not. */
  currentNote?: string;
}

export async function registerAndGate(args: {
  models: Pick<ModelsStore, 'register' | 'promoted' | 'get' | 'promote'>;
  bytes: Uint8Array;
  meta: ModelMetadata;
  /** Held-out rows none of the contenders trained on. */
  test: Examples;
  margin: number;
  now: number;
  /** Register only; do not promote even when the gate passes. */
  dryRun?: boolean;
}): Promise<PromotionResult> {
  const version = versionOf(args.bytes, args.meta.trainedAt);
  await args.models.register(version, args.bytes, JSON.stringify(args.meta), args.now);
  const candidate = await loadModel(version, args.bytes, FEATURE_SCHEMA_HASH);
  let current: Contender | null = null;
  let currentNote: string | undefined;
  try {
    const h = heuristicScores(args.test);
    // The heuristic is a ranker, not a probability: only its AUCs mean anything.
    const heuristic: Contender = {
      name: 'heuristic',
      open: { auc: headReport(h, args.test.opened).auc },
      click: { auc: headReport(h, args.test.clicked).auc },
    };
    const promotedVersion = await args.models.promoted();
    if (promotedVersion && promotedVersion !== version) {
      const stored = await args.models.get(promotedVersion);
      if (stored) {
        try {
          const cur = await loadModel(promotedVersion, stored.onnx, FEATURE_SCHEMA_HASH);
          try {
            current = await measure(`current ${promotedVersion}`, cur, args.test);
          } finally {
            await cur.session.release();
          }
        } catch (e) {
          // A current model of another schema cannot be served by these workers anyway.
          currentNote = `current ${promotedVersion} not compared: ${(e as Error).message}`;
        }
      }
    }
    const decision = promotionGate(
      await measure(version, candidate, args.test),
      { heuristic, current },
      args.margin,
    );
    if (currentNote) decision.reasons.push(currentNote);
    if (decision.promote && !args.dryRun) await args.models.promote(version);
    return { version, decision, ...(currentNote ? { currentNote } : {}) };
  } finally {
    await candidate.session.release();
  }
}
