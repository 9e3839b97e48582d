/**
 * Child processes of the benchmark (Herald's workers, the naive workers, its own redis-server): started
 * with their output in a log file, measured from /proc (peak RSS, CPU), and stopped with SIGTERM. Every
 * child is registered, so a failing or interrupted benchmark still stops all of them, one by one, by pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { sleep } from './util';

export interface Proc {
  name: string;
  pid: number;
  child: ChildProcess;
  exited: Promise<number | null>;
  hasExited(): boolean;
  logFile: string;
}

const live = new Set<Proc>();

export function startProc(
  name: string,
  command: string,
  args: readonly string[],
  env: Record<string, string>,
  logFile: string,
): Proc {
  mkdirSync(dirname(logFile), { recursive: true });
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(command, [...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  let done = false;
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => {
      done = true;
      live.delete(proc);
      resolve(code);
    });
    child.on('error', () => {
      done = true;
      live.delete(proc);
      resolve(-1);
    });
  });
  if (child.pid === undefined) throw new Error(`bench: could not start ${name} (${command})`);
  const proc: Proc = { name, pid: child.pid, child, exited, hasExited: () => done, logFile };
  live.add(proc);
  return proc;
}

/** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
export async function stopProc(p: Proc, graceMs = 35_000): Promise<number | null> {
  if (p.hasExited()) return p.exited;
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => {
    if (!p.hasExited()) p.child.kill('SIGKILL');
  }, graceMs);
  const code = await p.exited;
  clearTimeout(timer);
  return code;
}

export async function stopProcs(procs: readonly Proc[]): Promise<void> {
  await Promise.all(procs.map((p) => stopProc(p)));
}

/** For the exit path: a synchronous SIGTERM to each child still running. */
export function killLiveSync(): void {
  for (const p of live) {
    try {
      p.child.kill('SIGTERM');
    } catch {
      // already gone
    }
  }
}

export function liveProcs(): Proc[] {
  return [...live];
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
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (readFileSync(p.logFile, 'utf8').includes(text)) return;
    } catch {
      // not written yet
    }
    if (p.hasExited()) throw new Error(`bench: ${p.name} exited before "${text}"; see ${p.logFile}`);
    if (Date.now() > deadline) throw new Error(`bench: ${p.name} did not log "${text}"; see ${p.logFile}`);
    await sleep(50);
  }
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
