/**
 * Turns the bytes of a Kafka message into a typed event, or into the one-line reason it was refused.
 * Reasons name what was wrong and where: `amount: Too small: expected number to be >0`.
 */
import { z } from 'zod';
import { TOPICS, type TopicEvent, type TopicKey } from './topics';

/** An event stamped further ahead than this is refused as absurd. */
export const MAX_FUTURE_MS = 60 * 60 * 1000;
/** An event older than this is refused as absurd. */
export const MAX_PAST_MS = 400 * 86_400_000;

export type Parsed<K extends TopicKey> = { ok: true; event: TopicEvent<K> } | { ok: false; reason: string };

export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}

export function parseEvent<K extends TopicKey>(key: K, bytes: Buffer | null, now: number): Parsed<K> {
  if (!bytes || bytes.length === 0) return { ok: false, reason: 'empty message' };
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    return { ok: false, reason: `invalid JSON: ${(err as Error).message}` };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { ok: false, reason: 'not a JSON object' };
  }
  const v = (json as { v?: unknown }).v;
  const known: readonly number[] = 'versions' in TOPICS[key] ? TOPICS[key].versions : [1];
  if (typeof v !== 'number' || !known.includes(v))
    return { ok: false, reason: `unknown version v=${JSON.stringify(v)} (known: ${known.join(', ')})` };
  const parsed = TOPICS[key].schema.safeParse(json);
  if (!parsed.success) return { ok: false, reason: describeIssues(parsed.error) };
  const event = parsed.data as TopicEvent<K>;
  const at = Date.parse((event as { at?: string }).at ?? '');
  if (Number.isFinite(at)) {
    if (at > now + MAX_FUTURE_MS) {
      return {
        ok: false,
        reason: `at: ${new Date(at).toISOString()} is in the future (now ${new Date(now).toISOString()})`,
      };
    }
    if (at < now - MAX_PAST_MS) return { ok: false, reason: `at: ${new Date(at).toISOString()} is too old` };
  }
  return { ok: true, event };
}
