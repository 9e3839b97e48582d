/**
 * Conciliation's state: each user's offers of the window (one per strategy), the decision written over
 * exactly the offers it saw, the history of pushes the caps read, the bandit's posteriors, the holdout
 * groups' users, and the decision log's entries (through delivery's outbox, to push.decisions).
 */
import type { Redis, Result } from 'ioredis';
import { type StateKeys } from '../../shared/keys';
import { ttlMs, type Clock } from '../../shared/clock';
import type { Winner } from '../../shared/schemas/jobs.schema';
import type { Decision } from '../../shared/schemas/events.schema';
import type { Contact } from '../conciliation/contact-rules';
import { defineScripts, execOrThrow } from './redis';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    storeOffer(
      offers: string,
      sent: string,
      strategy: string,
      json: string,
      score: number,
      decisionId: string,
      ttlMs: number,
      now: number,
    ): Result<string[], Context>;
    decideIf(
      offers: string,
      winner: string,
      version: string,
      json: string,
      ttlMs: number,
      decisionId: string,
    ): Result<number, Context>;
  }
}

const SCRIPTS = {
  /**
   * Keeps the strategy's best live offer for the user: a higher score replaces it, the same decision id
   * refreshes it, and so does any offer once the kept one was sent (its push id is in the user's sent record,
   * KEYS[2]) or ended (its deadline is past ARGV[6]). Bumps the offers' version when they changed, and
   * returns them all: HGETALL's flat field/value list.
   */
  storeOffer: {
    numberOfKeys: 2,
    lua: `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local keep = false
if cur then
  local c = cjson.decode(cur)
  local deadline = c.candidate.deadline
  local live = not redis.call('ZSCORE', KEYS[2], c.decisionId)
    and (deadline == nil or deadline == cjson.null or tonumber(deadline) > tonumber(ARGV[6]))
  keep = live and c.decisionId ~= ARGV[4] and tonumber(c.score) >= tonumber(ARGV[3])
end
if not keep and cur ~= ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('HINCRBY', KEYS[1], '_v', 1)
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
end
return redis.call('HGETALL', KEYS[1])`,
  },
  /**
   * Writes the decision (ARGV[2]: the winner's JSON, or '' for none) only if the offers are still the
   * version it was made on. Returns 2 if the winner changed, 1 if it stayed (same push, or none before and
   * after), 0 if the offers moved on (decide again).
   */
  decideIf: {
    numberOfKeys: 2,
    lua: `
local v = redis.call('HMGET', KEYS[1], '_v', '_w')
if (v[1] or '0') ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[1], '_w')
  if redis.call('DEL', KEYS[2]) == 1 then return 2 end
  return 1
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
if v[2] == ARGV[4] and redis.call('PTTL', KEYS[2]) > 0 then return 1 end
redis.call('HSET', KEYS[1], '_w', ARGV[4])
return 2`,
  },
} as const;

export interface UserOffers {
  version: string;
  offers: Winner[];
}

/** A user's engagement: pushes delivered, opened, clicked, and the fatigue load as of `now`. */
export interface UserEngagement {
  delivered: number;
  opened: number;
  clicked: number;
  fatigue: number;
}

export function createConciliationStore(
  redis: Redis,
  keys: StateKeys,
  clock: Clock,
  o: { contactWindowMs: number; pushRecordMs: number; fatigueHalfLifeMs: number },
) {
  defineScripts(redis, SCRIPTS);
  const ttl = ttlMs(clock, o.contactWindowMs);
  return {
    /** Stores each user's offer; returns every user's offers of the window as they now stand. */
    async offer(
      entries: ReadonlyArray<{ userId: string; winner: Winner }>,
      now: number,
    ): Promise<Map<string, UserOffers>> {
      const out = new Map<string, UserOffers>();
      if (entries.length === 0) return out;
      const p = redis.pipeline();
      for (const e of entries) {
        p.storeOffer(
          keys.offers(e.userId),
          keys.sent(e.userId),
          e.winner.strategy,
          JSON.stringify(e.winner),
          e.winner.score,
          e.winner.decisionId,
          ttl,
          now,
        );
      }
      const res = (await execOrThrow(p)) as string[][];
      entries.forEach((e, i) => out.set(e.userId, parseOffers(res[i] ?? [])));
      return out;
    },

    /** The users' offers, as they stand. */
    async offersOf(userIds: readonly string[]): Promise<Map<string, UserOffers>> {
      const out = new Map<string, UserOffers>();
      if (userIds.length === 0) return out;
      const p = redis.pipeline();
      for (const u of userIds) p.hgetall(keys.offers(u));
      const res = (await execOrThrow(p)) as Array<Record<string, string>>;
      userIds.forEach((u, i) => out.set(u, parseOffers(Object.entries(res[i] ?? {}).flat())));
      return out;
    },

    /**
     * Writes each decision (the winner, or null: none) if the user's offers are still at `version`; returns,
     * per entry, 'changed', 'same' or 'stale' (the offers moved on: decide again).
     */
    async decide(
      entries: ReadonlyArray<{ userId: string; version: string; winner: Winner | null }>,
    ): Promise<Array<'changed' | 'same' | 'stale'>> {
      if (entries.length === 0) return [];
      const p = redis.pipeline();
      for (const e of entries) {
        p.decideIf(
          keys.offers(e.userId),
          keys.winner(e.userId),
          e.version,
          e.winner ? JSON.stringify(e.winner) : '',
          ttl,
          e.winner?.decisionId ?? '',
        );
      }
      return (await execOrThrow(p)).map((v) => (v === 2 ? 'changed' : v === 1 ? 'same' : 'stale'));
    },

    /** Each user's engagement counters and fatigue load (decayed to `now`). */
    async engagement(userIds: readonly string[], now: number): Promise<Map<string, UserEngagement>> {
      const out = new Map<string, UserEngagement>();
      if (userIds.length === 0) return out;
      const p = redis.pipeline();
      for (const u of userIds) p.hmget(keys.engagement(u), 'delivered', 'opened', 'clicked', 'fl', 'fat');
      const rows = (await execOrThrow(p)) as Array<Array<string | null>>;
      userIds.forEach((u, i) => {
        const [d, op, c, fl, fat] = rows[i] ?? [];
        const load = Number(fl ?? 0);
        const age = Math.max(0, now - Number(fat ?? now));
        out.set(u, {
          delivered: Number(d ?? 0),
          opened: Number(op ?? 0),
          clicked: Number(c ?? 0),
          fatigue: load > 0 ? load * Math.pow(2, -age / o.fatigueHalfLifeMs) : 0,
        });
      });
      return out;
    },

    /** Each user's pushes within the push-record retention before `now`: strategy and time. */
    async contacts(userIds: readonly string[], now: number): Promise<Map<string, Contact[]>> {
      const out = new Map<string, Contact[]>();
      if (userIds.length === 0) return out;
      const p = redis.pipeline();
      for (const u of userIds) p.zrangebyscore(keys.contacts(u), now - o.pushRecordMs, '+inf', 'WITHSCORES');
      const rows = (await execOrThrow(p)) as string[][];
      userIds.forEach((u, i) => {
        const r = rows[i] ?? [];
        const list: Contact[] = [];
        for (let k = 0; k < r.length; k += 2) {
          const member = r[k]!;
          const bar = member.indexOf('|');
          list.push({ strategy: member.slice(0, bar), pushId: member.slice(bar + 1), at: Number(r[k + 1]) });
        }
        out.set(u, list);
      });
      return out;
    },

    /** The bandit's counters: `<strategy>|<context>|<type>` and `<strategy>|scoreSum|scoreN`. */
    async bandit(): Promise<Map<string, number>> {
      const h = await redis.hgetall(keys.bandit);
      return new Map(Object.entries(h).map(([k, v]) => [k, Number(v)]));
    },

    /** Adds a batch's candidate scores to their strategies' sums (the mean each score is relative to). */
    async recordScores(sums: ReadonlyMap<string, { sum: number; n: number }>): Promise<void> {
      if (sums.size === 0) return;
      const p = redis.pipeline();
      for (const [s, { sum, n }] of sums) {
        p.hincrbyfloat(keys.bandit, `${s}|scoreSum`, sum).hincrby(keys.bandit, `${s}|scoreN`, n);
      }
      await execOrThrow(p);
    },

    /** Counts users into their holdout scopes' groups (HyperLogLog: each user once). */
    async countGroups(groups: ReadonlyMap<string, readonly string[]>): Promise<void> {
      if (groups.size === 0) return;
      const p = redis.pipeline();
      for (const [scopeGroup, users] of groups) {
        const [scope, group] = scopeGroup.split('#') as [string, string];
        if (users.length > 0) p.pfadd(keys.liftUsers(scope, group), ...users);
      }
      await execOrThrow(p);
    },

    /**
     * The holdout counters of every scope with feedback (`all`, or a strategy): per group, the users seen
     * and, per feedback type, the sum and sum of squares of the per-user counts.
     */
    async liftCounters(): Promise<
      Array<{
        scope: string;
        group: 'treated' | 'holdout';
        users: number;
        sums: Record<string, { sum: number; sq: number }>;
      }>
    > {
      const h = await redis.hgetall(keys.lift);
      const scopes = [...new Set(Object.keys(h).map((f) => f.slice(0, f.indexOf('|'))))].sort();
      const rows: Array<{ scope: string; group: 'treated' | 'holdout' }> = [];
      const p = redis.pipeline();
      for (const scope of scopes) {
        for (const group of ['treated', 'holdout'] as const) {
          rows.push({ scope, group });
          p.pfcount(keys.liftUsers(scope, group));
        }
      }
      const counts = rows.length > 0 ? ((await execOrThrow(p)) as number[]) : [];
      return rows.map((r, i) => {
        const sums: Record<string, { sum: number; sq: number }> = {};
        for (const type of ['opened', 'clicked', 'converted']) {
          const base = `${r.scope}|${r.group}|${type}`;
          sums[type] = { sum: Number(h[base] ?? 0), sq: Number(h[`${base}|sq`] ?? 0) };
        }
        return { ...r, users: counts[i] ?? 0, sums };
      });
    },

    /**
     * Logs decisions that sent nothing: through delivery's outbox, to push.decisions (the publisher checks
     * each against its contract and reports and skips one that fails, so a bad record never holds up pushes).
     */
    async logDecisions(decisions: readonly Decision[]): Promise<void> {
      if (decisions.length === 0) return;
      const p = redis.pipeline();
      for (const d of decisions) p.xadd(keys.outbox, '*', 'decision', JSON.stringify(d));
      await execOrThrow(p);
    },
  };
}

function parseOffers(flat: readonly string[]): UserOffers {
  let version = '0';
  const offers: Winner[] = [];
  for (let i = 0; i < flat.length; i += 2) {
    const f = flat[i]!;
    if (f === '_v') version = flat[i + 1]!;
    // Offers are written by storeOffer alone, from winners this module serialized: parsed, not re-validated.
    else if (f !== '_w') offers.push(JSON.parse(flat[i + 1]!) as Winner);
  }
  // A stable order (by strategy): the decision's arms, and so its id and draws, do not depend on Redis's.
  offers.sort((a, b) => (a.strategy < b.strategy ? -1 : a.strategy > b.strategy ? 1 : 0));
  return { version, offers };
}

export type ConciliationStore = ReturnType<typeof createConciliationStore>;
