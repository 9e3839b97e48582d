/**
 * The worker processes: their names and where their compiled entry points are. Each name is a folder under
 * workers/ and a service in docker-compose.yml; renaming one means renaming both.
 */
import { dirname, join } from 'node:path';

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

/**
 * The dist/ folder: this file's grandparent when it runs compiled (dist/shared/workers.js), or
 * <repo>/dist when it runs from source (jest transpiles shared/workers.ts in place, and workers are only
 * ever started compiled).
 */
function distRoot(): string {
  const parent = dirname(__dirname);
  return __filename.endsWith('.js') ? parent : join(parent, 'dist');
}

/** The compiled entry point of a worker: dist/workers/<name>/<name>.worker.js. */
export function workerPath(name: WorkerName): string {
  return join(distRoot(), 'workers', name, `${name}.worker.js`);
}

/** The compiled launcher of every worker: dist/workers/run-all.js. */
export function runAllPath(): string {
  return join(distRoot(), 'workers', 'run-all.js');
}

/**
 * The /metrics port of a worker when several run on one host: `base` plus the worker's index in WORKERS;
 * 0 stays 0 (no metrics).
 */
export function metricsPort(base: number, name: WorkerName): number {
  return base > 0 ? base + WORKERS.indexOf(name) : 0;
}
