/**
 * Starts every worker as its own process (workers/run-all.js) with the given environment, for the demo
 * and the simulator.
 */
import { startChild } from '../../shared/process';
import { runAllPath } from '../../shared/workers';

export interface LaunchedWorkers {
  /** How the launcher exited (exit code or signal), or undefined while it runs. */
  exited(): string | undefined;
  /** SIGTERM (each worker finishes its active jobs), then wait for the exit; at once if it already exited. */
  stop(): Promise<void>;
}

export function launchWorkers(vars: Record<string, string>): LaunchedWorkers {
  const child = startChild(process.execPath, {
    name: 'run-all',
    args: [runAllPath()],
    env: vars,
    output: 'inherit',
  });
  return {
    exited: () => child.exitStatus(),
    async stop() {
      // No SIGKILL: run-all waits for its workers, and each bounds its own shutdown.
      await child.stop(Infinity);
    },
  };
}
