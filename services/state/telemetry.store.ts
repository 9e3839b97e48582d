/**
 * Telemetry: what happened, counted once. Events folded per topic, dead letters, pushes sent per strategy,
 * filter drops with their reasons, and push feedback (per-user engagement, per-strategy counters, the day's
 * clicks per sale).
 */
import { DateTime } from 'luxon';
import type { Redis, Result } from 'ioredis';
import { CAP, TTL, type StateKeys } from '../../shared/keys';
import type { Feedback } from '../../shared/schemas/events.schema';
import { metrics } from '../../shared/metrics';
import { COMMON_SCRIPTS, defineScripts, execOrThrow } from './redis';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    foldFeedback(
      seen: string,
      engagement: string,
      strategyStats: string,
      saleClicks: string,
      bandit: string,
      lift: string,
      seenTtl: number,
      type: string,
      strategyField: string,
      candidateId: string,
      engagementTtl: number,
      clicksTtl: number,
      strategy: string,
      atMs: number,
      fatigueHalfLifeMs: number,
      ...liftScopes: string[]
    ): Result<number, Context>;
  }
}

const SCRIPTS = {
  ...COMMON_SCRIPTS,
  /**
   * Folds one feedback event once: the user's engagement and fatigue load (a delivered push adds 1, an open
   * takes 1 back, both decayed with the half-life), the strategy's counters, the bandit's posterior in the
   * user's context at the push's decision (fewer than 3 pushes before it: new), a sale's clicks of the day,
   * and the sums of the user's holdout groups (ARGV[10..]: `<scope>|<group>`) with their sums of squares.
   */
  foldFeedback: {
    numberOfKeys: 6,
    lua: `
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 0 end
local t = ARGV[2]
local before = tonumber(redis.call('HGET', KEYS[2], t) or '0')
local prior = tonumber(redis.call('HGET', KEYS[2], 'delivered') or '0')
if t ~= 'delivered' then prior = prior - 1 end
local ctx = 'known'
if prior < 3 then ctx = 'new' end
redis.call('HINCRBY', KEYS[2], t, 1)
if t == 'delivered' or t == 'opened' then
  local now = tonumber(ARGV[8])
  local load = tonumber(redis.call('HGET', KEYS[2], 'fl') or '0')
  local at = tonumber(redis.call('HGET', KEYS[2], 'fat') or ARGV[8])
  if now > at then load = load * 2 ^ (-(now - at) / tonumber(ARGV[9])) else now = at end
  if t == 'delivered' then load = load + 1 else load = math.max(0, load - 1) end
  redis.call('HSET', KEYS[2], 'fl', string.format('%.4f', load), 'fat', string.format('%d', now))
end
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('HINCRBY', KEYS[3], ARGV[3], 1)
redis.call('HINCRBY', KEYS[5], ARGV[7] .. '|' .. ctx .. '|' .. t, 1)
if t == 'clicked' and ARGV[4] ~= '' then
  redis.call('ZINCRBY', KEYS[4], 1, ARGV[4])
  redis.call('PEXPIRE', KEYS[4], ARGV[6])
end
for i = 10, #ARGV do
  redis.call('HINCRBY', KEYS[6], ARGV[i] .. '|' .. t, 1)
  redis.call('HINCRBY', KEYS[6], ARGV[i] .. '|' .. t .. '|sq', 2 * before + 1)
end
return 1`,
  },
} as const;

export interface DropRecord {
  userId: string;
  reason: string;
  strategy: string;
  targetId: string;
}

const num = (o: Record<string, string>) =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Number(v)]));

export function createTelemetryStore(redis: Redis, keys: StateKeys) {
  defineScripts(redis, SCRIPTS);
  return {
    /** Counts each event once under `field(i)`, whatever how often it is delivered; true the first time. */
    async markSeen(eventIds: readonly string[], field: (i: number) => string): Promise<boolean[]> {
      if (eventIds.length === 0) return [];
      const p = redis.pipeline();
      eventIds.forEach((id, i) => p.countOnce(keys.seen(id), keys.stats, TTL.seen, field(i)));
      return (await execOrThrow(p)).map((v) => v === 1);
    },

    /** Events quarantined on the dead-letter topic. */
    async countDead(n: number): Promise<void> {
      if (n > 0) await redis.hincrby(keys.stats, 'dead', n);
    },

    async recordDrops(drops: readonly DropRecord[]): Promise<void> {
      if (drops.length === 0) return;
      const p = redis.pipeline();
      for (const d of drops) {
        p.hincrby(keys.filterDrops, d.reason, 1);
        p.xadd(
          keys.filterLog,
          'MAXLEN',
          '~',
          CAP.filterLog,
          '*',
          'user',
          d.userId,
          'reason',
          d.reason,
          'strategy',
          d.strategy,
          'target',
          d.targetId,
        );
      }
      await execOrThrow(p);
      for (const d of drops) metrics.drops.inc({ reason: d.reason, strategy: d.strategy });
    },

    /**
     * Folds feedback events, each once; returns, per event, whether it was new. `liftScopes` names the
     * holdout groups (`<scope>|<group>`) a user's feedback counts in.
     */
    async foldFeedback(
      events: readonly Feedback[],
      o: { fatigueHalfLifeMs?: number; liftScopes?: (userId: string) => readonly string[] } = {},
    ): Promise<boolean[]> {
      if (events.length === 0) return [];
      const halfLife = o.fatigueHalfLifeMs ?? 3 * 86_400_000;
      const p = redis.pipeline();
      for (const e of events) {
        const at = Date.parse(e.at);
        const day = DateTime.fromMillis(at, { zone: 'utc' }).toISODate()!;
        p.foldFeedback(
          keys.seen(`fb-${e.eventId}`),
          keys.engagement(e.userId),
          keys.strategyStats,
          keys.saleClicks(day),
          keys.bandit,
          keys.lift,
          TTL.seen,
          e.type,
          `${e.strategy}:${e.type}`,
          e.candidateId ?? '',
          TTL.engagement,
          TTL.saleClicks,
          e.strategy,
          at,
          halfLife,
          ...(o.liftScopes?.(e.userId) ?? []),
        );
      }
      return (await execOrThrow(p)).map((v) => v === 1);
    },

    /** Each user's pushes delivered, opened and clicked (zeros for a user with none). */
    async engagementOf(
      userIds: readonly string[],
    ): Promise<Map<string, { delivered: number; opened: number; clicked: number }>> {
      const out = new Map<string, { delivered: number; opened: number; clicked: number }>();
      if (userIds.length === 0) return out;
      const p = redis.pipeline();
      for (const u of userIds) p.hmget(keys.engagement(u), 'delivered', 'opened', 'clicked');
      const rows = (await execOrThrow(p)) as Array<Array<string | null>>;
      userIds.forEach((u, i) => {
        const [d, o, c] = rows[i] ?? [];
        out.set(u, { delivered: Number(d ?? 0), opened: Number(o ?? 0), clicked: Number(c ?? 0) });
      });
      return out;
    },

    /** Pipeline counters, drops by reason, and feedback by `<strategy>:<type>`. */
    async counters(): Promise<{
      stats: Record<string, number>;
      drops: Record<string, number>;
      feedback: Record<string, number>;
    }> {
      const [stats, drops, feedback] = await Promise.all([
        redis.hgetall(keys.stats),
        redis.hgetall(keys.filterDrops),
        redis.hgetall(keys.strategyStats),
      ]);
      return { stats: num(stats), drops: num(drops), feedback: num(feedback) };
    },

    /** The drop log, oldest first (at most CAP.filterLog entries). */
    async drops(): Promise<Array<{ user: string; reason: string; strategy: string; target: string }>> {
      const rows = await redis.xrange(keys.filterLog, '-', '+');
      return rows.map(([, f]) => {
        const m: Record<string, string> = {};
        for (let i = 0; i < f.length; i += 2) m[f[i]!] = f[i + 1]!;
        return { user: m.user!, reason: m.reason!, strategy: m.strategy!, target: m.target! };
      });
    },
  };
}

export type TelemetryStore = ReturnType<typeof createTelemetryStore>;
