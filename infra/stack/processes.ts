/**
 * Processes the stack did not necessarily start itself (a detached broker from an earlier run, a
 * daemonized redis-server), known only by pid: stopped, checked for life, recognised by their command line.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { sleep, waitFor } from '../../shared/wait';
import { StackError } from './util';

/** SIGTERM, wait, SIGKILL after `timeoutMs` as a last resort. Resolves once the process is gone. */
export async function stopProcess(pid: number, timeoutMs: number): Promise<'SIGTERM' | 'SIGKILL'> {
  if (!signal(pid, 'SIGTERM')) return 'SIGTERM';
  if (await waitForExit(pid, timeoutMs)) return 'SIGTERM';
  signal(pid, 'SIGKILL');
  if (await waitForExit(pid, 10_000)) return 'SIGKILL';
  throw new StackError(`process ${pid} survived SIGKILL`);
}

function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const exited = await waitFor(() => !isAlive(pid), `process ${pid} to exit`, { timeoutMs }).then(
    () => true,
    () => false,
  );
  if (!exited) return false;
  // Dead already; give init a moment to reap it (some reap every couple of seconds), so `pgrep java` right
  // after `down` shows nothing.
  const reaped = Date.now() + 3_000;
  while (fs.existsSync(`/proc/${pid}`) && Date.now() < reaped) await sleep(50);
  return true;
}

/** Alive and not a zombie (a zombie answers signal 0 until its parent reaps it). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** The process's argv on Linux; undefined where /proc is not there or not readable. */
export function commandLine(pid: number): string[] | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
}

export function readPid(file: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function portAnswers(host: string, port: number): Promise<boolean> {
  if (!Number.isInteger(port) || port < 1 || port > 65535) return Promise.resolve(false);
  return new Promise((resolve) => {
    const socket = net.connect({ host: host.replace(/^\[|\]$/g, ''), port });
    const done = (answers: boolean) => {
      socket.destroy();
      resolve(answers);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
