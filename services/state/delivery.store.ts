/**
 * Delivery: the due sets (one per lane) a push waits in until its time, the leases of the users being
 * delivered, the contact ledger, the record of every push id sent, and the outbox of push.sent.
 *
 * Exactly once, at the ledger:
 * - `claimDue` hands a user to one delivery at a time: a user already in flight (claimed from the other lane
 *   in the same call, or leased to a live process) stays booked until that delivery is confirmed.
 * - `reserveContacts` admits one push per user per contact window and never a push id that was sent (the
 *   sent record outlives the window: it is kept for the push-record retention, longer than a failed job
 *   waits for replay). A reservation left by a process that died (its lease ran out) is taken over and the
 *   same push is resent as it was; one still leased to a live process is left alone.
 * - `confirmSent` writes the outbox entry first, then marks the ledger and the sent record, so push.sent is
 *   never missing for a push that went out (it may come twice; readers dedupe by pushId).
 * What remains: a process that dies after the provider accepted a push and before `confirmSent` leaves a
 * reservation that is resent after its lease. That window is one Redis round trip long.
 */
import type { Redis, Result } from 'ioredis';
import type { StateKeys } from '../../shared/keys';
import { ttlMs, type Clock } from '../../shared/clock';
import type { Lane } from '../../shared/queue-factory';
import { defineScripts, execOrThrow } from './redis';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    claimDue(
      dueRealtime: string,
      due: string,
      inflight: string,
      now: number,
      n: number,
      leaseUntil: number,
    ): Result<string[], Context>;
    reserveContact(
      ledger: string,
      sent: string,
      pushJson: string,
      pushId: string,
      windowTtlMs: number,
      now: number,
      leaseUntil: number,
    ): Result<[string, string?], Context>;
    retryContact(ledger: string, pushId: string, pushJson: string, until: number): Result<number, Context>;
    releaseContact(
      ledger: string,
      sent: string,
      pushId: string,
      now: number,
      keepAfter: number,
      recordTtlMs: number,
    ): Result<number, Context>;
    confirmContact(
      ledger: string,
      sent: string,
      contacts: string,
      pushId: string,
      now: number,
      keepAfter: number,
      recordTtlMs: number,
      strategy: string,
    ): Result<number, Context>;
  }
}

const SCRIPTS = {
  /**
   * Claims up to ARGV[2] users due at or before ARGV[1]: moves them from a due set to inflight with a lease
   * until ARGV[3]. Users whose lease ran out (their process died) come first, then the real-time lane
   * (KEYS[1]), then the campaign lane (KEYS[2]). A user already in flight is not claimed again: the entry
   * stays in its due set and is claimed once the delivery in flight is confirmed.
   */
  claimDue: {
    numberOfKeys: 3,
    lua: `
local now, n, lease = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local out = {}
local stale = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, n)
for _, u in ipairs(stale) do
  redis.call('ZADD', KEYS[3], lease, u)
  out[#out + 1] = u
end
for k = 1, 2 do
  if #out < n then
    local due = redis.call('ZRANGEBYSCORE', KEYS[k], '-inf', now, 'LIMIT', 0, n - #out)
    for _, u in ipairs(due) do
      if not redis.call('ZSCORE', KEYS[3], u) then
        redis.call('ZREM', KEYS[k], u)
        redis.call('ZADD', KEYS[3], lease, u)
        out[#out + 1] = u
      end
    end
  end
end
return out`,
  },
  /**
   * The contact ledger (KEYS[1]) and the user's sent record (KEYS[2]). Returns
   * {'sent'} when this push id already went out, {'taken'} when another push used the window,
   * {'busy', until} when a live delivery holds the reservation (its lease, ARGV[5] vs ARGV[4], has not run
   * out) or a retry waits for its time (until),
   * {'pending', push} when a dead delivery left it (the same push is resent and the lease is taken over),
   * or {'new'} when the push is reserved now.
   */
  reserveContact: {
    numberOfKeys: 2,
    lua: `
if redis.call('ZSCORE', KEYS[2], ARGV[2]) then return {'sent'} end
local cur = redis.call('HGET', KEYS[1], 'push')
if not cur then
  redis.call('HSET', KEYS[1], 'push', ARGV[1], 'pushId', ARGV[2], 'state', 'reserved', 'until', ARGV[5])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {'new'}
end
if redis.call('HGET', KEYS[1], 'state') == 'sent' then return {'taken'} end
local held = redis.call('HGET', KEYS[1], 'until') or '0'
if tonumber(held) > tonumber(ARGV[4]) then return {'busy', held} end
redis.call('HSET', KEYS[1], 'until', ARGV[5])
return {'pending', cur}`,
  },
  /**
   * A push that waits for another attempt: the ledger keeps it (ARGV[2], with its receipts so far) and its
   * reservation until ARGV[3], the retry's time, after which the delivery that claims the user resends it.
   * Only if the ledger still holds this push id (ARGV[1]).
   */
  retryContact: {
    numberOfKeys: 1,
    lua: `
if redis.call('HGET', KEYS[1], 'pushId') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'push', ARGV[2], 'until', ARGV[3])
return 1`,
  },
  /**
   * A push that died (no device accepted it): its reservation leaves the ledger, so the user can hear from
   * another push in the window, and its id joins the sent record, so nothing sends it again by itself (a
   * device may have shown it after all, behind a timeout).
   */
  releaseContact: {
    numberOfKeys: 2,
    lua: `
if redis.call('HGET', KEYS[1], 'pushId') == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return 1`,
  },
  /**
   * Marks the push sent: the ledger (only if it is still there: a window that closed meanwhile is not
   * reopened without its expiry), the user's sent record and their contacts (`<strategy>|<push id>`, what
   * the caps count), both trimmed of entries older than ARGV[3].
   */
  confirmContact: {
    numberOfKeys: 3,
    lua: `
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'state', 'sent') end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[5] .. '|' .. ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[3])
redis.call('PEXPIRE', KEYS[3], ARGV[4])
return 1`,
  },
} as const;

export type Reservation =
  { state: 'new' | 'sent' | 'taken' } | { state: 'busy'; until: number } | { state: 'pending'; json: string };

export interface OutboxEntry {
  id: string;
  json: string;
  /** Set when the entry is a dead push (for the dead-letter topic) rather than one sent. */
  dead?: string;
  /** Set when the entry is a logged conciliation decision (for push.decisions). */
  decision?: true;
}

/** The consumer group of the outbox's publishers. */
const PUBLISHERS = 'publishers';

export interface DeliveryWindows {
  /** At most one push per user in this much clock time. */
  contactWindowMs: number;
  /** How long a push id is remembered as sent, clock time; longer than a failed job waits for replay. */
  pushRecordMs: number;
}

export function createDeliveryStore(redis: Redis, keys: StateKeys, clock: Clock, windows: DeliveryWindows) {
  defineScripts(redis, SCRIPTS);
  const ledgerTtl = ttlMs(clock, windows.contactWindowMs);
  const recordTtl = ttlMs(clock, windows.pushRecordMs);
  let groupReady: Promise<unknown> | undefined;
  const ensureGroup = () =>
    (groupReady ??= redis.xgroup('CREATE', keys.outbox, PUBLISHERS, '0', 'MKSTREAM').catch((err: Error) => {
      if (!/BUSYGROUP/.test(err.message)) {
        groupReady = undefined;
        throw err;
      }
    }));

  return {
    /** Which of these users already had their push in the current contact window. */
    async contacted(userIds: readonly string[]): Promise<Set<string>> {
      if (userIds.length === 0) return new Set();
      const p = redis.pipeline();
      for (const id of userIds) p.exists(keys.ledger(id));
      const res = await execOrThrow(p);
      return new Set(userIds.filter((_, i) => res[i] === 1));
    },

    /** When each contacted user's current contact window ends (clock ms); absent when none is open. */
    async windowEnds(userIds: readonly string[], now: number): Promise<Map<string, number>> {
      if (userIds.length === 0) return new Map();
      const p = redis.pipeline();
      for (const id of userIds) p.pttl(keys.ledger(id));
      const res = (await execOrThrow(p)) as number[];
      return new Map(
        userIds.flatMap((u, i) =>
          res[i]! > 0 ? [[u, now + res[i]! * clock.speed] as [string, number]] : [],
        ),
      );
    },

    /**
     * Books users for delivery at their due instants; a user already booked keeps the earlier time. A plan
     * (how the instant was chosen) is kept for push.sent.
     */
    async book(
      entries: ReadonlyArray<{ userId: string; due: number; plan?: string }>,
      lane: Lane = 'bulk',
    ): Promise<void> {
      if (entries.length === 0) return;
      const args: Array<string | number> = [];
      const plans: string[] = [];
      for (const e of entries) {
        args.push(e.due, e.userId);
        if (e.plan !== undefined) plans.push(e.userId, e.plan);
      }
      const p = redis.pipeline().zadd(lane === 'realtime' ? keys.dueRealtime : keys.due, 'LT', ...args);
      if (plans.length > 0) p.hset(keys.plans, ...plans);
      await execOrThrow(p);
    },

    /** Whether each (user, push id) was already sent, by the sent record (which outlives the window). */
    async wereSent(pairs: ReadonlyArray<{ userId: string; pushId: string }>): Promise<boolean[]> {
      if (pairs.length === 0) return [];
      const p = redis.pipeline();
      for (const { userId, pushId } of pairs) p.zscore(keys.sent(userId), pushId);
      return (await execOrThrow(p)).map((v) => v !== null);
    },

    /** The user's sent record: push ids and when each was confirmed (clock ms), oldest first. */
    async sentOf(userId: string): Promise<Array<{ pushId: string; at: number }>> {
      const flat = await redis.zrange(keys.sent(userId), 0, -1, 'WITHSCORES');
      const out: Array<{ pushId: string; at: number }> = [];
      for (let i = 0; i < flat.length; i += 2) out.push({ pushId: flat[i]!, at: Number(flat[i + 1]) });
      return out;
    },

    /** Where the user is booked for delivery now, if anywhere, with the plan kept for push.sent. */
    async bookingOf(
      userId: string,
    ): Promise<{ due: number; lane: Lane; plan: string | null; inflightUntil: number | null } | null> {
      const [rt, bulk, plan, inflight] = await Promise.all([
        redis.zscore(keys.dueRealtime, userId),
        redis.zscore(keys.due, userId),
        redis.hget(keys.plans, userId),
        redis.zscore(keys.inflight, userId),
      ]);
      const due = rt ?? bulk;
      if (due === null && inflight === null) return null;
      return {
        due: due === null ? NaN : Number(due),
        lane: rt !== null ? 'realtime' : 'bulk',
        plan,
        inflightUntil: inflight === null ? null : Number(inflight),
      };
    },

    /** The plans of these users' bookings (absent when booked without one). */
    async plans(userIds: readonly string[]): Promise<Map<string, string>> {
      if (userIds.length === 0) return new Map();
      const res = await redis.hmget(keys.plans, ...userIds);
      return new Map(userIds.flatMap((u, i) => (res[i] ? [[u, res[i]] as [string, string]] : [])));
    },

    /** Claims due users, each at most once (see the claimDue script). */
    async claimDue(now: number, count: number, leaseUntil: number): Promise<string[]> {
      return redis.claimDue(keys.dueRealtime, keys.due, keys.inflight, now, count, leaseUntil);
    },

    /** Reserves each user's push in the ledger (see the reserveContact script). */
    async reserveContacts(
      pushes: ReadonlyArray<{ userId: string; pushId: string; json: string }>,
      now: number,
      leaseUntil: number,
    ): Promise<Reservation[]> {
      if (pushes.length === 0) return [];
      const p = redis.pipeline();
      for (const x of pushes) {
        p.reserveContact(
          keys.ledger(x.userId),
          keys.sent(x.userId),
          x.json,
          x.pushId,
          ledgerTtl,
          now,
          leaseUntil,
        );
      }
      const res = await execOrThrow(p);
      return res.map((v) => {
        const [state, json] = v as [string, string?];
        if (state === 'pending') return { state: 'pending' as const, json: json! };
        if (state === 'busy') return { state: 'busy' as const, until: Number(json) };
        return { state: state as 'new' | 'sent' | 'taken' };
      });
    },

    /**
     * Confirms delivery: each push enters the outbox (first), the ledger says sent, the push id joins the
     * user's sent record, the counters move, and the claimed users leave inflight.
     */
    async confirmSent(
      sent: ReadonlyArray<{ userId: string; pushId: string; strategy: string; json: string }>,
      done: readonly string[],
    ): Promise<void> {
      const now = clock.now();
      const p = redis.pipeline();
      for (const s of sent) p.xadd(keys.outbox, '*', 'push', s.json);
      for (const s of sent) {
        p.confirmContact(
          keys.ledger(s.userId),
          keys.sent(s.userId),
          keys.contacts(s.userId),
          s.pushId,
          now,
          now - windows.pushRecordMs,
          recordTtl,
          s.strategy,
        );
        p.hincrby(keys.stats, `sent:${s.strategy}`, 1);
      }
      if (done.length > 0) p.zrem(keys.inflight, ...done).hdel(keys.plans, ...done);
      if (p.length > 0) await execOrThrow(p);
    },

    /**
     * Pushes that wait for another attempt: each user is booked again (campaign lane; an earlier booking
     * stays) at its retry time, then the ledger keeps the push with its receipts, reserved until then. The
     * booking comes first: a process that dies between the two leaves a booking that finds the old
     * reservation, whose lease runs out, and resends it. The caller's confirmSent takes them out of inflight.
     */
    async retryLater(
      entries: ReadonlyArray<{ userId: string; pushId: string; json: string; retryAt: number }>,
    ): Promise<void> {
      if (entries.length === 0) return;
      const p = redis.pipeline();
      for (const e of entries) p.zadd(keys.due, 'LT', e.retryAt, e.userId);
      for (const e of entries) p.retryContact(keys.ledger(e.userId), e.pushId, e.json, e.retryAt);
      await execOrThrow(p);
    },

    /**
     * Books users again at these times (campaign lane; an earlier booking stays): users found busy, whose
     * reservation a retry (or a live delivery) holds until then.
     */
    async rebook(entries: ReadonlyArray<{ userId: string; at: number }>): Promise<void> {
      if (entries.length === 0) return;
      const args: Array<string | number> = [];
      for (const e of entries) args.push(e.at, e.userId);
      await execOrThrow(redis.pipeline().zadd(keys.due, 'LT', ...args));
    },

    /**
     * Pushes that died: each enters the outbox as a dead letter with its reason (first), leaves the ledger
     * and joins the user's sent record (see releaseContact).
     */
    async deadLetter(
      dead: ReadonlyArray<{ userId: string; pushId: string; json: string; reason: string }>,
    ): Promise<void> {
      if (dead.length === 0) return;
      const now = clock.now();
      const p = redis.pipeline();
      for (const d of dead) p.xadd(keys.outbox, '*', 'dead', d.json, 'reason', d.reason);
      for (const d of dead) {
        p.releaseContact(
          keys.ledger(d.userId),
          keys.sent(d.userId),
          d.pushId,
          now,
          now - windows.pushRecordMs,
          recordTtl,
        );
        p.hincrby(keys.stats, 'dead:push', 1);
      }
      await execOrThrow(p);
    },

    /**
     * The next outbox entries for `consumer` to publish: entries another publisher left unacknowledged for
     * `staleMs` (it died) first, then this consumer's own unacknowledged ones (a failed publish), then new.
     */
    async readOutbox(consumer: string, count: number, staleMs: number): Promise<OutboxEntry[]> {
      await ensureGroup();
      const claimed = (await redis.xautoclaim(
        keys.outbox,
        PUBLISHERS,
        consumer,
        staleMs,
        '0-0',
        'COUNT',
        count,
      )) as [string, Array<[string, string[]] | null>];
      const entries = toEntries(claimed[1]);
      if (entries.length > 0) return entries;
      for (const from of ['0', '>']) {
        const res = (await redis.xreadgroup(
          'GROUP',
          PUBLISHERS,
          consumer,
          'COUNT',
          count,
          'STREAMS',
          keys.outbox,
          from,
        )) as Array<[string, Array<[string, string[]] | null>]> | null;
        const got = toEntries(res?.[0]?.[1] ?? []);
        if (got.length > 0) return got;
      }
      return [];
    },

    /** Published: the entries leave the outbox. */
    async ackOutbox(ids: readonly string[]): Promise<void> {
      if (ids.length === 0) return;
      await execOrThrow(
        redis
          .pipeline()
          .xack(keys.outbox, PUBLISHERS, ...ids)
          .xdel(keys.outbox, ...ids),
      );
    },

    /** What waits: users due by `now` (both lanes), users in flight, pushes not yet on push.sent. */
    async backlog(now: number): Promise<{ due: number; inflight: number; outbox: number }> {
      const [due, dueRealtime, inflight, outbox] = (await execOrThrow(
        redis
          .pipeline()
          .zcount(keys.due, '-inf', now)
          .zcount(keys.dueRealtime, '-inf', now)
          .zcard(keys.inflight)
          .xlen(keys.outbox),
      )) as number[];
      return { due: due! + dueRealtime!, inflight: inflight!, outbox: outbox! };
    },

    /**
     * Per lane: users booked (due now or later), users due now, and how long the oldest due one has waited
     * (clock ms; 0 when none is due).
     */
    async dueStats(
      now: number,
    ): Promise<Record<Lane, { booked: number; due: number; oldestWaitMs: number }>> {
      const p = redis.pipeline();
      for (const k of [keys.dueRealtime, keys.due]) {
        p.zcard(k).zcount(k, '-inf', now).zrange(k, 0, 0, 'WITHSCORES');
      }
      const r = await execOrThrow(p);
      const lane = (i: number) => {
        const first = r[i + 2] as string[];
        const oldest = first.length === 2 ? Number(first[1]) : Infinity;
        return { booked: r[i] as number, due: r[i + 1] as number, oldestWaitMs: Math.max(0, now - oldest) };
      };
      return { realtime: lane(0), bulk: lane(3) };
    },

    /** Removes publishers that hold nothing and were idle longer than `idleMs` (processes that are gone). */
    async forgetIdlePublishers(idleMs: number): Promise<number> {
      await ensureGroup();
      const rows = (await redis.xinfo('CONSUMERS', keys.outbox, PUBLISHERS)) as unknown[][];
      let n = 0;
      for (const row of rows) {
        const f = new Map<string, unknown>();
        for (let i = 0; i + 1 < row.length; i += 2) f.set(String(row[i]), row[i + 1]);
        if (Number(f.get('pending')) === 0 && Number(f.get('idle')) > idleMs) {
          await redis.xgroup('DELCONSUMER', keys.outbox, PUBLISHERS, String(f.get('name')));
          n++;
        }
      }
      return n;
    },
  };
}

/** Entries whose fields hold a push (sent or dead); a deleted entry (null) is skipped. */
function toEntries(raw: Array<[string, string[]] | null>): OutboxEntry[] {
  const out: OutboxEntry[] = [];
  for (const e of raw) {
    if (!e) continue;
    const [id, fields] = e;
    const i = fields.indexOf('push');
    if (i >= 0 && fields[i + 1] !== undefined) {
      out.push({ id, json: fields[i + 1]! });
      continue;
    }
    const j = fields.indexOf('decision');
    if (j >= 0 && fields[j + 1] !== undefined) {
      out.push({ id, json: fields[j + 1]!, decision: true });
      continue;
    }
    const d = fields.indexOf('dead');
    const r = fields.indexOf('reason');
    if (d >= 0 && fields[d + 1] !== undefined)
      out.push({ id, json: fields[d + 1]!, dead: (r >= 0 ? fields[r + 1] : undefined) ?? 'dead' });
  }
  return out;
}

export type DeliveryStore = ReturnType<typeof createDeliveryStore>;
