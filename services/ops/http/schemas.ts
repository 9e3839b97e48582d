/**
 * The operator API's requests, validated with zod before anything reaches the service. Unknown fields are
 * refused rather than ignored, so a misspelt flag (`overide`) is an error and not a silent default. A failed
 * check becomes a 400 that names the field (`query.limit: ...`).
 */
import { z } from 'zod';
import { QUEUE_KEYS, QUEUES, type QueueKey } from '../../../shared/queue-catalog';
import { ROLES } from './roles';

/** A time as ISO 8601 or epoch ms (a number or a string of digits), to epoch ms. */
export const Instant = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const ms = typeof v === 'number' ? v : /^\d+$/.test(v.trim()) ? Number(v) : Date.parse(v);
  if (!Number.isSafeInteger(ms) || ms < 0) {
    ctx.addIssue({ code: 'custom', message: 'an ISO 8601 time or epoch milliseconds' });
    return z.NEVER;
  }
  return ms;
});

/** A queue by its key (`sendTime`) or its name (`send-time`). */
export const Queue = z.string().transform((v, ctx): QueueKey => {
  const key = QUEUE_KEYS.find((k) => k === v || QUEUES[k].name === v);
  if (!key) {
    ctx.addIssue({ code: 'custom', message: `one of ${QUEUE_KEYS.join(', ')}` });
    return z.NEVER;
  }
  return key;
});

const Text = z.string().min(1).max(200);
const Id = z.string().min(1).max(256);
const Limit = z.coerce.number().int().min(1).max(500);
const Cursor = z.string().min(1).max(512);

export const FailedJobFilter = z.strictObject({
  queue: Queue.optional(),
  reason: Text.optional(),
  strategy: Text.optional(),
  userId: Id.optional(),
  from: Instant.optional(),
  to: Instant.optional(),
});

export const FailedQuery = FailedJobFilter.extend({ cursor: Cursor.optional(), limit: Limit.optional() });

const JobRef = z.strictObject({ queue: Queue, id: Id });

export const ReplayBody = z
  .strictObject({
    jobs: z.array(JobRef).min(1).max(10_000).optional(),
    filter: FailedJobFilter.optional(),
    dryRun: z.boolean().optional(),
    override: z.boolean().optional(),
  })
  .refine((b) => b.jobs !== undefined || b.filter !== undefined, {
    message: 'name the jobs or give a filter (an empty filter {} means every failed job)',
    path: ['jobs'],
  });

export const DeadLetterFilter = z.strictObject({
  reason: Text.optional(),
  topic: Text.optional(),
  from: Instant.optional(),
  to: Instant.optional(),
});

export const DeadLetterQuery = DeadLetterFilter.extend({
  cursor: Cursor.optional(),
  limit: Limit.optional(),
});

export const RedriveBody = z
  .strictObject({
    ids: z.array(Id).min(1).max(10_000).optional(),
    filter: DeadLetterFilter.optional(),
    /** A corrected event for one letter, re-driven instead of its original bytes. */
    fix: z.strictObject({ id: Id, value: z.record(z.string(), z.unknown()) }).optional(),
    dryRun: z.boolean().optional(),
    override: z.boolean().optional(),
  })
  .refine((b) => b.ids !== undefined || b.filter !== undefined || b.fix !== undefined, {
    message: 'name the letters, give a filter (an empty filter {} means every dead letter), or a fix',
    path: ['ids'],
  });

export const TopicReplayBody = z.strictObject({
  topic: Text,
  from: Instant,
  to: Instant,
  namespace: z
    .string()
    .min(1)
    .max(100)
    .regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ., _ and - only'),
  dryRun: z.boolean().optional(),
});

export const ExplainQuery = z.strictObject({ from: Instant.optional(), to: Instant.optional() });

export const AuditQuery = z.strictObject({
  action: Text.optional(),
  actor: Text.optional(),
  cursor: Cursor.optional(),
  limit: Limit.optional(),
});

export const TokenBody = z.strictObject({
  name: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[\w .@-]+$/, 'letters, digits, space, _ . @ - only'),
  role: z.enum(ROLES),
});

export const IdParam = z.strictObject({ id: Id });

/** The first problem of a failed parse, as one line naming the field under `where` (query, body, params). */
export function describeIssue(where: string, error: z.ZodError): string {
  const issue = error.issues[0]!;
  const field = [where, ...issue.path.map(String)].join('.');
  return `${field}: ${issue.message}`;
}
