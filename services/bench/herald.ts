/**
 * Driving Herald from the outside, as the integration tests do: its real worker processes (node
 * dist/workers/<name>/<name>.worker.js) with their own prefixes, plus what the benchmark reads about them:
 * job counts per stage, per-stage timing from the completed jobs' timestamps, peak RSS and CPU per process.
 */
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { createQueues, type Queues } from '../../shared/queue-factory';
import type { QueueKey } from '../../shared/queue-catalog';
import { waitFor } from '../../shared/wait';
import { workerPath } from '../../shared/workers';
import { profilesIn, renderProfile, summarizeProfile, type ProfileSummary } from './cpu-profile';
import { anyExited, cpuSeconds, memStatus, startProc, stopProcs, type Proc } from './procs';
import { distribution, type Distribution } from './util';

/** The stage processes of a campaign, in pipeline order, with the queue each one takes. */
export const STAGES = [
  { worker: 'scheduler', queue: 'campaigns' },
  { worker: 'target', queue: 'target' },
  { worker: 'audience', queue: 'audience' },
  { worker: 'filter', queue: 'filter' },
  { worker: 'score', queue: 'score' },
  { worker: 'conciliate', queue: 'conciliate' },
  { worker: 'send-time', queue: 'sendTime' },
] as const satisfies ReadonlyArray<{ worker: string; queue: QueueKey }>;

export type HeraldWorker = (typeof STAGES)[number]['worker'] | 'ingest' | 'feedback' | 'scheduler';

export interface HeraldEnv {
  redisUrl: string;
  prefix: string;
  topicPrefix: string;
  brokers: string;
  concurrency: number;
  extra?: Record<string, string>;
}

export function heraldVars(e: HeraldEnv): Record<string, string> {
  return {
    REDIS_URL: e.redisUrl,
    KAFKA_BROKERS: e.brokers,
    HERALD_PREFIX: e.prefix,
    KAFKA_TOPIC_PREFIX: e.topicPrefix,
    KAFKA_GROUP_PREFIX: e.prefix,
    STAGE_CONCURRENCY: String(e.concurrency),
    LOG_LEVEL: 'warn',
    // The bench starts its campaigns itself; a cron tick of its own must not add one mid-measurement.
    DAILY_SALE_CRON: '0 0 1 1 *',
    CAMPAIGN_CATCHUP_MINUTES: '1',
    ...e.extra,
  };
}

/** Starts Herald's worker processes; with `profileDir`, each under `node --cpu-prof` into its own folder. */
export function startWorkers(
  names: readonly HeraldWorker[],
  vars: Record<string, string>,
  logDir: string,
  profileDir?: string,
): Proc[] {
  return names.map((n) => {
    const prof = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileFolder(profileDir, vars, n)}`] : [];
    return startProc(
      n,
      process.execPath,
      [...prof, workerPath(n)],
      vars,
      join(logDir, `${vars.HERALD_PREFIX}-${n}.log`),
    );
  });
}

export function profileFolder(profileDir: string, vars: Record<string, string>, name: string): string {
  return join(profileDir, `${vars.HERALD_PREFIX}-${name}`);
}

/** After the processes have exited: where each one's CPU went. */
export function readProfiles(
  profileDir: string | undefined,
  vars: Record<string, string>,
  names: readonly string[],
): Record<string, ProfileSummary> {
  const out: Record<string, ProfileSummary> = {};
  if (!profileDir) return out;
  for (const n of names) {
    const file = profilesIn(profileFolder(profileDir, vars, n))[0];
    if (!file) continue;
    try {
      out[n] = summarizeProfile(file);
      process.stdout.write(`${renderProfile(n, out[n])}\n`);
    } catch (err) {
      process.stdout.write(`${n}: unreadable profile ${file}: ${String(err)}\n`);
    }
  }
  return out;
}

/** Waits until every stage queue named has a BullMQ worker connected (the process is up and polling). */
export async function waitForStageWorkers(
  queues: Queues,
  keys: readonly QueueKey[],
  procs: readonly Proc[],
): Promise<void> {
  await waitFor(
    async () => {
      const counts = await Promise.all(keys.map((k) => queues[k].getWorkersCount()));
      return counts.every((c) => c > 0);
    },
    `workers of ${keys.join(', ')}`,
    { timeoutMs: 60_000, intervalMs: 100, abort: anyExited(procs) },
  );
}

export interface StageCounts {
  completed: number;
  pending: number;
  failed: number;
}

export async function stageCounts(
  queues: Queues,
  keys: readonly QueueKey[],
): Promise<Record<string, StageCounts>> {
  const out: Record<string, StageCounts> = {};
  await Promise.all(
    keys.map(async (k) => {
      const c = await queues[k].getJobCounts(
        'completed',
        'waiting',
        'active',
        'delayed',
        'prioritized',
        'failed',
      );
      out[k] = {
        completed: c.completed ?? 0,
        pending: (c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0),
        failed: c.failed ?? 0,
      };
    }),
  );
  return out;
}

export function countsLine(counts: Record<string, StageCounts>): string {
  return Object.entries(counts)
    .map(
      ([k, c]) => `${k} ${c.completed}${c.pending ? `+${c.pending}` : ''}${c.failed ? ` !${c.failed}` : ''}`,
    )
    .join(' | ');
}

export interface StageTiming {
  jobs: number;
  /** ms from the trigger to the stage's first job start and last job end. */
  firstStartMs: number;
  lastEndMs: number;
  /** Sum of (finishedOn - processedOn) over its jobs, seconds: time jobs were being worked on. */
  busyS: number;
  /** busy / (span x concurrency): near 1 means the stage's worker was never idle. */
  utilisation: number;
  /** ms a job ran (processedOn -> finishedOn). */
  runMs: Distribution;
  /** ms a job waited in its queue (timestamp -> processedOn). */
  waitMs: Distribution;
}

/** Per-stage timing read from the completed jobs' hashes (timestamp, processedOn, finishedOn). */
export async function stageTimings(
  redis: Redis,
  queues: Queues,
  keys: readonly QueueKey[],
  t0: number,
  concurrency: number,
  /** Only jobs added in [from, to) (epoch ms). */
  window: { from: number; to: number } = { from: -Infinity, to: Infinity },
): Promise<Record<string, StageTiming>> {
  const out: Record<string, StageTiming> = {};
  for (const k of keys) {
    const q = queues[k];
    const ids = await redis.zrange(q.toKey('completed'), 0, -1);
    const rows: Array<[number, number, number]> = [];
    for (let i = 0; i < ids.length; i += 1000) {
      const p = redis.pipeline();
      for (const id of ids.slice(i, i + 1000)) p.hmget(q.toKey(id), 'timestamp', 'processedOn', 'finishedOn');
      for (const [err, v] of (await p.exec()) ?? []) {
        if (err) throw err;
        const [ts, start, end] = (v as Array<string | null>).map(Number);
        if (!Number.isFinite(ts) || !Number.isFinite(start) || !Number.isFinite(end)) continue;
        if (ts! >= window.from && ts! < window.to) rows.push([ts!, start!, end!]);
      }
    }
    if (rows.length === 0) continue;
    const first = Math.min(...rows.map((r) => r[1]));
    const last = Math.max(...rows.map((r) => r[2]));
    const busy = rows.reduce((a, r) => a + (r[2] - r[1]), 0);
    out[k] = {
      jobs: rows.length,
      firstStartMs: first - t0,
      lastEndMs: last - t0,
      busyS: busy / 1000,
      utilisation: last > first ? busy / ((last - first) * concurrency) : 0,
      runMs: distribution(rows.map((r) => r[2] - r[1])),
      waitMs: distribution(rows.map((r) => r[1] - r[0])),
    };
  }
  return out;
}

export interface ProcFigures {
  /** RSS right after start, before any work, bytes. */
  idleRss: number;
  /** Peak RSS (VmHWM) before stopping, bytes. */
  peakRss: number;
  /** CPU seconds used during the measured window. */
  cpuS: number;
}

/** Memory and CPU bookkeeping of a set of processes over a measured window. */
export class ProcMeter {
  private readonly idle = new Map<number, number>();
  private readonly cpuAtStart = new Map<number, number>();
  constructor(private readonly procs: readonly Proc[]) {}

  /** Call once they are up and idle, right before the measured work. */
  start(): void {
    for (const p of this.procs) {
      this.idle.set(p.pid, memStatus(p.pid)?.rss ?? NaN);
      this.cpuAtStart.set(p.pid, cpuSeconds(p.pid));
    }
  }

  /** Call before stopping them (VmHWM is gone once a process exits). */
  read(): Record<string, ProcFigures> {
    const out: Record<string, ProcFigures> = {};
    for (const p of this.procs) {
      out[p.name] = {
        idleRss: this.idle.get(p.pid) ?? NaN,
        peakRss: memStatus(p.pid)?.hwm ?? NaN,
        cpuS: cpuSeconds(p.pid) - (this.cpuAtStart.get(p.pid) ?? NaN),
      };
    }
    return out;
  }
}

export { createQueues, stopProcs };
