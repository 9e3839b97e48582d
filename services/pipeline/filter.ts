/**
 * Filter: drops the users Herald must not push, and records why: unknown (no profile yet), opted out, no
 * device, not opted in to location-based pushes (for a strategy that needs it), already contacted in this
 * window, or every candidate past its deadline.
 */
import type { StageHandler } from '../../shared/stage';
import type { Group } from '../../shared/schemas/jobs.schema';
import type { DropRecord, State, Tracer, UserState } from '../state';

export type DropReason =
  'unknown_user' | 'opted_out' | 'no_device' | 'no_location_opt_in' | 'cooldown' | 'expired';

export function dropReason(
  user: UserState | undefined,
  contacted: boolean,
  needsLocationOptIn = false,
): DropReason | null {
  if (!user) return 'unknown_user';
  if (!user.optIn) return 'opted_out';
  if (user.devices.length === 0) return 'no_device';
  if (needsLocationOptIn && user.locationOptIn !== true) return 'no_location_opt_in';
  if (contacted) return 'cooldown';
  return null;
}

/** Pure: the group's users split into those kept and those dropped, with the reason. */
export function filterGroup(
  group: Group,
  users: ReadonlyMap<string, UserState>,
  contacted: ReadonlySet<string>,
  now: number,
  needsLocationOptIn = false,
): { kept: Group | null; drops: DropRecord[] } {
  const candidates = group.candidates.filter((c) => c.deadline === undefined || c.deadline > now);
  const drops: DropRecord[] = [];
  const keptIds: string[] = [];
  for (const userId of group.userIds) {
    const reason =
      candidates.length === 0
        ? 'expired'
        : dropReason(users.get(userId), contacted.has(userId), needsLocationOptIn);
    if (reason) drops.push({ userId, reason, strategy: group.strategy, targetId: group.targetId });
    else keptIds.push(userId);
  }
  return { kept: keptIds.length ? { ...group, candidates, userIds: keptIds } : null, drops };
}

export function createFilterStage(deps: {
  state: Pick<State, 'users' | 'delivery' | 'telemetry'>;
  now: () => number;
  /**
   * A user whose contact window ends within this long still passes: send-time books them after it ends
   * (predicted send times plan hours ahead). Default 0: any open window drops the user.
   */
  cooldownGraceMs?: number;
  /** Records each traced user's drop and its reason for `explain`. */
  trace?: Tracer;
  /** Whether a strategy's pushes need the user's location opt-in. Default: none does. */
  needsLocationOptIn?: (strategy: string) => boolean;
}): StageHandler<'filter'> {
  const { users: userStore, delivery, telemetry } = deps.state;
  const grace = deps.cooldownGraceMs ?? 0;
  return async ({ groups }, ctx) => {
    const ids = [...new Set(groups.flatMap((g) => g.userIds))];
    const now = deps.now();
    const [users, contacted] = await Promise.all([
      userStore.getUsers(ids),
      grace > 0
        ? delivery
            .windowEnds(ids, now)
            .then((ends) => new Set([...ends].filter(([, end]) => end > now + grace).map(([u]) => u)))
        : delivery.contacted(ids),
    ]);
    const kept: Group[] = [];
    const drops: DropRecord[] = [];
    for (const g of groups) {
      const r = filterGroup(g, users, contacted, now, deps.needsLocationOptIn?.(g.strategy) ?? false);
      if (r.kept) kept.push(r.kept);
      drops.push(...r.drops);
    }
    // A fan-out pages through the users index: who it finds without a profile (expired) leaves the index.
    const expired = drops.filter((d) => d.reason === 'unknown_user').map((d) => d.userId);
    const traced = deps.trace
      ? drops
          .filter((d) => deps.trace!.traced(d.userId, ctx.lane))
          .map((d) => ({
            userId: d.userId,
            entry: {
              stage: 'filter' as const,
              what: 'dropped',
              strategy: d.strategy,
              targetId: d.targetId,
              detail: { reason: d.reason },
            },
          }))
      : [];
    await Promise.all([
      telemetry.recordDrops(drops),
      userStore.forgetUsers(expired),
      deps.trace?.record(traced),
    ]);
    return kept.length ? [{ queue: 'score' as const, payload: { groups: kept } }] : [];
  };
}
