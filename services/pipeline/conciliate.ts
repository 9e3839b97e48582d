/**
 * Conciliate: across strategies, settles each user's one push for the contact window, then books the users
 * whose winner changed for delivery. Delivery reads the winner when it sends (late binding), so a better
 * candidate that arrives after booking still wins.
 *
 * Two modes (CONCILIATION). `value` (services/conciliation): every strategy's best offer is kept for the
 * window, and the winner is the offer of highest expected value under a bandit over strategies, or none
 * (caps, fatigue, a minimum value, a campaign worth waiting for), each decision logged with the probability
 * of its choice; holdout users get nothing and what they would have been offered is logged. `compare`: the
 * higher score takes the window (an atomic compare-and-set per user), the rule Herald began with.
 */
import { fnv1a, stableId } from '../../shared/ids';
import type { StageHandler } from '../../shared/stage';
import type { CandidatePick, Winner } from '../../shared/schemas/jobs.schema';
import type { Decision } from '../../shared/schemas/events.schema';
import type {
  ConciliationStore,
  DecisionsStore,
  DropRecord,
  State,
  Tracer,
  TraceInput,
  UserOffers,
} from '../state';
import type { Lane } from '../../shared/queue-factory';
import { nextTick } from '../campaigns/campaigns';
import type { ContactRules } from '../conciliation/contact-rules';
import {
  decideUser,
  holdoutOf,
  liftScopes,
  type Anticipation,
  type BanditCounters,
  type Holdouts,
} from '../conciliation/decide';
import type { PolicyConfig } from '../conciliation/policy';

/** The decision id is the push id: the same trigger for the same user always yields the same push. */
export function decisionId(strategy: string, targetId: string, userId: string): string {
  return stableId('push', strategy, targetId, userId);
}

/** Pure: the winner offers of a batch of picks. */
export function offers(
  picks: readonly CandidatePick[],
  lane?: Lane,
): Array<{ userId: string; winner: Winner }> {
  return picks.flatMap((p) =>
    p.userIds.map((userId, i) => ({
      userId,
      winner: {
        decisionId: decisionId(p.strategy, p.targetId, userId),
        strategy: p.strategy,
        targetId: p.targetId,
        candidate: p.candidate,
        score: p.scores[i] ?? 0,
        at: p.at,
        ...(lane ? { lane } : {}),
      },
    })),
  );
}

export function createConciliateStage(deps: {
  decisions: Pick<DecisionsStore, 'offerWinners'>;
  /** Records whether each traced user's candidate won the window, for `explain`. */
  trace?: Tracer;
}): StageHandler<'conciliate'> {
  return async ({ picks }, ctx) => {
    const offered = offers(picks, ctx.lane);
    const won = await deps.decisions.offerWinners(offered);
    const userIds = [...new Set(won)];
    if (deps.trace) {
      const winners = new Set(won);
      await deps.trace.record(
        offered
          .filter((o) => deps.trace!.traced(o.userId, ctx.lane))
          .map(({ userId, winner: w }) => ({
            userId,
            entry: {
              stage: 'conciliate' as const,
              what: winners.has(userId) ? 'won' : 'lost',
              strategy: w.strategy,
              targetId: w.targetId,
              detail: {
                pushId: w.decisionId,
                candidate: `${w.candidate.kind}:${w.candidate.id}`,
                score: w.score,
                ...(winners.has(userId)
                  ? {}
                  : { why: 'the window already holds a candidate that scores as high' }),
              },
            },
          })),
      );
    }
    return userIds.length ? [{ queue: 'sendTime' as const, payload: { userIds } }] : [];
  };
}

export interface ValueConciliation {
  state: Pick<State, 'users' | 'telemetry'> & { conciliation: ConciliationStore };
  now: () => number;
  policy: PolicyConfig;
  rules: Pick<ContactRules, 'all' | 'strategy'>;
  holdouts: Holdouts;
  /** Every enabled strategy (for the per-strategy holdouts). */
  strategies: readonly string[];
  /** The scheduled strategies' crons, for the campaigns still to come in the window. */
  schedules: ReadonlyArray<{ strategy: string; cron: string; tz: string }>;
  /** Clock ms of the contact window. */
  contactWindowMs: number;
  /** Share of the decisions that send nothing that are logged (a hash of the decision). */
  logRate: number;
  /** Real ms the bandit's counters are cached for. Default 1000. */
  banditCacheMs?: number;
  trace?: Tracer;
}

/** The value conciliation stage (see the file's header). */
export function createValueConciliateStage(deps: ValueConciliation): StageHandler<'conciliate'> {
  const conc = deps.state.conciliation;
  let cached: { at: number; bandit: BanditCounters } | null = null;
  const bandit = async (): Promise<BanditCounters> => {
    if (!cached || Date.now() - cached.at > (deps.banditCacheMs ?? 1000))
      cached = { at: Date.now(), bandit: await conc.bandit() };
    return cached.bandit;
  };
  const logged = (d: Decision) =>
    deps.logRate >= 1 || (deps.logRate > 0 && fnv1a(d.decisionId) / 4294967296 < deps.logRate);

  return async ({ picks }, ctx) => {
    const now = deps.now();
    const all = offers(picks, ctx.lane);
    const scoreSums = new Map<string, { sum: number; n: number }>();
    for (const o of all) {
      const s = scoreSums.get(o.winner.strategy) ?? { sum: 0, n: 0 };
      s.sum += o.winner.score;
      s.n += 1;
      scoreSums.set(o.winner.strategy, s);
    }
    const [counters, zones] = await Promise.all([
      bandit(),
      deps.state.users.timeZones([...new Set(all.map((o) => o.userId))]),
    ]);

    // Holdouts: nothing is stored or sent; what the policy would have made of the offer is logged.
    const groups = new Map<string, string[]>();
    const kept: typeof all = [];
    const log: Decision[] = [];
    const drops: DropRecord[] = [];
    const traced: Array<{ userId: string; entry: TraceInput }> = [];
    for (const o of all) {
      for (const sg of liftScopes(o.userId, deps.holdouts, deps.strategies)) {
        const key = sg.replace('|', '#');
        const list = groups.get(key) ?? [];
        list.push(o.userId);
        groups.set(key, list);
      }
      const h = holdoutOf(o.userId, deps.holdouts, deps.strategies);
      if (!h.control && !h.strategies.has(o.winner.strategy)) {
        kept.push(o);
        continue;
      }
      const reason = h.control ? 'holdout' : `holdout:${o.winner.strategy}`;
      const d = heldOutDecision(o.userId, o.winner, counters, now, deps.policy, reason);
      if (d && logged(d)) log.push(d);
      drops.push({ userId: o.userId, reason, strategy: o.winner.strategy, targetId: o.winner.targetId });
    }

    const users = [...new Set(kept.map((o) => o.userId))];
    const [stored, engagement, contacts] = await Promise.all([
      conc.offer(kept, now),
      conc.engagement(users, now),
      conc.contacts(users, now),
    ]);
    // The campaigns still to come in the window: one cron look-up per batch, not per user.
    const windowEnd = now + deps.contactWindowMs;
    const coming = deps.schedules.flatMap((s) => {
      const at = nextTick(s.cron, s.tz, now);
      return at < windowEnd ? [{ strategy: s.strategy, at }] : [];
    });
    const anticipate = (offersOf: readonly Winner[], userId: string): Anticipation[] => {
      if (coming.length === 0) return [];
      const h = holdoutOf(userId, deps.holdouts, deps.strategies);
      return coming.filter(
        (c) => !h.strategies.has(c.strategy) && !offersOf.some((w) => w.strategy === c.strategy),
      );
    };

    const book: string[] = [];
    let pending: Map<string, UserOffers> = stored;
    for (let attempt = 0; pending.size > 0 && attempt < 5; attempt++) {
      const outcomes = [...pending].map(([userId, o]) => ({
        userId,
        version: o.version,
        out: decideUser(
          {
            userId,
            timeZone: zones.get(userId) ?? 'UTC',
            now,
            offers: o.offers,
            engagement: engagement.get(userId) ?? { delivered: 0, opened: 0, clicked: 0, fatigue: 0 },
            contacts: contacts.get(userId) ?? [],
            bandit: counters,
            anticipated: anticipate(o.offers, userId),
          },
          deps.rules,
          deps.policy,
        ),
      }));
      const written = await conc.decide(
        outcomes.map((x) => ({ userId: x.userId, version: x.version, winner: x.out.winner })),
      );
      const stale: string[] = [];
      outcomes.forEach((x, i) => {
        const w = written[i];
        if (w === 'stale') {
          stale.push(x.userId);
          return;
        }
        if (w === 'changed' && x.out.winner) book.push(x.userId);
        const d = x.out.decision;
        if (d && !x.out.winner && logged(d)) log.push(d);
        for (const c of x.out.capped)
          drops.push({
            userId: x.userId,
            reason: c.reason,
            strategy: c.offer.strategy,
            targetId: c.offer.targetId,
          });
        if (!x.out.winner && d) {
          const a = d.chosen >= 0 ? d.input.arms[d.chosen] : d.input.arms[0];
          const offer = pending.get(x.userId)?.offers.find((o) => o.decisionId === a?.pushId);
          drops.push({
            userId: x.userId,
            reason: x.out.reason ?? 'below_value',
            strategy: a?.strategy ?? 'unknown',
            targetId: offer?.targetId ?? a?.pushId ?? 'unknown',
          });
        }
        if (deps.trace?.traced(x.userId, ctx.lane) && d) {
          traced.push({
            userId: x.userId,
            entry: {
              stage: 'conciliate',
              what: x.out.winner ? 'won' : 'suppressed',
              ...(x.out.winner ? { strategy: x.out.winner.strategy, targetId: x.out.winner.targetId } : {}),
              detail: {
                ...(x.out.winner
                  ? {
                      pushId: x.out.winner.decisionId,
                      candidate: `${x.out.winner.candidate.kind}:${x.out.winner.candidate.id}`,
                      score: x.out.winner.score,
                    }
                  : { why: x.out.reason }),
                arms: d.input.arms.map((a, k) => ({
                  strategy: a.strategy,
                  score: a.score,
                  prob: d.probs[k],
                  ...(a.anticipated ? { anticipated: true } : {}),
                })),
                none: d.probs[d.probs.length - 1],
                fatigue: d.input.user.fatigue,
              },
            },
          });
        }
      });
      pending = stale.length > 0 ? await conc.offersOf(stale) : new Map<string, UserOffers>();
    }
    await Promise.all([
      conc.recordScores(scoreSums),
      conc.countGroups(groups),
      conc.logDecisions(log),
      deps.state.telemetry.recordDrops(drops),
      deps.trace?.record(traced),
    ]);
    return book.length ? [{ queue: 'sendTime' as const, payload: { userIds: book } }] : [];
  };
}

/**
 * What the policy would have made of a held-out user's offer, logged with outcome `holdout`; null when the
 * offer could not have been sent anyway (its candidate ended).
 */
function heldOutDecision(
  userId: string,
  w: Winner,
  bandit: BanditCounters,
  now: number,
  policy: PolicyConfig,
  reason: string,
): Decision | null {
  const r = decideUser(
    {
      userId,
      timeZone: 'UTC',
      now,
      offers: [w],
      engagement: { delivered: 0, opened: 0, clicked: 0, fatigue: 0 },
      contacts: [],
      bandit,
      anticipated: [],
    },
    { all: { day: 0, week: 0 }, strategy: {} },
    policy,
  );
  return r.decision ? { ...r.decision, outcome: 'holdout', reason } : null;
}
