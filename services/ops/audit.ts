/**
 * The audit log of the operator API: one record per state-changing call (replay, re-drive, topic replay,
 * token create and revoke), dry runs included, in a Redis stream. It is append-only by construction: this
 * module can append and list, nothing else, and no route edits or deletes a record. The stream is trimmed
 * only by its bound (OPS_CAP.audit, oldest first).
 */
import type { Redis } from 'ioredis';
import type { Clock } from '../../shared/clock';
import { OPS_CAP, opsKeys } from '../../shared/keys';
import type { AuditRecord, Page } from './api';

export interface AuditQuery {
  /** Only records of this action (e.g. `jobs.replay`). */
  action?: string;
  /** Only records of this actor: a token id or a token name. */
  actor?: string;
  /** The `next` of the previous page. */
  cursor?: string;
  /** Default 50, at most 500. */
  limit?: number;
}

export interface AuditLog {
  /** Appends a record stamped with the clock's time; returns its id. */
  append(record: Omit<AuditRecord, 'id' | 'at'>): Promise<string>;
  /** Records newest first. */
  list(query: AuditQuery): Promise<Page<AuditRecord>>;
}

/** Entries read per round trip while filtering, and the most one list call reads before it returns a page. */
const CHUNK = 500;
const MAX_SCAN = 20_000;

export function createAuditLog({
  redis,
  prefix,
  clock,
}: {
  redis: Redis;
  prefix: string;
  clock: Clock;
}): AuditLog {
  const key = opsKeys(prefix).audit;
  return {
    async append(record) {
      const body: Omit<AuditRecord, 'id'> = { at: clock.now(), ...record };
      const id = await redis.xadd(key, 'MAXLEN', '~', OPS_CAP.audit, '*', 'r', JSON.stringify(body));
      return id!;
    },

    async list({ action, actor, cursor, limit = 50 }) {
      const items: AuditRecord[] = [];
      let end = cursor ? `(${cursor}` : '+';
      let scanned = 0;
      // A filter may match few records: read back in chunks until the page is full, the stream ends, or
      // MAX_SCAN entries were read (then the page is short and `next` says where to go on).
      while (items.length < limit && scanned < MAX_SCAN) {
        const entries = await redis.xrevrange(key, end, '-', 'COUNT', CHUNK);
        if (entries.length === 0) return { items };
        for (const [id, fields] of entries) {
          scanned++;
          end = `(${id}`;
          const record = { id, ...(JSON.parse(fields[1] ?? '{}') as Omit<AuditRecord, 'id'>) };
          if (action && record.action !== action) continue;
          if (actor && record.actor.tokenId !== actor && record.actor.name !== actor) continue;
          items.push(record);
          if (items.length === limit) break;
        }
        if (entries.length < CHUNK && items.length < limit) return { items };
      }
      return { items, next: end.slice(1) };
    },
  };
}
