/**
 * The learned model for `npm run eval`'s `herald-model` policy, and its learning curve. The model is trained
 * on a push log drawn from another world (another seed: other users, stores and sales), never on the
 * evaluated world, so the comparison with the heuristic in the same run is on data it was not tuned on.
 * The learning curve trains on the first k days of that log (k = 1 .. days - 2) and measures AUC on its
 * last day (the day before it is the validation slice of every point).
 */
import { exportOnnx } from '../ranking/onnx-export';
import { metadataOf } from '../ranking/train';
import { subset, train } from '../ranking/trainer';
import { simulatePushLog } from './push-log';
import { DAY_MS } from './world';

export interface CurvePoint {
  days: number;
  examples: number;
  aucOpen: number;
  aucClick: number;
  heuristicAucOpen: number;
}

export interface EvalModel {
  bytes: Uint8Array;
  examples: number;
  aucOpen: number;
  heuristicAucOpen: number;
  curve: CurvePoint[];
}

export function trainEvalModel(o: {
  users: number;
  days: number;
  seed: number;
  say: (s: string) => void;
}): EvalModel {
  const log = simulatePushLog({ users: o.users, days: o.days, seed: o.seed });
  o.say(
    `herald-model: ${log.n} logged pushes from a world of ${o.users} users (seed ${o.seed}), ${o.days} days`,
  );
  let first = Infinity;
  for (const t of log.at) first = Math.min(first, t);
  const day0 = Math.floor(first / DAY_MS);
  const dayOf = (i: number) => Math.floor((log.at[i] as number) / DAY_MS) - day0;
  const curve: CurvePoint[] = [];
  let final: ReturnType<typeof train> | undefined;
  for (let k = 1; k <= o.days - 2; k++) {
    const rows = Array.from({ length: log.n }, (_, i) => i).filter(
      (i) => dayOf(i) < k || dayOf(i) >= o.days - 2,
    );
    const r = train(subset(log, rows), { seed: o.seed });
    curve.push({
      days: k,
      examples: r.report.counts.train,
      aucOpen: r.report.test.open.auc,
      aucClick: r.report.test.click.auc,
      heuristicAucOpen: r.report.heuristic.open.auc,
    });
    o.say(
      `herald-model: ${k} day(s) of logs -> open AUC ${r.report.test.open.auc} (heuristic ${r.report.heuristic.open.auc})`,
    );
    if (k === o.days - 2) final = r;
  }
  if (!final) throw new Error('herald-model: --model-days must be at least 3');
  return {
    bytes: exportOnnx(final.model, metadataOf(final, new Date().toISOString())),
    examples: log.n,
    aucOpen: final.report.test.open.auc,
    heuristicAucOpen: final.report.heuristic.open.auc,
    curve,
  };
}
