/**
 * One user's window decision, from what conciliation read: their offers (one per strategy), engagement and
 * fatigue, their recent pushes, the bandit's counters, and the scheduled campaigns still to come. Pure.
 *
 * Order: capped offers leave first (the reason is recorded); scheduled strategies whose next campaign falls
 * within the window and who have not offered yet join as anticipated arms (valued at their mean); the policy
 * (policy.ts) draws the choice with a draw seeded by the decision, so a retry decides the same. An
 * anticipated arm that wins means: wait for the campaign, send nothing now.
 */
import { fnv1a, stableId } from '../../shared/ids';
import type { Decision, DecisionArm, DecisionInput } from '../../shared/schemas/events.schema';
import type { Winner } from '../../shared/schemas/jobs.schema';
import { capReason, type Contact, type ContactRules } from './contact-rules';
import { seededRandom } from '../timing/engagement';
import { choose, contextOf, inHoldout, policyFingerprint, type PolicyConfig } from './policy';

/** The bandit's counters as stored: `<strategy>|<context>|<type>`, `<strategy>|scoreSum`, `<strategy>|scoreN`. */
export type BanditCounters = ReadonlyMap<string, number>;

export interface Holdouts {
  /** Share of users in the global control group. */
  share: number;
  /** Share of users held out of each strategy. */
  strategyShare: number;
  salt: string;
}

/** Which holdouts a user is in: the global control, and the strategies they are held out of. */
export function holdoutOf(
  userId: string,
  h: Holdouts,
  strategies: readonly string[],
): { control: boolean; strategies: Set<string> } {
  const control = inHoldout(userId, h.share, h.salt, fnv1a);
  const held = new Set<string>();
  if (!control)
    for (const s of strategies) if (inHoldout(userId, h.strategyShare, `${h.salt}|${s}`, fnv1a)) held.add(s);
  return { control, strategies: held };
}

/**
 * The holdout groups (`<scope>|<group>`) a user counts in for the lift: `all` (the global control against
 * everyone else), and, for users outside the control, each strategy held out or not.
 */
export function liftScopes(userId: string, h: Holdouts, strategies: readonly string[]): string[] {
  const { control, strategies: held } = holdoutOf(userId, h, strategies);
  if (control) return ['all|holdout'];
  if (h.share <= 0 && h.strategyShare <= 0) return [];
  return [
    ...(h.share > 0 ? ['all|treated'] : []),
    ...(h.strategyShare > 0 ? strategies.map((s) => `${s}|${held.has(s) ? 'holdout' : 'treated'}`) : []),
  ];
}

/** A strategy whose campaign is still to come in the window. */
export interface Anticipation {
  strategy: string;
  /** Clock ms of its next campaign. */
  at: number;
}

export interface DecideInput {
  userId: string;
  timeZone: string;
  now: number;
  offers: readonly Winner[];
  engagement: { delivered: number; opened: number; clicked: number; fatigue: number };
  contacts: readonly Contact[];
  bandit: BanditCounters;
  /** Scheduled strategies whose next campaign comes before the window ends (and that offered nothing yet). */
  anticipated: readonly Anticipation[];
}

export interface DecideOutcome {
  /** The winner to send, or null. */
  winner: Winner | null;
  /** The decision (null when no arm was left to weigh: every offer capped). */
  decision: Decision | null;
  /** Why nothing is sent: a cap, the value bar, or waiting for a campaign. */
  reason?: string;
  /** Offers dropped by a cap, with the cap. */
  capped: Array<{ offer: Winner; reason: string }>;
}

const num = (m: BanditCounters, k: string) => m.get(k) ?? 0;

/** Everyone's delivered and opened pushes: the sum over the bandit's counters. */
export function globalCounts(bandit: BanditCounters): { delivered: number; opened: number } {
  let delivered = 0;
  let opened = 0;
  for (const [k, v] of bandit) {
    if (k.endsWith('|delivered')) delivered += v;
    else if (k.endsWith('|opened')) opened += v;
  }
  return { delivered, opened };
}

function arm(
  strategy: string,
  pushId: string,
  candidateId: string,
  score: number | null,
  context: string,
  bandit: BanditCounters,
  contacts: readonly Contact[],
  now: number,
  anticipated: boolean,
): DecisionArm {
  const n = num(bandit, `${strategy}|scoreN`);
  const meanScore = n > 0 ? Math.max(0, num(bandit, `${strategy}|scoreSum`) / n) : 0;
  let last = -Infinity;
  for (const c of contacts) if (c.strategy === strategy && c.at > last) last = c.at;
  return {
    strategy,
    pushId,
    candidateId,
    // An anticipated arm is valued at its strategy's mean candidate.
    score: round6(score ?? meanScore),
    delivered: num(bandit, `${strategy}|${context}|delivered`),
    opened: num(bandit, `${strategy}|${context}|opened`),
    clicked: num(bandit, `${strategy}|${context}|clicked`),
    meanScore: round6(meanScore),
    sinceHours: Number.isFinite(last) ? round6(Math.max(0, now - last) / 3_600_000) : null,
    ...(anticipated ? { anticipated: true } : {}),
  };
}

function round6(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}

const fingerprints = new WeakMap<PolicyConfig, string>();
function fingerprintOf(p: PolicyConfig): string {
  let f = fingerprints.get(p);
  if (f === undefined) fingerprints.set(p, (f = policyFingerprint(p)));
  return f;
}

/** The user's decision for the window. */
export function decideUser(
  d: DecideInput,
  rules: Pick<ContactRules, 'all' | 'strategy'>,
  policy: PolicyConfig,
): DecideOutcome {
  const capped: DecideOutcome['capped'] = [];
  const open: Winner[] = [];
  const sent = new Set(d.contacts.map((c) => c.pushId));
  for (const o of d.offers) {
    // An offer already sent, or past its deadline, is no longer an arm.
    if (sent.has(o.decisionId) || (o.candidate.deadline !== undefined && o.candidate.deadline <= d.now))
      continue;
    const why = capReason(d.contacts, o.strategy, d.now, d.timeZone, rules);
    if (why) capped.push({ offer: o, reason: why });
    else open.push(o);
  }
  if (open.length === 0)
    return { winner: null, decision: null, reason: capped[0]?.reason ?? 'no_offer', capped };
  const context = contextOf(d.engagement.delivered);
  const arms: DecisionArm[] = open.map((o) =>
    arm(o.strategy, o.decisionId, o.candidate.id, o.score, context, d.bandit, d.contacts, d.now, false),
  );
  for (const a of d.anticipated) {
    if (open.some((o) => o.strategy === a.strategy)) continue;
    const id = stableId('anticipated', a.strategy, a.at, d.userId);
    arms.push(arm(a.strategy, id, id, null, context, d.bandit, d.contacts, d.now, true));
  }
  const input: DecisionInput = {
    context,
    user: {
      delivered: d.engagement.delivered,
      opened: d.engagement.opened,
      clicked: d.engagement.clicked,
      fatigue: round6(d.engagement.fatigue),
    },
    global: globalCounts(d.bandit),
    arms,
  };
  const decisionId = stableId('decision', d.userId, ...arms.map((a) => a.pushId));
  const u = seededRandom(decisionId)();
  const c = choose(input, policy, u);
  const chosen = c.chosen >= 0 ? arms[c.chosen]! : null;
  const winner = chosen && !chosen.anticipated ? open.find((o) => o.decisionId === chosen.pushId)! : null;
  const decision: Decision = {
    v: 1,
    decisionId,
    userId: d.userId,
    at: new Date(d.now).toISOString(),
    input,
    probs: c.probs.map(round6),
    chosen: c.chosen,
    outcome: winner ? 'sent' : 'suppressed',
    ...(winner ? {} : { reason: chosen ? `waiting:${chosen.strategy}` : 'below_value' }),
    weight: 1,
    policy: fingerprintOf(policy),
  };
  return {
    winner: winner ? { ...winner, decision } : null,
    decision,
    ...(decision.reason ? { reason: decision.reason } : {}),
    capped,
  };
}
