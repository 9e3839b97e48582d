/**
 * Runs every worker as its own process, for local use. A worker that dies is started again after a second;
 * SIGTERM or SIGINT stops them all (each finishes its active jobs).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const WORKERS = [
  'ingest',
  'target',
  'audience',
  'filter',
  'score',
  'conciliate',
  'send-time',
  'feedback',
  'scheduler',
] as const;
export type WorkerName = (typeof WORKERS)[number];

export function workerPath(name: WorkerName): string {
  return join(__dirname, name, `${name}.worker.js`);
}

function main() {
  const children = new Map<WorkerName, ChildProcess>();
  let stopping = false;
  const start = (name: WorkerName) => {
    const child = spawn(process.execPath, [workerPath(name), ...process.argv.slice(2)], { stdio: 'inherit' });
    children.set(name, child);
    child.on('exit', (code, signal) => {
      children.delete(name);
      if (stopping) {
        if (children.size === 0) process.exit(0);
        return;
      }
      process.stderr.write(`worker ${name} exited (${signal ?? code}); restarting in 1 s\n`);
      setTimeout(() => start(name), 1000).unref();
    });
  };
  for (const w of WORKERS) start(w);
  const stop = () => {
    stopping = true;
    for (const c of children.values()) c.kill('SIGTERM');
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (require.main === module) main();
