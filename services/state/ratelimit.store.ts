/**
 * Provider rate limits shared by every send-time replica: one token bucket per (provider, app) in Redis.
 * The script only guards the bucket (refill by elapsed time, take, say how long the taker must wait); it
 * reads Redis' own TIME so replicas with skewed clocks share one notion of now (provider limits run on the
 * wall clock, not Herald's Clock). A taker that finds the bucket short still takes its token, driving the
 * bucket into debt, and waits until the debt it joined is paid: takers are served in the order they came,
 * and no second round trip is needed; one that would wait longer than it can afford takes nothing and comes
 * back later. A provider's 429 pauses the bucket for every replica.
 */
import type { Redis, Result } from 'ioredis';
import type { StateKeys } from '../../shared/keys';
import { defineScripts, execOrThrow } from './redis';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    takeTokens(
      bucket: string,
      ratePerS: number,
      burst: number,
      n: number,
      maxWaitMs: number,
    ): Result<number, Context>;
    pauseBucket(bucket: string, ms: number): Result<number, Context>;
  }
}

const SCRIPTS = {
  /**
   * KEYS[1]: hash tokens, at (ms), paused (ms: a provider's 429 holds every replica until then). Refills at
   * ARGV[1] tokens/s up to ARGV[2] and takes ARGV[3]; returns the ms to wait (0 when the tokens were
   * there). When the wait would pass ARGV[4] ms, or the bucket is paused, it takes nothing and returns
   * minus the ms after which to come back. The key expires once a full bucket would be back.
   */
  takeTokens: {
    numberOfKeys: 1,
    lua: `
local rate, burst, n, maxWait = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local v = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'paused')
local paused = tonumber(v[3]) or 0
if paused > now then return -(paused - now) end
local tokens = tonumber(v[1]) or burst
local at = tonumber(v[2]) or now
tokens = math.min(burst, tokens + (now - at) * rate / 1000)
local wait = 0
if tokens - n < 0 then wait = math.ceil((n - tokens) * 1000 / rate) end
if wait > maxWait then
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
  redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * 1000 / rate) + 1000)
  return -wait
end
tokens = tokens - n
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * 1000 / rate) + 1000)
return wait`,
  },
  /** Pauses the bucket (every replica) for ARGV[1] ms from Redis' now; an earlier pause end is pushed later. */
  pauseBucket: {
    numberOfKeys: 1,
    lua: `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local untilMs = now + tonumber(ARGV[1])
local cur = tonumber(redis.call('HGET', KEYS[1], 'paused') or '0')
if untilMs > cur then redis.call('HSET', KEYS[1], 'paused', untilMs) end
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) + 1000 then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) + 1000)
end
return 1`,
  },
} as const;

export function createRateLimitStore(redis: Redis, keys: StateKeys) {
  defineScripts(redis, SCRIPTS);
  return {
    /**
     * Takes `n` tokens from the bucket of (provider, app); resolves to the real ms the taker must wait, or,
     * when that would pass `maxWaitMs` or the bucket is paused, to minus the ms after which to come back
     * (nothing taken).
     */
    async take(
      provider: string,
      app: string,
      ratePerS: number,
      burst: number,
      n = 1,
      maxWaitMs = Number.MAX_SAFE_INTEGER,
    ): Promise<number> {
      return redis.takeTokens(keys.rateLimit(provider, app), ratePerS, burst, n, maxWaitMs);
    },
    /** Holds every replica's sends to (provider, app) for `ms` (the provider answered 429 Retry-After). */
    async pause(provider: string, app: string, ms: number): Promise<void> {
      await redis.pauseBucket(keys.rateLimit(provider, app), Math.max(1, Math.round(ms)));
    },
    /** Counts waits (the time takers slept on a bucket), per provider, in the pipeline's counters. */
    async recordWait(provider: string, waitedMs: number, waits: number): Promise<void> {
      await execOrThrow(
        redis
          .pipeline()
          .hincrby(keys.stats, `ratelimit:wait_ms:${provider}`, Math.round(waitedMs))
          .hincrby(keys.stats, `ratelimit:waits:${provider}`, waits),
      );
    },
  };
}

export type RateLimitStore = ReturnType<typeof createRateLimitStore>;
