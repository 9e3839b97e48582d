/**
 * Runs one pipeline stage: a BullMQ worker that parses each job against the catalog, hands the batch to the
 * domain, and enqueues what the domain returns. Nothing else happens in the transport.
 */
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { isRetriable } from './errors';
import { stableId } from './ids';
import type { Logger } from './logger';
import { metrics } from './metrics';
import {
  bullPrefix,
  enqueue,
  laneOf,
  queueName,
  validatePayload,
  type Lane,
  type Outgoing,
  type Queues,
} from './queue-factory';
import type { QueueKey, QueuePayload } from './queue-catalog';

export interface StageContext {
  jobId: string;
  attempt: number;
  /** The lane of the job: its outputs stay in it. */
  lane: Lane;
}

/** A stage's domain: a batch in, jobs for the next stages out. */
export type StageHandler<K extends QueueKey> = (
  payload: QueuePayload<K>,
  ctx: StageContext,
) => Promise<Array<Omit<Outgoing, 'id'> & { id?: string }>>;

export interface StageOptions<K extends QueueKey> {
  stage: K;
  connection: Redis;
  queues: Queues;
  prefix: string;
  handle: StageHandler<K>;
  logger: Logger;
  /** Jobs processed at once. Default 2. */
  concurrency?: number;
  /** Job lock; a killed worker's job becomes stalled and is retried after about this long. Default 30000. */
  lockMs?: number;
}

/**
 * The error a failed batch becomes for BullMQ: a permanent failure (HeraldError with retriable false: a
 * payload that fails its schema, an unknown strategy) becomes UnrecoverableError and goes straight to the
 * failed set for an operator; anything else is thrown as it is and retried with backoff.
 */
export function toJobError(err: unknown): { error: Error; retry: boolean } {
  if (!isRetriable(err))
    return { error: new UnrecoverableError(err instanceof Error ? err.message : String(err)), retry: false };
  return { error: err instanceof Error ? err : new Error(String(err)), retry: true };
}

export function runStage<K extends QueueKey>(opts: StageOptions<K>): Worker {
  const { stage, logger } = opts;
  const lockMs = opts.lockMs ?? 30_000;
  const worker = new Worker(
    queueName(stage),
    async (job: Job) => {
      const jobId = job.id ?? 'unknown';
      metrics.stageJobs.inc({ stage, outcome: 'started' });
      const timer = metrics.stageSeconds.startTimer({ stage });
      try {
        const payload = validatePayload(stage, job.data, `job ${stage}/${jobId}`);
        const started = performance.now();
        const priority = job.opts.priority;
        const outs = await opts.handle(payload, {
          jobId,
          attempt: job.attemptsMade + 1,
          lane: laneOf(priority),
        });
        // Ids derive from this job's id, so a retry of this job adds the same jobs, which BullMQ keeps once.
        // Outputs stay in the job's lane.
        const jobs = outs.map((o, i) => ({ priority, ...o, id: o.id ?? stableId(o.queue, stage, jobId, i) }));
        await enqueue(opts.queues, jobs);
        logger.debug({ jobId, out: jobs.length, ms: Math.round(performance.now() - started) }, 'batch done');
        timer();
        metrics.stageJobs.inc({ stage, outcome: 'completed' });
        return { out: jobs.length };
      } catch (err) {
        const { error, retry } = toJobError(err);
        // The last attempt of a retriable failure also goes to the failed set.
        const last = !retry || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
        metrics.stageJobs.inc({ stage, outcome: last ? 'failed' : 'retried' });
        if (retry) logger.warn({ jobId, err, attempt: job.attemptsMade + 1 }, 'batch failed; will retry');
        else logger.error({ jobId, err }, 'permanent failure; job goes to the failed set');
        throw error;
      }
    },
    {
      connection: opts.connection,
      prefix: bullPrefix(opts.prefix),
      concurrency: opts.concurrency ?? 2,
      lockDuration: lockMs,
      stalledInterval: Math.max(1000, Math.floor(lockMs / 2)),
      maxStalledCount: 3,
    },
  );
  worker.on('error', (err) => logger.error({ err }, 'worker error'));
  return worker;
}
