/**
 * The one catalog of stage queues: each queue's payload schema, attempts and backoff, declared together.
 * Payloads are validated when enqueued and again when taken.
 *
 * WARNING: renaming a queue strands every job waiting under the old name.
 */
import type { z } from 'zod';
import {
  AudienceJob,
  ConciliateJob,
  FilterJob,
  ScoreJob,
  CampaignJob,
  SendTimeJob,
  TargetJob,
} from './schemas/jobs.schema';

export const QUEUES = {
  /** 10 attempts (about 17 minutes of backoff): a campaign waits that long for the day's sales to arrive. */
  target: { name: 'target', schema: TargetJob, attempts: 10, backoffMs: 1000 },
  audience: { name: 'audience', schema: AudienceJob, attempts: 5, backoffMs: 1000 },
  filter: { name: 'filter', schema: FilterJob, attempts: 5, backoffMs: 1000 },
  score: { name: 'score', schema: ScoreJob, attempts: 5, backoffMs: 1000 },
  conciliate: { name: 'conciliate', schema: ConciliateJob, attempts: 5, backoffMs: 1000 },
  sendTime: { name: 'send-time', schema: SendTimeJob, attempts: 5, backoffMs: 1000 },
  /** Ticks of the campaign schedulers; the scheduler turns each into the day's trigger. */
  campaigns: { name: 'campaigns', schema: CampaignJob, attempts: 5, backoffMs: 1000 },
} as const;

export type QueueKey = keyof typeof QUEUES;
export type QueuePayload<K extends QueueKey> = z.infer<(typeof QUEUES)[K]['schema']>;
export const QUEUE_KEYS = Object.keys(QUEUES) as QueueKey[];
