/**
 * Conciliate: across strategies, keeps each user's one winning candidate for the contact window (an atomic
 * compare-and-set per user), then books the users whose winner changed for delivery. Delivery reads the
 * winner when it sends (late binding), so a better candidate that arrives after booking still wins.
 */
import { stableId } from '../../shared/ids';
import type { StageHandler } from '../../shared/stage';
import type { CandidatePick, Winner } from '../../shared/schemas/jobs.schema';
import type { DecisionsStore, Tracer } from '../state';
import type { Lane } from '../../shared/queue-factory';

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
