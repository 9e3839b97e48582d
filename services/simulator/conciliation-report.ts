/**
 * What the evaluation reports of value conciliation, from a run's own log:
 *
 * - the offline policy estimate of another configuration (services/conciliation/ope.ts, the code of
 *   `npm run offline -- ope`), from the decisions of the evaluated days, with the world's expected response
 *   of each push as its reward (the eval's "expected open rate": less noisy than the sampled opens). The
 *   evaluation then runs that configuration and sets its measured rate beside the estimate;
 * - each holdout's lift: opens and clicks per user of the treated users against the users held out (all of
 *   Herald for the global control, one strategy for a strategy's holdout), with 95% intervals.
 */
import { readFileSync } from 'node:fs';
import { DecisionV1, PushSentV1, type Decision } from '../../shared/schemas/events.schema';
import { holdoutOf, type Holdouts } from '../conciliation/decide';
import {
  emptySums,
  addUser,
  liftTable,
  type GroupSums,
  type Lift,
  type LiftMetric,
} from '../conciliation/lift';
import {
  REWARDS,
  conciliationUnits,
  evaluate,
  evaluateRatio,
  type ColumnEstimates,
  type DecisionOutcome,
} from '../conciliation/ope';
import type { PolicyConfig } from '../conciliation/policy';
import type { PushRecord } from './sim-run';

function lines(file: string): unknown[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as unknown);
}

export interface OpeCheck {
  config: Partial<PolicyConfig>;
  decisions: number;
  /** Expected opens per push (expected open rate) and pushes per decision, estimated for the target. */
  openRate: ColumnEstimates;
  pushesPerDecision: ColumnEstimates;
  ess: number;
  maxWeight: number;
}

/**
 * The estimate, for `config`, from the decisions a run made in [from, to): sent ones (from push.sent) with
 * the pushes' expected response, and the ones that sent nothing (push.decisions) with none.
 */
export function opeFromRun(
  logs: { decisions: string; pushes: string },
  pushes: readonly PushRecord[],
  from: number,
  to: number,
  config: Partial<PolicyConfig>,
): OpeCheck {
  const byId = new Map(pushes.map((p) => [p.pushId, p]));
  const seen = new Set<string>();
  const outcomes: DecisionOutcome[] = [];
  const take = (d: Decision, push?: PushRecord) => {
    const at = Date.parse(d.at);
    if (at < from || at >= to || seen.has(d.decisionId)) return;
    seen.add(d.decisionId);
    outcomes.push({
      decision: d,
      rewards: push
        ? { pushes: 1, opens: push.pOpen, clicks: push.pOpen * push.pClick }
        : { pushes: 0, opens: 0, clicks: 0 },
    });
  };
  for (const raw of lines(logs.pushes)) {
    const p = PushSentV1.safeParse(raw);
    if (!p.success || !p.data.decision) continue;
    const push = byId.get(p.data.pushId);
    if (push) take(p.data.decision, push);
  }
  for (const raw of lines(logs.decisions)) {
    const d = DecisionV1.safeParse(raw);
    if (d.success && d.data.outcome === 'suppressed') take(d.data);
  }
  const units = conciliationUnits(outcomes, config).units;
  const r = evaluate(units);
  return {
    config,
    decisions: outcomes.length,
    openRate: evaluateRatio(units, REWARDS.indexOf('opens'), REWARDS.indexOf('pushes')),
    pushesPerDecision: r.columns[REWARDS.indexOf('pushes')]!,
    ess: r.ess,
    maxWeight: r.maxWeight,
  };
}

export interface HoldoutLift {
  scope: string;
  treatedUsers: number;
  holdoutUsers: number;
  lift: Record<LiftMetric, Lift>;
}

/**
 * Per holdout scope (`all`, then each strategy), opens, clicks and conversions per user of the evaluated
 * days, treated against held out, over every user of the world. The simulated world answers no push with a
 * purchase, so conversions are 0 in both groups here; production counts `converted` feedback.
 */
export function holdoutLifts(
  userIds: readonly string[],
  pushes: readonly PushRecord[],
  h: Holdouts,
  strategies: readonly string[],
): HoldoutLift[] {
  const per = new Map<string, { opens: number; clicks: number }>();
  for (const p of pushes) {
    const x = per.get(p.userId) ?? { opens: 0, clicks: 0 };
    x.opens += p.opened ? 1 : 0;
    x.clicks += p.clicked ? 1 : 0;
    per.set(p.userId, x);
  }
  const scopes = [...(h.share > 0 ? ['all'] : []), ...(h.strategyShare > 0 ? strategies : [])];
  return scopes.map((scope) => {
    const groups = {
      treated: { opens: emptySums(), clicks: emptySums(), conversions: emptySums() },
      holdout: { opens: emptySums(), clicks: emptySums(), conversions: emptySums() },
    } satisfies Record<string, Record<LiftMetric, GroupSums>>;
    for (const u of userIds) {
      const g = holdoutOf(u, h, strategies);
      // A strategy's lift compares users outside the global control only.
      if (scope !== 'all' && g.control) continue;
      const held = scope === 'all' ? g.control : g.strategies.has(scope);
      const x = per.get(u) ?? { opens: 0, clicks: 0 };
      const t = held ? groups.holdout : groups.treated;
      addUser(t.opens, x.opens);
      addUser(t.clicks, x.clicks);
      addUser(t.conversions, 0);
    }
    return {
      scope,
      treatedUsers: groups.treated.opens.n,
      holdoutUsers: groups.holdout.opens.n,
      lift: liftTable(groups.treated, groups.holdout),
    };
  });
}
