/**
 * Provider rate limits shared by every send-time replica: one token bucket per (provider, app) in Redis.
 * The script only guards the bucket (refill by elapsed time, take, say how long the taker must wait); it
 * reads Redis' own TIME so replicas with skewed clocks share one notion of now (provider limits run on the
 * wall clock, not Herald's Clock). A taker that finds the bucket short still takes its token, driving the
 * bucket into debt, and waits until the debt it joined is paid: takers are served in the order they came,
 * and no second round trip is needed.
 */
import type { Redis, Result } from 'ioredis';
import type { StateKeys } from '../../shared/keys';
import { defineScripts, execOrThrow } from './redis';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    takeTokens(bucket: string, ratePerS: number, burst: number, n: number): Result<number, Context>;
  }
}

const SCRIPTS = {
  /**
   * KEYS[1]: hash tokens, at (ms). Refills at ARGV[1] tokens/s up to ARGV[2], takes ARGV[3], returns the ms
   * to wait (0 when the tokens were there). The key expires once a full bucket would be back.
   */
  takeTokens: {
    numberOfKeys: 1,
    lua: `
local rate, burst, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local v = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(v[1]) or burst
local at = tonumber(v[2]) or now
tokens = math.min(burst, tokens + (now - at) * rate / 1000) - n
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
local wait = 0
if tokens < 0 then wait = math.ceil(-tokens * 1000 / rate) end
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * 1000 / rate) + 1000)
return wait`,
  },
} as const;

export function createRateLimitStore(redis: Redis, keys: StateKeys) {
  defineScripts(redis, SCRIPTS);
  return {
    /** Takes `n` tokens from the bucket of (provider, app); resolves to the real ms the taker must wait. */
    async take(provider: string, app: string, ratePerS: number, burst: number, n = 1): Promise<number> {
      return redis.takeTokens(keys.rateLimit(provider, app), ratePerS, burst, n);
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
