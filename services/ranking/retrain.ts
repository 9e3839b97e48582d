/**
 * Scheduled retraining: on each tick of RETRAIN_CRON (Herald's clock, RETRAIN_TZ), the scheduler process
 * starts the trainer as a child process (`train --from-kafka --register`), so training never blocks the
 * scheduler's loop. Each tick fires once across replicas and restarts (the schedule store's memory, as for
 * campaigns), and a tick missed by more than the catch-up window is skipped. The trainer registers the
 * model and promotes it only through the gate.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Logger } from '../../shared/logger';
import type { ScheduleStore } from '../state';
import { lastTick } from '../campaigns/campaigns';

export const RETRAIN = 'retrain';

export interface RetrainDeps {
  cron: string;
  tz: string;
  now: () => number;
  catchupMs: number;
  schedule: Pick<ScheduleStore, 'fired' | 'markFired'>;
  /** Runs one retraining for the tick; resolves with the trainer's exit code. */
  run: (tick: number) => Promise<number>;
  logger: Pick<Logger, 'info' | 'error'>;
  /** The schedule's name (its ticks are remembered under it). Default RETRAIN. */
  name?: string;
  /** What is trained, for the log. Default 'the score model'. */
  what?: string;
}

/** One round of the schedule: starts the due tick's retraining, if any. Returns how many it started. */
export async function retrainRound(deps: RetrainDeps): Promise<number> {
  const now = deps.now();
  const tick = lastTick(deps.cron, deps.tz, now);
  if (tick === undefined || now - tick > deps.catchupMs) return 0;
  const name = deps.name ?? RETRAIN;
  const what = deps.what ?? 'the score model';
  if (await deps.schedule.fired(name, tick)) return 0;
  // Marked before it runs: a crash mid-training skips this tick rather than training twice.
  await deps.schedule.markFired(name, tick);
  deps.logger.info({ tick: new Date(tick).toISOString() }, `retraining ${what}`);
  void deps.run(tick).then(
    (code) =>
      code === 0
        ? deps.logger.info({ tick: new Date(tick).toISOString() }, `retraining ${what} done`)
        : deps.logger.error(
            { code },
            `retraining ${what} failed (trainer exit ${code}); what is in service stays`,
          ),
    (err: unknown) => deps.logger.error({ err: String(err) }, 'retraining could not start'),
  );
  return 1;
}

/** Runs `node dist/services/ranking/train.js --from-kafka --register --out <dir>/<tick>` with this env. */
export function spawnTrainer(
  outDir: string,
  env: NodeJS.ProcessEnv = process.env,
): (tick: number) => Promise<number> {
  return (tick) =>
    new Promise((resolve, reject) => {
      const stamp = new Date(tick).toISOString().replace(/[:.]/g, '-');
      const child = spawn(
        process.execPath,
        [join(__dirname, 'train.js'), '--from-kafka', '--register', '--json', '--out', join(outDir, stamp)],
        { env, stdio: ['ignore', 'ignore', 'inherit'] },
      );
      child.on('error', reject);
      child.on('exit', (code) => resolve(code ?? 1));
    });
}
