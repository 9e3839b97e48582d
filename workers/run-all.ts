/**
 * Runs every worker as its own process, for local use. A worker that dies is started again after a second;
 * SIGTERM or SIGINT stops them all (each finishes its active jobs).
 */
import { startChild, type Child } from '../shared/process';
import { WORKERS, metricsPort, workerPath, type WorkerName } from '../shared/workers';

function main() {
  const children = new Map<WorkerName, Child>();
  let stopping = false;
  // Each worker serves /metrics on its own port, counting up from METRICS_PORT (0: none).
  const base = Number(process.env.METRICS_PORT ?? 9464);
  const start = (name: WorkerName) => {
    const child = startChild(process.execPath, {
      name,
      args: [workerPath(name), ...process.argv.slice(2)],
      env: { METRICS_PORT: String(metricsPort(base, name)) },
      output: 'inherit',
    });
    children.set(name, child);
    void child.exited.then(() => {
      children.delete(name);
      if (stopping) {
        if (children.size === 0) process.exit(0);
        return;
      }
      process.stderr.write(`worker ${name} exited (${child.exitStatus()}); restarting in 1 s\n`);
      setTimeout(() => start(name), 1000).unref();
    });
  };
  for (const w of WORKERS) start(w);
  const stop = () => {
    stopping = true;
    for (const c of children.values()) c.child.kill('SIGTERM');
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (require.main === module) main();
