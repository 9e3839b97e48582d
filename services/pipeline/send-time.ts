/**
 * Send-time booking: each user whose winner changed is booked into the due set at the instant of their
 * delivery. No delayed job per user (DESIGN rule 2): one sorted set, read in due order by the dispatcher.
 */
import type { StageHandler } from '../../shared/stage';
import type { StateStore } from '../state/state-store';
import { dueTime, type SendMode } from '../timing/send-time';

export function createSendTimeStage(deps: {
  store: Pick<StateStore, 'getUsers' | 'getWinners' | 'book'>;
  now: () => number;
  mode: SendMode;
  localHour: number;
}): StageHandler<'sendTime'> {
  return async ({ userIds }) => {
    const [users, winners] = await Promise.all([
      deps.store.getUsers(userIds),
      deps.store.getWinners(userIds),
    ]);
    const now = deps.now();
    const entries: Array<{ userId: string; due: number }> = [];
    for (const userId of userIds) {
      const user = users.get(userId);
      const winner = winners.get(userId);
      if (!user || !winner) continue;
      entries.push({
        userId,
        due: dueTime({
          now,
          tz: user.timeZone,
          mode: deps.mode,
          localHour: deps.localHour,
          deadline: winner.candidate.deadline,
        }),
      });
    }
    await deps.store.book(entries);
    return [];
  };
}
