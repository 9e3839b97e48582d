/**
 * Child processes of the benchmark (Herald's workers, the naive workers, its own redis-server): started
 * through shared/process with their output in a log file, measured here from /proc (peak RSS, CPU), and
 * stopped with SIGTERM. shared/process registers every child, so a failing or interrupted benchmark still
 * stops all of them, one by one, by pid.
 */
import { readFileSync } from 'node:fs';
import { liveChildren, signalAllChildrenSync, startChild, type Child } from '../../shared/process';
import { waitFor } from '../../shared/wait';

export interface Proc extends Child {
  logFile: string;
}

export function startProc(
  name: string,
  command: string,
  args: readonly string[],
  env: Record<string, string>,
  logFile: string,
): Proc {
  try {
    // The registered child itself, not a copy: bench.ts tells its own processes apart by identity.
    return Object.assign(startChild(command, { name, args, env, output: { logFile } }), { logFile });
  } catch {
    throw new Error(`bench: could not start ${name} (${command})`);
  }
}

/** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
export function stopProc(p: Child, graceMs = 35_000): Promise<number | null> {
  return p.stop(graceMs);
}

export async function stopProcs(procs: readonly Child[]): Promise<void> {
  await Promise.all(procs.map((p) => stopProc(p)));
}

/** For the exit path: a synchronous SIGTERM to each child still running. */
export function killLiveSync(): void {
  signalAllChildrenSync('SIGTERM');
}

/** The benchmark's children still running (the benchmark starts children only through startProc). */
export function liveProcs(): Child[] {
  return liveChildren();
}

/** For waitFor's `abort`: fails a wait at once when one of `procs` has exited, naming it and its log. */
export function anyExited(procs: readonly Proc[]): () => Error | undefined {
  return () => {
    const dead = procs.find((p) => p.hasExited());
    return dead ? new Error(`bench: ${dead.name} exited at start; see ${dead.logFile}`) : undefined;
  };
}

export interface MemStatus {
  /** Peak resident set (VmHWM), bytes. */
  hwm: number;
  /** Current resident set (VmRSS), bytes. */
  rss: number;
}

export function memStatus(pid: number): MemStatus | null {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) =>
      Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024;
    return { hwm: kb('VmHWM'), rss: kb('VmRSS') };
  } catch {
    return null;
  }
}

/** CPU seconds (user + system) a process has used so far; assumes the usual 100 clock ticks per second. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces; fields are counted after its closing parenthesis.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / 100;
  } catch {
    return NaN;
  }
}

/** Waits until `p` writes `text` to its log or exits. */
export async function waitForLog(p: Proc, text: string, timeoutMs: number): Promise<void> {
  await waitFor(
    () => {
      try {
        return readFileSync(p.logFile, 'utf8').includes(text);
      } catch {
        return false; // not written yet
      }
    },
    `${p.name} to log "${text}" (see ${p.logFile})`,
    {
      timeoutMs,
      intervalMs: 50,
      abort: () =>
        p.hasExited() ? new Error(`bench: ${p.name} exited before "${text}"; see ${p.logFile}`) : undefined,
    },
  );
}

export function tailLog(p: Proc, chars = 2000): string {
  try {
    return readFileSync(p.logFile, 'utf8').slice(-chars);
  } catch {
    return '';
  }
}

/** CPU seconds the whole machine has spent busy (all cores; not idle, not iowait) since boot. */
export function machineBusySeconds(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return (total - (f[3] ?? 0) - (f[4] ?? 0)) / 100;
  } catch {
    return NaN;
  }
}
