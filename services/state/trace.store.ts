/**
 * The decision trace: for each traced user, one compact entry per step a stage took for them (the trigger,
 * a filter drop, the pick and its score, won or lost the window, the planned send, the delivery, feedback),
 * so an operator can ask why a user got a push, or none. Capped per user and expiring (DESIGN rule 7).
 *
 * Real-time decisions concern one user each and are always traced; a campaign's are traced for a share of
 * users picked by a hash of the id, so a 1M-user fan-out pays for a sample, not for everyone.
 */
import type { Redis, Result } from 'ioredis';
import { ttlMs, type Clock } from '../../shared/clock';
import { fnv1a } from '../../shared/ids';
import { CAP, type StateKeys } from '../../shared/keys';
import { defineScripts, execOrThrow } from './redis';

export type TraceStage =
  'trigger' | 'filter' | 'score' | 'conciliate' | 'send-time' | 'delivery' | 'feedback';

export interface TraceEntry {
  /** Herald clock ms. */
  at: number;
  stage: TraceStage;
  /** What happened: 'triggered', 'dropped', 'picked', 'won', 'lost', 'planned', 'sent', 'opened', ... */
  what: string;
  strategy?: string;
  targetId?: string;
  detail: Record<string, unknown>;
}

export type TraceInput = Omit<TraceEntry, 'at'> & { at?: number };

/** What a stage needs to trace: whether a user is traced in a lane, and the write. */
export type Tracer = Pick<TraceStore, 'traced' | 'record'>;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    traceAppend(key: string, cap: number, entry: string, ttlMs: number): Result<string, Context>;
  }
}

const SCRIPTS = {
  /** Appends one entry, keeps about `cap`, and pushes the expiry back: one round trip per entry. */
  traceAppend: {
    numberOfKeys: 1,
    lua: `
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 'OK'`,
  },
} as const;

/** FNV-1a of the id, as a fraction in [0, 1): the same user is in or out of the sample at every stage. */
export function traceFraction(userId: string): number {
  return fnv1a(userId) / 0x1_0000_0000;
}

export interface TraceOptions {
  /** Share of users traced in the campaign lane. */
  campaignShare: number;
  /** Days a trace is kept after its last entry. */
  days: number;
}

export const DEFAULT_TRACE: TraceOptions = { campaignShare: 0.01, days: 7 };

export function createTraceStore(redis: Redis, keys: StateKeys, clock: Clock, opts: TraceOptions) {
  defineScripts(redis, SCRIPTS);
  const ttl = ttlMs(clock, opts.days * 86_400_000);
  const traced = (userId: string, lane: 'realtime' | 'bulk') =>
    lane === 'realtime' || traceFraction(userId) < opts.campaignShare;
  return {
    /** Whether a user's decisions in this lane are traced. */
    traced,

    /**
     * Appends entries, one pipeline for the batch; the caller has already kept only traced users. An entry
     * without `at` is stamped with the clock's now.
     */
    async record(entries: ReadonlyArray<{ userId: string; entry: TraceInput }>): Promise<void> {
      if (entries.length === 0) return;
      const now = clock.now();
      const p = redis.pipeline();
      for (const { userId, entry } of entries) {
        const e: TraceEntry = { at: now, ...entry };
        p.traceAppend(keys.trace(userId), CAP.trace, JSON.stringify(e), ttl);
      }
      await execOrThrow(p);
    },

    /** The user's entries with `from <= at <= to`, oldest first. */
    async read(userId: string, from = 0, to = Number.MAX_SAFE_INTEGER): Promise<TraceEntry[]> {
      const raw = await redis.xrange(keys.trace(userId), '-', '+');
      const out: TraceEntry[] = [];
      for (const [, fields] of raw) {
        const i = fields.indexOf('e');
        if (i < 0) continue;
        try {
          const e = JSON.parse(fields[i + 1]!) as TraceEntry;
          if (e.at >= from && e.at <= to) out.push(e);
        } catch {
          // An entry that is not JSON was not written by Herald: skip it rather than fail the whole read.
        }
      }
      return out;
    },
  };
}

export type TraceStore = ReturnType<typeof createTraceStore>;
