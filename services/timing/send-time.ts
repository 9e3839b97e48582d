/**
 * When to deliver: at once, or at a fixed local hour in the user's own time zone, DST-correct (luxon), and
 * never after the candidate's deadline.
 */
import { DateTime } from 'luxon';

export type FixedSendMode = 'immediate' | 'local-hour';

/**
 * The next instant at or after `now` when the wall clock in `tz` reads `hour`:00. On a spring-forward day
 * whose `hour` does not exist, luxon moves it forward past the gap; on a fall-back day it takes the first.
 */
export function nextLocalHour(now: number, tz: string, hour: number): number {
  const local = DateTime.fromMillis(now, { zone: tz });
  let at = local.set({ hour, minute: 0, second: 0, millisecond: 0 });
  if (at.toMillis() < now) at = local.plus({ days: 1 }).set({ hour, minute: 0, second: 0, millisecond: 0 });
  return at.toMillis();
}

export function dueTime(opts: {
  now: number;
  tz: string;
  mode: FixedSendMode;
  localHour: number;
  deadline?: number;
}): number {
  if (opts.mode === 'immediate') return opts.now;
  const at = nextLocalHour(opts.now, opts.tz, opts.localHour);
  // Late is worse than early: a push after its deadline is worthless.
  return opts.deadline !== undefined && at >= opts.deadline ? opts.now : at;
}
