/**
 * Child processes, started and stopped one way everywhere (the worker launcher, the demo, the simulator,
 * the tests, the benchmark): spawned with the caller's environment over this process's, output kept where
 * the caller wants it, and stopped with SIGTERM (the child finishes its active work) before SIGKILL.
 *
 * Every child is registered while it runs, so an exit path can stop all of them, one by one, by pid, and
 * none outlives a failed or interrupted run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Where a child's stdout and stderr go: shared with this process (`inherit`), dropped (`ignore`), the last
 * `tail` characters kept in memory, or appended to `logFile` (its folder is created).
 */
export type ChildOutput = 'inherit' | 'ignore' | { tail: number } | { logFile: string };

export interface StartChildOptions {
  /** A short name for messages and logs. Default: the command's file name. */
  name?: string;
  /** Arguments of the command. Default none. */
  args?: readonly string[];
  /** Variables set over this process's environment. Default none (the child inherits process.env). */
  env?: Record<string, string>;
  /** Where its output goes. Default `{ tail: 20000 }`. */
  output?: ChildOutput;
  /** Working directory. Default this process's. */
  cwd?: string;
}

export interface Child {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves with the exit code once it has exited: null when a signal ended it, -1 when it could not run. */
  readonly exited: Promise<number | null>;
  hasExited(): boolean;
  /** How it exited (the signal's name or the exit code), or undefined while it runs. */
  exitStatus(): string | undefined;
  /** Its latest output with `{ tail }` output; '' otherwise. */
  output(): string;
  /**
   * SIGTERM, then SIGKILL if it has not exited after `graceMs` (Infinity: never). Resolves with the exit
   * code; at once if it has already exited. Default grace 30000 ms.
   */
  stop(graceMs?: number): Promise<number | null>;
  /** SIGKILL: no shutdown, nothing released or committed. Resolves once it has exited. */
  kill(): Promise<number | null>;
}

/** Keyed by the ChildProcess, so its exit handlers can deregister it before the handle exists. */
const live = new Map<ChildProcess, Child>();

/** Starts `command`. Throws if it cannot be spawned at all (no pid). */
export function startChild(command: string, options: StartChildOptions = {}): Child {
  const output = options.output ?? { tail: 20_000 };
  const name = options.name ?? command.split(/[\\/]/).pop() ?? command;
  const piped = typeof output === 'object';
  const child = spawn(command, [...(options.args ?? [])], {
    env: { ...process.env, ...options.env },
    cwd: options.cwd,
    stdio: piped ? ['ignore', 'pipe', 'pipe'] : ['ignore', output, output],
  });

  let tail = '';
  if (piped && 'logFile' in output) {
    mkdirSync(dirname(output.logFile), { recursive: true });
    const log = createWriteStream(output.logFile, { flags: 'a' });
    // end: false: both streams write to the one file; the first to end must not close it for the other.
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
  } else if (piped) {
    const keep = (b: Buffer) => {
      tail = (tail + b.toString()).slice(-output.tail);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }

  let status: string | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code, signal) => {
      status = `${signal ?? code}`;
      live.delete(child);
      resolve(code);
    });
    child.once('error', () => {
      // 'error' without 'exit': the command could not be run at all.
      if (status !== undefined) return;
      status = 'error';
      live.delete(child);
      resolve(-1);
    });
  });
  if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);

  const started: Child = {
    name,
    pid: child.pid,
    child,
    exited,
    hasExited: () => status !== undefined,
    exitStatus: () => status,
    output: () => tail,
    async stop(graceMs = 30_000) {
      if (status !== undefined) return exited;
      child.kill('SIGTERM');
      const timer = Number.isFinite(graceMs)
        ? setTimeout(() => {
            if (status === undefined) child.kill('SIGKILL');
          }, graceMs)
        : undefined;
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    async kill() {
      if (status === undefined) child.kill('SIGKILL');
      return exited;
    },
  };
  live.set(child, started);
  return started;
}

/** The children started here that have not exited yet. */
export function liveChildren(): Child[] {
  return [...live.values()];
}

/** Stops every live child (SIGTERM, then SIGKILL after `graceMs`) and waits for all of them. */
export async function stopAllChildren(graceMs?: number): Promise<void> {
  await Promise.all(liveChildren().map((c) => c.stop(graceMs)));
}

/** For an exit path, where nothing can be awaited: a synchronous SIGTERM to each live child. */
export function signalAllChildrenSync(signal: NodeJS.Signals = 'SIGTERM'): void {
  for (const c of live.values()) {
    try {
      c.child.kill(signal);
    } catch {
      // already gone
    }
  }
}
