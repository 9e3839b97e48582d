/**
 * Conciliate: across strategies, keeps each user's one winning candidate for the contact window (an atomic
 * compare-and-set per user), then books the users whose winner changed for delivery. Delivery reads the
 * winner when it sends (late binding), so a better candidate that arrives after booking still wins.
 */
import { stableId } from '../../shared/ids';
import type { StageHandler } from '../../shared/stage';
import type { CandidatePick, Winner } from '../../shared/schemas/jobs.schema';
import type { DecisionsStore } from '../state';

/** The decision id is the push id: the same trigger for the same user always yields the same push. */
export function decisionId(strategy: string, targetId: string, userId: string): string {
  return stableId('push', strategy, targetId, userId);
}

/** Pure: the winner offers of a batch of picks. */
export function offers(picks: readonly CandidatePick[]): Array<{ userId: string; winner: Winner }> {
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
      },
    })),
  );
}

export function createConciliateStage(deps: {
  decisions: Pick<DecisionsStore, 'offerWinners'>;
}): StageHandler<'conciliate'> {
  return async ({ picks }) => {
    const won = await deps.decisions.offerWinners(offers(picks));
    const userIds = [...new Set(won)];
    return userIds.length ? [{ queue: 'sendTime' as const, payload: { userIds } }] : [];
  };
}
