import { createHash } from 'node:crypto';

/**
 * A short deterministic id from its parts. Job ids must be deterministic (a retry re-adds the same job and
 * BullMQ keeps one) and free of ':' (BullMQ refuses it in custom ids).
 */
export function stableId(prefix: string, ...parts: Array<string | number>): string {
  const h = createHash('sha1');
  for (const p of parts) h.update(String(p)).update('\u0000');
  return `${prefix}-${h.digest('base64url').slice(0, 22)}`;
}

/** Splits `items` into chunks of at most `size`. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
