/**
 * Failed jobs, read from BullMQ's failed sets: listed per stage with filters and a cursor, selected for a
 * replay, and put back on their queue. Jobs are read in pages, newest failure first, never all at once.
 */
import type { Job } from 'bullmq';
import { QUEUE_KEYS, type QueueKey } from '../../shared/queue-catalog';
import type { Queues } from '../../shared/queue-factory';
import type { FailedJobFilter, FailedJobView, Page } from './api';
import { OpsError } from './errors';
import { usersOfJob, type JobUsers } from './replay';

const SCAN = 200;

/** A failed job as the service works with it: the view the API shows, its users, the BullMQ job. */
export interface FailedEntry {
  view: FailedJobView;
  described: JobUsers;
  job: Job;
}

/** The users and strategies of a job, or none when its payload fails its schema (it may be why it failed). */
export function describeJob(queue: QueueKey, job: Job): JobUsers {
  try {
    return usersOfJob(queue, job.data, `job ${queue}/${job.id}`);
  } catch {
    return { users: [], strategies: [], note: 'the payload fails its schema' };
  }
}

export function viewOf(queue: QueueKey, job: Job, described = describeJob(queue, job)): FailedJobView {
  return {
    queue,
    id: job.id ?? '',
    reason: job.failedReason ?? '',
    attempts: job.attemptsMade,
    failedAt: job.finishedOn ?? job.processedOn ?? job.timestamp,
    createdAt: job.timestamp,
    strategies: described.strategies,
    users: new Set(described.users.map((u) => u.userId)).size,
    data: job.data as unknown,
  };
}

/** Pure: whether a failed job matches the filter. */
export function matches(f: FailedJobFilter, view: FailedJobView, described: JobUsers): boolean {
  if (f.reason && !view.reason.toLowerCase().includes(f.reason.toLowerCase())) return false;
  if (f.from !== undefined && view.failedAt < f.from) return false;
  if (f.to !== undefined && view.failedAt > f.to) return false;
  if (f.strategy && !described.strategies.includes(f.strategy)) return false;
  if (f.userId && !described.users.some((u) => u.userId === f.userId)) return false;
  return true;
}

function parseCursor(cursor: string | undefined): { q: number; offset: number } {
  if (!cursor) return { q: 0, offset: 0 };
  const m = /^(\d+)\.(\d+)$/.exec(cursor);
  if (!m) throw new OpsError(400, `cursor ${JSON.stringify(cursor)} is not one this API gave`);
  return { q: Number(m[1]), offset: Number(m[2]) };
}

/**
 * Matching failed jobs, newest failure first per queue, queues in pipeline order. `limit` bounds the page;
 * the cursor says where the next page starts.
 */
export async function listFailed(
  queues: Queues,
  filter: FailedJobFilter,
  page: { cursor?: string; limit: number },
): Promise<Page<FailedEntry>> {
  const scope = filter.queue ? [filter.queue] : QUEUE_KEYS;
  let { q, offset } = parseCursor(page.cursor);
  const items: FailedEntry[] = [];
  while (q < scope.length) {
    const key = scope[q]!;
    const jobs = await queues[key].getFailed(offset, offset + SCAN - 1);
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i] as Job | undefined;
      if (!job) continue;
      const described = describeJob(key, job);
      const view = viewOf(key, job, described);
      if (!matches(filter, view, described)) continue;
      items.push({ view, described, job });
      if (items.length === page.limit) {
        const more = i + 1 < jobs.length || jobs.length === SCAN || q + 1 < scope.length;
        return { items, ...(more ? { next: `${q}.${offset + i + 1}` } : {}) };
      }
    }
    if (jobs.length < SCAN) {
      q++;
      offset = 0;
    } else offset += SCAN;
  }
  return { items };
}

/** Explicitly named jobs; a job that is not in its failed set is refused by name. */
export async function namedFailed(
  queues: Queues,
  names: ReadonlyArray<{ queue: QueueKey; id: string }>,
): Promise<FailedEntry[]> {
  const out: FailedEntry[] = [];
  for (const { queue, id } of names) {
    const q = queues[queue];
    if (!q)
      throw new OpsError(
        400,
        `jobs: unknown queue ${JSON.stringify(queue)} (known: ${QUEUE_KEYS.join(', ')})`,
      );
    const job = (await q.getJob(id)) as Job | undefined;
    if (!job)
      throw new OpsError(404, `job ${queue}/${id} does not exist (replayed, or removed after its retention)`);
    const state = await job.getState();
    if (state !== 'failed')
      throw new OpsError(409, `job ${queue}/${id} is ${state}, not failed: nothing to replay`);
    const described = describeJob(queue, job);
    out.push({ view: viewOf(queue, job, described), described, job });
  }
  return out;
}
