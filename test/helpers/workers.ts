/** Starts Herald's real worker processes (node dist/workers/...) with a test's environment. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { WORKERS, type WorkerName } from '../../workers/run-all';

export const ALL_WORKERS: readonly WorkerName[] = WORKERS;

const root = join(__dirname, '..', '..');

export interface RunningWorker {
  name: WorkerName;
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

export function startWorker(
  name: WorkerName,
  vars: Record<string, string>,
  args: string[] = [],
): RunningWorker {
  const child = spawn(process.execPath, [join(root, 'dist', 'workers', name, `${name}.worker.js`), ...args], {
    env: { ...process.env, ...vars },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (b: Buffer) => {
    out = (out + b.toString()).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { name, child, output: () => out, exited };
}

export class Workers {
  readonly running = new Map<WorkerName, RunningWorker>();
  constructor(private readonly vars: Record<string, string>) {}

  start(names: readonly WorkerName[] = ALL_WORKERS): this {
    for (const n of names) this.running.set(n, startWorker(n, this.vars));
    return this;
  }

  /** SIGKILL: no shutdown, no lock released, no offset committed. */
  async kill(name: WorkerName): Promise<void> {
    const w = this.running.get(name);
    if (!w) return;
    w.child.kill('SIGKILL');
    await w.exited;
    this.running.delete(name);
  }

  async stop(): Promise<void> {
    const all = [...this.running.values()];
    for (const w of all) w.child.kill('SIGTERM');
    await Promise.all(all.map((w) => w.exited));
    this.running.clear();
  }

  logs(): string {
    return [...this.running.values()].map((w) => `--- ${w.name}\n${w.output()}`).join('\n');
  }
}
