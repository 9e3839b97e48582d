/**
 * Send-time booking: each user whose winner changed is booked into the due set at the instant of their
 * delivery. No delayed job per user (DESIGN rule 2): one sorted set, read in due order by the dispatcher.
 */
import type { StageHandler } from '../../shared/stage';
import type { State } from '../state';
import { dueTime, type SendMode } from '../timing/send-time';

export function createSendTimeStage(deps: {
  state: Pick<State, 'users' | 'decisions' | 'delivery'>;
  now: () => number;
  mode: SendMode;
  localHour: number;
  /** Called after a batch is booked, so delivery need not wait for its next poll. */
  onBooked?: () => void;
}): StageHandler<'sendTime'> {
  return async ({ userIds }, ctx) => {
    const [users, winners] = await Promise.all([
      deps.state.users.getUsers(userIds),
      deps.state.decisions.getWinners(userIds),
    ]);
    const now = deps.now();
    const entries: Array<{ userId: string; due: number }> = [];
    // `now` is fixed for the batch, so the due instant depends on the zone and deadline alone; luxon is
    // the costliest step of a campaign, so each pair is computed once.
    const dues = new Map<string, number>();
    for (const userId of userIds) {
      const user = users.get(userId);
      const winner = winners.get(userId);
      if (!user || !winner) continue;
      const deadline = winner.candidate.deadline;
      const key = `${user.timeZone}|${deadline ?? ''}`;
      let due = dues.get(key);
      if (due === undefined) {
        due = dueTime({ now, tz: user.timeZone, mode: deps.mode, localHour: deps.localHour, deadline });
        dues.set(key, due);
      }
      entries.push({ userId, due });
    }
    await deps.state.delivery.book(entries, ctx.lane);
    if (entries.length > 0) deps.onBooked?.();
    return [];
  };
}
