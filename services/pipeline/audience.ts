/**
 * Audience: which users. A trigger's target is its one user; a campaign pages through every user by cursor,
 * `pagesPerJob` pages per job, and the job hands the cursor on to the next one. Never all users in memory.
 */
import { stableId } from '../../shared/ids';
import type { Outgoing } from '../../shared/queue-factory';
import type { StageHandler } from '../../shared/stage';
import type { Group, Target } from '../../shared/schemas/jobs.schema';
import type { UsersStore } from '../state';

export function createAudienceStage(deps: {
  users: Pick<UsersStore, 'pageUsers'>;
  batchSize: number;
  pagesPerJob: number;
}): StageHandler<'audience'> {
  return async ({ targets }) => {
    const out: Array<Omit<Outgoing, 'id'> & { id?: string }> = [];
    const singles: Group[] = [];
    for (const t of targets) {
      if (t.audience.kind === 'user') {
        singles.push(groupOf(t, [t.audience.userId]));
        continue;
      }
      let after = t.audience.after;
      let page = t.audience.page;
      let full = true;
      for (let i = 0; i < deps.pagesPerJob && full; i++, page++) {
        const userIds = await deps.users.pageUsers(after, deps.batchSize);
        full = userIds.length === deps.batchSize;
        if (userIds.length === 0) break;
        after = userIds[userIds.length - 1]!;
        out.push({
          queue: 'filter',
          id: stableId('filter', t.targetId, page),
          payload: { groups: [groupOf(t, userIds)] },
        });
      }
      if (full) {
        out.push({
          queue: 'audience',
          id: stableId('audience', t.targetId, page),
          payload: { targets: [{ ...t, audience: { kind: 'all', after, page } }] },
        });
      }
    }
    for (let i = 0; i < singles.length; i += deps.batchSize) {
      out.push({ queue: 'filter', payload: { groups: singles.slice(i, i + deps.batchSize) } });
    }
    return out;
  };
}

function groupOf(t: Target, userIds: string[]): Group {
  return { strategy: t.strategy, targetId: t.targetId, at: t.at, candidates: t.candidates, userIds };
}
