/**
 * The promotion gate (DESIGN rule 12): a new score model is promoted only if its held-out AUC for open beats
 * both the heuristic's (as a ranker) and the current model's by at least `margin`, all measured on the same
 * held-out rows. Pure: the caller measures, the gate decides and says why.
 */
import type { HeadReport } from './metrics';

export interface Contender {
  /** Version, or `heuristic`. */
  name: string;
  open: Pick<HeadReport, 'auc'> & Partial<HeadReport>;
  click?: Pick<HeadReport, 'auc'> & Partial<HeadReport>;
}

export interface GateDecision {
  promote: boolean;
  reasons: string[];
  /** Every contender's figures, for the report. */
  table: Contender[];
}

/**
 * @param margin AUC points the candidate must win by (e.g. 0.01). Default 0.
 */
export function promotionGate(
  candidate: Contender,
  rivals: { heuristic: Contender; current?: Contender | null },
  margin = 0,
): GateDecision {
  const reasons: string[] = [];
  let promote = Number.isFinite(candidate.open.auc);
  if (!promote) reasons.push(`candidate ${candidate.name} has no open AUC (too few opens held out)`);
  for (const rival of [rivals.heuristic, rivals.current ?? null]) {
    if (!rival) continue;
    const need = rival.open.auc + margin;
    if (!Number.isFinite(rival.open.auc)) continue;
    if (candidate.open.auc >= need) {
      reasons.push(
        `open AUC ${fmt(candidate.open.auc)} >= ${rival.name} ${fmt(rival.open.auc)} + margin ${fmt(margin)}`,
      );
    } else {
      promote = false;
      reasons.push(
        `open AUC ${fmt(candidate.open.auc)} < ${rival.name} ${fmt(rival.open.auc)} + margin ${fmt(margin)}`,
      );
    }
  }
  return {
    promote,
    reasons,
    table: [candidate, rivals.current ?? null, rivals.heuristic].filter((c): c is Contender => c !== null),
  };
}

/** The gate's report: one line per contender with both heads' AUC, log loss and ECE, then the verdict. */
export function formatGate(d: GateDecision): string {
  const cell = (h: Partial<HeadReport> | undefined, k: keyof HeadReport) =>
    h && h[k] !== undefined && Number.isFinite(h[k]) ? fmt(h[k]) : '     -';
  const lines = [
    'contender                        open AUC  log loss  ECE     click AUC  log loss  ECE',
    ...d.table.map(
      (c) =>
        `${c.name.padEnd(32)} ${cell(c.open, 'auc')}    ${cell(c.open, 'logLoss')}    ${cell(c.open, 'ece')}  ${cell(c.click, 'auc')}     ${cell(c.click, 'logLoss')}    ${cell(c.click, 'ece')}`,
    ),
    `${d.promote ? 'PROMOTE' : 'REFUSE'}: ${d.reasons.join('; ')}`,
  ];
  return `${lines.join('\n')}\n`;
}

function fmt(v: number): string {
  return v.toFixed(4);
}
