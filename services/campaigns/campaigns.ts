/**
 * Campaigns: strategies with a schedule (the daily sale) are started by the scheduler on Herald's Clock, so
 * a simulated day reaches them as a real one does. Each tick becomes a `campaigns` job (id from the strategy
 * and the tick instant), which the campaigns stage turns into the strategy's trigger. A tick fires once
 * across scheduler replicas and restarts; a tick missed while no scheduler ran fires when found within the
 * catch-up window. The trigger id is the strategy's (one per day for the daily sale), so the pushes of a
 * day's campaign keep their ids however often it is started, and the ledger sends each once.
 */
import { CronExpressionParser } from 'cron-parser';
import { ConfigError, SchemaError } from '../../shared/errors';
import { stableId } from '../../shared/ids';
import type { Logger } from '../../shared/logger';
import { BULK_PRIORITY, enqueue, type Queues } from '../../shared/queue-factory';
import type { StageHandler } from '../../shared/stage';
import type { StrategyPlugin } from '../strategies';
import type { ScheduleStore } from '../state';

/** The latest tick of `cron` in `tz` at or before `now`, or undefined when it has none. */
export function lastTick(cron: string, tz: string, now: number): number | undefined {
  try {
    const it = CronExpressionParser.parse(cron, { tz, currentDate: new Date(now + 1) });
    return it.hasPrev() ? it.prev().getTime() : undefined;
  } catch (err) {
    throw new ConfigError(`cron "${cron}" in ${tz} is invalid: ${(err as Error).message}`);
  }
}

/** The next tick of `cron` in `tz` after `now`. */
export function nextTick(cron: string, tz: string, now: number): number {
  return CronExpressionParser.parse(cron, { tz, currentDate: new Date(now) })
    .next()
    .getTime();
}

/** Starts `strategy`'s campaign for the tick `at`. Idempotent per (strategy, tick). Returns the job id. */
export async function startCampaign(
  queues: Queues,
  strategy: string,
  at: number,
  tz: string,
): Promise<string> {
  const id = stableId('campaign', strategy, at);
  await enqueue(queues, [
    { queue: 'campaigns', id, payload: { campaign: strategy, tz, at }, priority: BULK_PRIORITY },
  ]);
  return id;
}

/** Starts every scheduled strategy's campaign for the instant `at` (an operator's "now"). Returns the job ids. */
export async function startCampaignsNow(
  queues: Queues,
  strategies: Map<string, StrategyPlugin>,
  at: number,
): Promise<string[]> {
  const scheduled = [...strategies.values()].filter((s) => s.schedule);
  return Promise.all(scheduled.map((s) => startCampaign(queues, s.name, at, s.schedule!.tz)));
}

/** The campaigns stage: a tick becomes its strategy's trigger, in the bulk lane. */
export function createCampaignStage(deps: {
  strategies: Map<string, StrategyPlugin>;
}): StageHandler<'campaigns'> {
  return ({ campaign, tz, at }) => {
    const schedule = deps.strategies.get(campaign)?.schedule;
    if (!schedule) throw new SchemaError(`campaign ${campaign}`, 'no enabled strategy has this schedule');
    const trigger = schedule.trigger(at, tz);
    return Promise.resolve([
      {
        queue: 'target' as const,
        id: stableId('target', trigger.triggerId, at),
        payload: { triggers: [trigger] },
      },
    ]);
  };
}

export interface SchedulerDeps {
  strategies: Map<string, StrategyPlugin>;
  schedule: ScheduleStore;
  queues: Queues;
  now: () => number;
  /** A tick found later than this after its time is skipped (clock ms). */
  catchupMs: number;
  logger: Logger;
}

/** The scheduler's round: fires every scheduled strategy's latest tick that is due and not yet fired. */
export function createScheduler(deps: SchedulerDeps) {
  const scheduled = [...deps.strategies.values()].filter((s) => s.schedule);
  for (const s of scheduled) lastTick(s.schedule!.cron, s.schedule!.tz, deps.now()); // a bad cron fails at start
  return {
    scheduled: scheduled.map((s) => ({ strategy: s.name, cron: s.schedule!.cron, tz: s.schedule!.tz })),
    round: async (): Promise<number> => {
      const now = deps.now();
      let fired = 0;
      for (const s of scheduled) {
        const { cron, tz } = s.schedule!;
        const tick = lastTick(cron, tz, now);
        if (tick === undefined || now - tick > deps.catchupMs) continue;
        if (await deps.schedule.fired(s.name, tick)) continue;
        // Enqueue before marking: a crash in between re-enqueues the same job id, which BullMQ keeps once.
        await startCampaign(deps.queues, s.name, tick, tz);
        await deps.schedule.markFired(s.name, tick);
        deps.logger.info(
          {
            strategy: s.name,
            tick: new Date(tick).toISOString(),
            next: new Date(nextTick(cron, tz, now)).toISOString(),
          },
          'campaign started',
        );
        fired++;
      }
      return fired;
    },
  };
}
