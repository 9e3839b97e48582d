/** Starts Herald's real worker processes (node dist/workers/...) with a test's environment. */
import { startChild, type Child } from '../../shared/process';
import { WORKERS, metricsPort, workerPath, type WorkerName } from '../../shared/workers';

export const ALL_WORKERS: readonly WorkerName[] = WORKERS;

/** A worker process; `output()` holds its last 20,000 characters of stdout and stderr. */
export interface RunningWorker extends Child {
  readonly name: WorkerName;
}

export function startWorker(
  name: WorkerName,
  vars: Record<string, string>,
  args: string[] = [],
): RunningWorker {
  const worker = startChild(process.execPath, {
    name,
    args: [workerPath(name), ...args],
    env: vars,
    output: { tail: 20_000 },
  });
  return Object.assign(worker, { name });
}

export class Workers {
  readonly running = new Map<WorkerName, RunningWorker>();
  constructor(private readonly vars: Record<string, string>) {}

  start(names: readonly WorkerName[] = ALL_WORKERS): this {
    const base = Number(this.vars.METRICS_PORT ?? 0);
    for (const n of names) {
      this.running.set(n, startWorker(n, { ...this.vars, METRICS_PORT: String(metricsPort(base, n)) }));
    }
    return this;
  }

  /** SIGKILL: no shutdown, no lock released, no offset committed. */
  async kill(name: WorkerName): Promise<void> {
    const w = this.running.get(name);
    if (!w) return;
    await w.kill();
    this.running.delete(name);
  }

  async stop(): Promise<void> {
    // No SIGKILL: each worker bounds its own shutdown, and a test that hangs here has found a bug.
    await Promise.all([...this.running.values()].map((w) => w.stop(Infinity)));
    this.running.clear();
  }

  logs(): string {
    return [...this.running.values()].map((w) => `--- ${w.name}\n${w.output()}`).join('\n');
  }
}
