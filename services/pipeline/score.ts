/**
 * Score: rates every (user, candidate) pair on the features its strategy gives it, and keeps each user's
 * best candidate within the strategy. Users who picked the same candidate travel together, so a campaign's
 * pick stays one compact group.
 */
import { SchemaError } from '../../shared/errors';
import type { StageHandler } from '../../shared/stage';
import type { Candidate, CandidatePick, Group } from '../../shared/schemas/jobs.schema';
import type { CandidateFeatures, StrategyPlugin } from '../strategies';
import type { PlacesStore, Tracer, TraceInput, UsersStore, UserState } from '../state';
import { locationAt } from '../places/places';

export type Scorer = (candidate: Candidate, user: UserState, features: CandidateFeatures) => number;

/** Pure: each user's best candidate of the group, gathered per candidate. Ties go to the earlier candidate. */
export function scoreGroup(
  group: Group,
  users: ReadonlyMap<string, UserState>,
  strategy: Pick<StrategyPlugin, 'features' | 'usesPlaces'>,
  scorer: Scorer,
): CandidatePick[] {
  const picks = new Map<string, CandidatePick>();
  for (const userId of group.userIds) {
    const user = users.get(userId);
    if (!user) continue;
    // The distance is taken from where the user will be: their frequent place at the target's hour.
    const seen =
      strategy.usesPlaces && user.places ? { ...user, location: locationAt(user, group.at) } : user;
    let best: Candidate | undefined;
    let bestScore = -Infinity;
    for (const c of group.candidates) {
      const s = scorer(c, seen, strategy.features(c, seen));
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
  users: Pick<UsersStore, 'getUsers'>;
  /** Frequent places (at Herald's clock), read for the users of strategies that score from them. */
  places?: { store: Pick<PlacesStore, 'getPlaces'>; now: () => number };
  strategies: Map<string, StrategyPlugin>;
  scorer: Scorer;
  /** Records each traced user's pick and its score for `explain`. */
  trace?: Tracer;
}): StageHandler<'score'> {
  return async ({ groups }, ctx) => {
    const strategyOf = (g: Group) => {
      const s = deps.strategies.get(g.strategy);
      if (!s) throw new SchemaError(`group ${g.targetId}`, `unknown or disabled strategy ${g.strategy}`);
      return s;
    };
    // Only strategies whose features read the purchase mix pay for loading it.
    const categories = groups.some((g) => strategyOf(g).usesCategories === true);
    const users = await deps.users.getUsers([...new Set(groups.flatMap((g) => g.userIds))], { categories });
    const placed = [...new Set(groups.filter((g) => strategyOf(g).usesPlaces).flatMap((g) => g.userIds))];
    if (deps.places && placed.length > 0) {
      const places = await deps.places.store.getPlaces(placed, deps.places.now());
      for (const [id, list] of places) {
        const u = users.get(id);
        if (u) u.places = list;
      }
    }
    const picks = groups.flatMap((g) => scoreGroup(g, users, strategyOf(g), deps.scorer));
    if (deps.trace) {
      const traced: Array<{ userId: string; entry: TraceInput }> = [];
      const offered = new Map(groups.map((g) => [`${g.strategy}|${g.targetId}`, g.candidates.length]));
      for (const p of picks) {
        p.userIds.forEach((userId, i) => {
          if (!deps.trace!.traced(userId, ctx.lane)) return;
          traced.push({
            userId,
            entry: {
              stage: 'score',
              what: 'picked',
              strategy: p.strategy,
              targetId: p.targetId,
              detail: {
                candidate: `${p.candidate.kind}:${p.candidate.id}`,
                category: p.candidate.category,
                score: p.scores[i],
                of: offered.get(`${p.strategy}|${p.targetId}`) ?? 0,
              },
            },
          });
        });
      }
      await deps.trace.record(traced);
    }
    return picks.length ? [{ queue: 'conciliate' as const, payload: { picks } }] : [];
  };
}
