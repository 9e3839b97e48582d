/**
 * Send-time booking: each user whose winner changed is booked into a due set at the instant of their
 * delivery. No delayed job per user (DESIGN rule 2): one sorted set per lane, read in due order by the
 * dispatcher, which sends the winner of that moment (late binding).
 *
 * Modes: `immediate`; `local-hour` (a fixed hour in the user's zone); `predicted` (the user's best hour under
 * the engagement model, outside quiet hours, before the deadline and the end of the contact window; a
 * real-time push goes now unless a later hour is clearly better; a share of plans explore).
 */
import { DateTime } from 'luxon';
import type { StageHandler } from '../../shared/stage';
import type { Winner } from '../../shared/schemas/jobs.schema';
import type { DropRecord, State, Tracer, TraceInput, UserState } from '../state';
import {
  DEFAULT_ENGAGEMENT,
  alphaFromPrior,
  cohortPrior,
  effective,
  posteriorMean,
  seededRandom,
  type HourCounters,
} from '../timing/engagement';
import { planSend, type Plan, type QuietHours } from '../timing/plan';
import { dueTime } from '../timing/send-time';
import { capsAllowFrom, type CapsCheck } from '../conciliation/contact-rules';

export type SendMode = 'immediate' | 'local-hour' | 'predicted';

export interface PredictedOptions {
  quiet: QuietHours;
  explore: number;
  waitMargin: number;
  halfLifeDays: number;
  priorStrength: number;
  /** Clock ms of the contact window: a booking later than the winner lives would send nothing. */
  contactWindowMs: number;
}

/** What push.sent records of a predicted plan. */
export type PlanRecord = Pick<Plan, 'hour' | 'bestHour' | 'propensity' | 'explored'>;

/**
 * The last instant a push can go: the candidate's deadline, and the winner's life (it was offered a moment
 * ago and lives one contact window; a tenth of it is left as margin).
 */
export function latestSend(
  o: Pick<PredictedOptions, 'contactWindowMs'>,
  now: number,
  winner: Winner,
): number {
  return Math.min(winner.candidate.deadline ?? Infinity, now + 0.9 * o.contactWindowMs);
}

/**
 * The prior a user of a zone starts from: the zone's effective counters shrunk toward everyone's
 * (`cohortPrior`). The same for every user of the zone, so a batch computes it once per zone.
 */
export function zonePrior(zone: readonly number[], all: readonly number[]): number[] {
  return cohortPrior(zone, all, DEFAULT_ENGAGEMENT);
}

/** Pure: a user's plan from the model's counters, deterministic per push (a retry plans the same). */
export function predictedPlan(
  o: PredictedOptions,
  now: number,
  user: UserState,
  winner: Winner,
  /** The user's counters and their zone's prior (`zonePrior`). */
  counters: { user: HourCounters; prior: readonly number[] },
  lane: 'realtime' | 'bulk',
  /** The end of the user's open contact window, if one is open. */
  windowEnd?: number,
): Plan | null {
  const alpha = alphaFromPrior(
    effective(counters.user, now, o.halfLifeDays),
    counters.prior,
    o.priorStrength,
  );
  const rnd = seededRandom(winner.decisionId);
  return planSend({
    now,
    tz: user.timeZone,
    latest: latestSend(o, now, winner),
    ...(windowEnd !== undefined ? { notBefore: windowEnd } : {}),
    probs: posteriorMean(alpha),
    quiet: o.quiet,
    urgency: lane === 'realtime' ? 'now-if-good' : 'best',
    waitMargin: o.waitMargin,
    explore: o.explore,
    draws: [rnd(), rnd()],
    minuteOffset: Math.floor(rnd() * 30),
  });
}

export function createSendTimeStage(deps: {
  state: Pick<State, 'users' | 'decisions' | 'delivery' | 'timing' | 'telemetry'>;
  now: () => number;
  mode: SendMode;
  localHour: number;
  /** Required when mode is `predicted`. */
  predicted?: PredictedOptions;
  /** Called after a batch is booked, so delivery need not wait for its next poll. */
  onBooked?: () => void;
  /** Records each traced user's planned send (or why none) for `explain`. */
  trace?: Tracer;
  /** The caps: a predicted plan starts at the first instant they allow (contact-rules.ts). */
  caps?: CapsCheck;
}): StageHandler<'sendTime'> {
  return async ({ userIds }, ctx) => {
    const [users, winners] = await Promise.all([
      deps.state.users.getUsers(userIds),
      deps.state.decisions.getWinners(userIds),
    ]);
    const now = deps.now();
    const entries: Array<{ userId: string; due: number; plan?: string }> = [];
    const drops: DropRecord[] = [];
    const ready = userIds.flatMap((userId) => {
      const user = users.get(userId);
      const winner = winners.get(userId);
      return user && winner ? [{ userId, user, winner }] : [];
    });
    if (deps.mode === 'predicted') {
      const o = deps.predicted;
      if (!o) throw new Error('send-time: predicted mode needs its options');
      const [counters, windowEnds, history] = await Promise.all([
        deps.state.timing.read(ready.map((r) => ({ userId: r.userId, tz: r.user.timeZone }))),
        deps.state.delivery.windowEnds(
          ready.map((r) => r.userId),
          now,
        ),
        deps.caps?.contacts(
          ready.map((r) => r.userId),
          now,
        ),
      ]);
      // Priors are shared by the batch: decay and shrink each once.
      const all = effective(counters.all, now, o.halfLifeDays);
      const priors = new Map(
        [...counters.zone].map(([z, c]) => [z, zonePrior(effective(c, now, o.halfLifeDays), all)]),
      );
      for (const { userId, user, winner } of ready) {
        // Never before the user's open window ends, nor before the caps allow this strategy again.
        let notBefore = windowEnds.get(userId);
        if (deps.caps && history) {
          const allowed = capsAllowFrom(
            history.get(userId) ?? [],
            winner.strategy,
            Math.max(now, notBefore ?? now),
            latestSend(o, now, winner),
            user.timeZone,
            deps.caps.rules,
          );
          if (allowed === null) {
            drops.push({ userId, reason: 'capped', strategy: winner.strategy, targetId: winner.targetId });
            continue;
          }
          if (allowed > now) notBefore = allowed;
        }
        const plan = predictedPlan(
          o,
          now,
          user,
          winner,
          { user: counters.user.get(userId)!, prior: priors.get(user.timeZone)! },
          ctx.lane,
          notBefore,
        );
        if (!plan) {
          // Nothing left between the end of the user's open window (if any) and the latest send, or only quiet hours.
          const windowEnd = windowEnds.get(userId);
          const reason =
            windowEnd !== undefined && windowEnd >= latestSend(o, now, winner) ? 'cooldown' : 'quiet_hours';
          drops.push({ userId, reason, strategy: winner.strategy, targetId: winner.targetId });
          continue;
        }
        const record: PlanRecord = {
          hour: plan.hour,
          bestHour: plan.bestHour,
          propensity: plan.propensity,
          explored: plan.explored,
        };
        entries.push({ userId, due: plan.due, plan: JSON.stringify(record) });
      }
    } else {
      // `now` is fixed for the batch, so the due instant depends on the zone and deadline alone; luxon is
      // the costliest step of a campaign, so each pair is computed once.
      const dues = new Map<string, number>();
      for (const { userId, user, winner } of ready) {
        const deadline = winner.candidate.deadline;
        const key = `${user.timeZone}|${deadline ?? ''}`;
        let due = dues.get(key);
        if (due === undefined) {
          due = dueTime({ now, tz: user.timeZone, mode: deps.mode, localHour: deps.localHour, deadline });
          dues.set(key, due);
        }
        entries.push({ userId, due });
      }
    }
    await deps.state.delivery.book(entries, ctx.lane);
    await deps.state.telemetry.recordDrops(drops);
    if (deps.trace) {
      const traced: Array<{ userId: string; entry: TraceInput }> = [];
      const byUser = new Map(ready.map((r) => [r.userId, r]));
      for (const e of entries) {
        if (!deps.trace.traced(e.userId, ctx.lane)) continue;
        const r = byUser.get(e.userId)!;
        traced.push({
          userId: e.userId,
          entry: {
            stage: 'send-time',
            what: 'planned',
            strategy: r.winner.strategy,
            targetId: r.winner.targetId,
            detail: {
              mode: deps.mode,
              due: e.due,
              local: DateTime.fromMillis(e.due, { zone: r.user.timeZone }).toFormat('yyyy-MM-dd HH:mm ZZZZ'),
              timeZone: r.user.timeZone,
              ...(e.plan ? { plan: JSON.parse(e.plan) as unknown } : {}),
            },
          },
        });
      }
      for (const d of drops) {
        if (!deps.trace.traced(d.userId, ctx.lane)) continue;
        traced.push({
          userId: d.userId,
          entry: {
            stage: 'send-time',
            what: 'dropped',
            strategy: d.strategy,
            targetId: d.targetId,
            detail: { reason: d.reason },
          },
        });
      }
      for (const userId of userIds) {
        if (byUser.has(userId) || !deps.trace.traced(userId, ctx.lane)) continue;
        const why = users.has(userId) ? 'no winner any more (sent or expired)' : 'no profile';
        traced.push({ userId, entry: { stage: 'send-time', what: 'skipped', detail: { why } } });
      }
      await deps.trace.record(traced);
    }
    if (entries.length > 0) deps.onBooked?.();
    return [];
  };
}
