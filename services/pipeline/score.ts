/**
 * Score: rates every (user, candidate) pair and keeps each user's best candidate within the strategy.
 * Users who picked the same candidate travel together, so a campaign's pick stays one compact group.
 */
import type { StageHandler } from '../../shared/stage';
import type { Candidate, CandidatePick, Group } from '../../shared/schemas/jobs.schema';
import type { StateStore, UserState } from '../state/state-store';

export type Scorer = (candidate: Candidate, user: UserState) => number;

/** Pure: each user's best candidate of the group, gathered per candidate. Ties go to the earlier candidate. */
export function scoreGroup(
  group: Group,
  users: ReadonlyMap<string, UserState>,
  scorer: Scorer,
): CandidatePick[] {
  const picks = new Map<string, CandidatePick>();
  for (const userId of group.userIds) {
    const user = users.get(userId);
    if (!user) continue;
    let best: Candidate | undefined;
    let bestScore = -Infinity;
    for (const c of group.candidates) {
      const s = scorer(c, user);
      if (s > bestScore) {
        best = c;
        bestScore = s;
      }
    }
    if (!best) continue;
    let pick = picks.get(best.id);
    if (!pick) {
      pick = {
        strategy: group.strategy,
        targetId: group.targetId,
        at: group.at,
        candidate: best,
        userIds: [],
        scores: [],
      };
      picks.set(best.id, pick);
    }
    pick.userIds.push(userId);
    pick.scores.push(Math.round(bestScore * 1e6) / 1e6);
  }
  return [...picks.values()];
}

export function createScoreStage(deps: {
  store: Pick<StateStore, 'getUsers'>;
  scorer: Scorer;
}): StageHandler<'score'> {
  return async ({ groups }) => {
    // Sale candidates are scored on the user's purchase mix; stores only need the profile.
    const categories = groups.some((g) => g.candidates.some((c) => c.kind === 'sale'));
    const users = await deps.store.getUsers([...new Set(groups.flatMap((g) => g.userIds))], { categories });
    const picks = groups.flatMap((g) => scoreGroup(g, users, deps.scorer));
    return picks.length ? [{ queue: 'conciliate' as const, payload: { picks } }] : [];
  };
}
