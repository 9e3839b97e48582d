/**
 * Lua scripts: the few places where a check and a write must be one atomic step.
 */
import type { Redis, Result } from 'ioredis';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    countOnce(seen: string, stats: string, ttlMs: number, field: string): Result<number, Context>;
    offerWinner(
      key: string,
      json: string,
      score: number,
      decisionId: string,
      ttlMs: number,
    ): Result<number, Context>;
    reserveContact(key: string, pushJson: string, ttlMs: number): Result<[string, string?], Context>;
    claimDue(
      dueRealtime: string,
      due: string,
      inflight: string,
      now: number,
      n: number,
      leaseUntil: number,
    ): Result<string[], Context>;
    foldFeedback(
      seen: string,
      engagement: string,
      strategyStats: string,
      saleClicks: string,
      seenTtl: number,
      type: string,
      strategyField: string,
      candidateId: string,
      engagementTtl: number,
      clicksTtl: number,
    ): Result<number, Context>;
  }
}

const SCRIPTS = {
  /** Counts an event once: SET seen NX, and only then bump the counter. Returns 1 if new. */
  countOnce: {
    numberOfKeys: 2,
    lua: `
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
  return 1
end
return 0`,
  },
  /**
   * Keeps the user's best candidate of the contact window: replaces the winner only if the new one scores
   * higher (ties keep the first). Returns 1 if the new candidate is now the winner.
   */
  offerWinner: {
    numberOfKeys: 1,
    lua: `
local cur = redis.call('GET', KEYS[1])
if cur then
  local c = cjson.decode(cur)
  if c.decisionId == ARGV[3] then return 1 end
  if tonumber(c.score) >= tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[4])
return 1`,
  },
  /**
   * The contact ledger: reserves the user's one push of the window. Returns {'new'}, {'sent'}, or
   * {'pending', push} when a push was reserved but not confirmed sent (a crash): that same push is resent,
   * whatever the winner is now, and the sink drops it if it already went out.
   */
  reserveContact: {
    numberOfKeys: 1,
    lua: `
local cur = redis.call('HGET', KEYS[1], 'push')
if not cur then
  redis.call('HSET', KEYS[1], 'push', ARGV[1], 'state', 'reserved')
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {'new'}
end
if redis.call('HGET', KEYS[1], 'state') == 'sent' then return {'sent'} end
return {'pending', cur}`,
  },
  /**
   * Claims up to ARGV[2] users due at or before ARGV[1]: moves them from a due set to inflight with a lease
   * until ARGV[3]. Users whose lease ran out (their process died) come first, then the real-time lane
   * (KEYS[1]), then the campaign lane (KEYS[2]).
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
      redis.call('ZREM', KEYS[k], u)
      redis.call('ZADD', KEYS[3], lease, u)
      out[#out + 1] = u
    end
  end
end
return out`,
  },
  /** Folds one feedback event once: engagement, strategy counters, and a sale's clicks of the day. */
  foldFeedback: {
    numberOfKeys: 4,
    lua: `
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 0 end
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('HINCRBY', KEYS[3], ARGV[3], 1)
if ARGV[2] == 'clicked' and ARGV[4] ~= '' then
  redis.call('ZINCRBY', KEYS[4], 1, ARGV[4])
  redis.call('PEXPIRE', KEYS[4], ARGV[6])
end
return 1`,
  },
} as const;

export type ScriptName = keyof typeof SCRIPTS;

/** Registers Herald's scripts on a connection (EVALSHA, loaded on first use, pipeline-safe). */
export function withScripts(redis: Redis): Redis {
  for (const [name, s] of Object.entries(SCRIPTS)) {
    if (!(name in redis)) redis.defineCommand(name, { numberOfKeys: s.numberOfKeys, lua: s.lua });
  }
  return redis;
}
