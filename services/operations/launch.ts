/**
 * Starts every worker as its own process (workers/run-all.js) with the given environment, for the demo
 * and the simulator.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export interface LaunchedWorkers {
  /** How the launcher exited (exit code or signal), or undefined while it runs. */
  exited(): string | undefined;
  /** SIGTERM (each worker finishes its active jobs), then wait for the exit; at once if it already exited. */
  stop(): Promise<void>;
}

/** The compiled launcher, whether the caller runs compiled (dist/) or from source (tests). */
function runAllPath(): string {
  const compiled = join(__dirname, '..', '..', 'workers', 'run-all.js');
  return existsSync(compiled) ? compiled : join(__dirname, '..', '..', 'dist', 'workers', 'run-all.js');
}

export function launchWorkers(vars: Record<string, string>): LaunchedWorkers {
  const child = spawn(process.execPath, [runAllPath()], {
    env: { ...process.env, ...vars },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  let how: string | undefined;
  const gone = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      how = `${signal ?? code}`;
      resolve();
    }),
  );
  return {
    exited: () => how,
    async stop() {
      if (how === undefined) child.kill('SIGTERM');
      await gone;
    },
  };
}
