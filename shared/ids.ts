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

/**
 * FNV-1a of a string, as an unsigned 32-bit integer: a fast, stable hash for samples and seeds (which users
 * are traced, which picks are logged, exploration's draws). Not for security.
 */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
