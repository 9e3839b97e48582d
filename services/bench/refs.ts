/**
 * References measured on the same Redis in the same run:
 * - the raw rate of BullMQ addBulk for as many batch jobs as a fan-out has per stage, each carrying what a
 *   filter job carries (one group: the campaign's candidate and 500 user ids), with Herald's job options;
 * - what a delayed job per user costs in Redis memory (the design Herald avoids).
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { bullPrefix, jobOptions } from '../../shared/queue-factory';
import { createRedis } from '../../shared/redis';
import type { Candidate, Group } from '../../shared/schemas/jobs.schema';
import { delta, resetRedis, snapshot } from './redis';
import { userId } from './seed';
import { median } from './util';

/** Jobs per addBulk call: what one audience job hands to filter (10 pages of 500). */
export const ADD_BULK_CHUNK = 10;

export const CAMPAIGN_CANDIDATE: Candidate = {
  id: 'sale-books',
  kind: 'sale',
  category: 'books',
  title: 'Books fair',
  discount: 35,
  affinity: 0,
  deepLink: 'https://shop.example/sale/sale-books',
  deadline: Date.now() + 2 * 86_400_000,
};

export function filterPayload(page: number, batch = 500): { groups: Group[] } {
  return {
    groups: [
      {
        strategy: 'daily-sale',
        targetId: 'ds-2026-01-01',
        at: Date.now(),
        candidates: [CAMPAIGN_CANDIDATE],
        userIds: Array.from({ length: batch }, (_, i) => userId('u', page * batch + i)),
      },
    ],
  };
}

export interface AddBulkResult {
  jobs: number;
  batch: number;
  chunk: number;
  payloadBytes: number;
  /** median over `rounds` of jobs/s */
  jobsPerS: number;
  rounds: number[];
  /** jobs/s x batch */
  usersPerS: number;
  bytesPerJob: number;
  commandsPerJob: number;
}

export async function runAddBulkRef(
  redis: Redis,
  redisUrl: string,
  prefix: string,
  jobs: number,
): Promise<AddBulkResult> {
  await resetRedis(redis);
  const conn = createRedis(redisUrl, 'herald-bench-addbulk');
  const rounds: number[] = [];
  let bytesPerJob = 0;
  let commandsPerJob = 0;
  const payloads = Array.from({ length: Math.min(jobs, 50) }, (_, i) => filterPayload(i));
  const payloadBytes = JSON.stringify(payloads[0]).length;
  // Small job counts finish in milliseconds: repeat so the median is not one timer tick.
  const nRounds = jobs >= 2000 ? 3 : 5;
  try {
    for (let r = 0; r < nRounds; r++) {
      const q = new Queue(`{addbulk-${r}}`, { connection: conn, prefix: bullPrefix(prefix) });
      await q.waitUntilReady();
      const before = await snapshot(redis);
      const t0 = performance.now();
      for (let i = 0; i < jobs; i += ADD_BULK_CHUNK) {
        const n = Math.min(ADD_BULK_CHUNK, jobs - i);
        await q.addBulk(
          Array.from({ length: n }, (_, j) => ({
            name: 'filter',
            data: payloads[(i + j) % payloads.length],
            opts: jobOptions('filter', `ref-${r}-${i + j}`),
          })),
        );
      }
      const s = (performance.now() - t0) / 1000;
      rounds.push(jobs / s);
      const d = delta(before, await snapshot(redis));
      bytesPerJob = d.memory / jobs;
      commandsPerJob = d.commands / jobs;
      await q.obliterate({ force: true });
      await q.close();
    }
  } finally {
    await conn.quit();
  }
  const jobsPerS = median(rounds);
  return {
    jobs,
    batch: 500,
    chunk: ADD_BULK_CHUNK,
    payloadBytes,
    jobsPerS,
    rounds,
    usersPerS: jobsPerS * 500,
    bytesPerJob,
    commandsPerJob,
  };
}

export interface DelayedResult {
  jobs: number;
  bytesPerJob: number;
  jobsPerS: number;
}

/** A delayed job per user, as a naive scheduler would book a push: its Redis bytes. */
export async function runDelayedRef(
  redis: Redis,
  redisUrl: string,
  prefix: string,
  jobs: number,
): Promise<DelayedResult> {
  await resetRedis(redis);
  const conn = createRedis(redisUrl, 'herald-bench-delayed');
  const q = new Queue('{delayed-ref}', { connection: conn, prefix: bullPrefix(prefix) });
  try {
    await q.waitUntilReady();
    const before = await snapshot(redis);
    const t0 = performance.now();
    for (let i = 0; i < jobs; i += 500) {
      await q.addBulk(
        Array.from({ length: Math.min(500, jobs - i) }, (_, j) => ({
          name: 'push',
          data: { userId: userId('u', i + j) },
          opts: { ...jobOptions('sendTime', `push-${i + j}`), delay: 3_600_000 + ((i + j) % 86_400) * 1000 },
        })),
      );
    }
    const s = (performance.now() - t0) / 1000;
    const d = delta(before, await snapshot(redis));
    await q.obliterate({ force: true });
    return { jobs, bytesPerJob: d.memory / jobs, jobsPerS: jobs / s };
  } finally {
    await q.close();
    await conn.quit();
  }
}
