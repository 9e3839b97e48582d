/**
 * The rate limit of the operator API's heavy calls (replay, re-drive, topic replay, dry runs included: a dry
 * run reads as much as the real one): per token, a fixed window on the clock, counted in Redis so that every
 * replica of the API shares it.
 */
import type { Redis } from 'ioredis';
import { ttlMs, type Clock } from '../../shared/clock';
import { opsKeys } from '../../shared/keys';

export interface RateDecision {
  allowed: boolean;
  /** Calls left in the window after this one (0 when refused). */
  remaining: number;
  /** When refused: real milliseconds until the window ends (what Retry-After says). */
  retryAfterMs: number;
}

export interface RateLimiter {
  /** Counts one call of the token and says whether it may go ahead. */
  hit(tokenId: string): Promise<RateDecision>;
}

export interface RateLimiterOptions {
  redis: Redis;
  prefix: string;
  clock: Clock;
  /** Calls per token per window (OPS_RATE_LIMIT). */
  limit: number;
  /** The window in clock ms (OPS_RATE_WINDOW_MS). */
  windowMs: number;
}

export function createRateLimiter({
  redis,
  prefix,
  clock,
  limit,
  windowMs,
}: RateLimiterOptions): RateLimiter {
  const keys = opsKeys(prefix);
  return {
    async hit(tokenId) {
      const now = clock.now();
      const window = Math.floor(now / windowMs);
      const key = keys.rate(tokenId, window);
      const res = await redis
        .multi()
        .incr(key)
        // Kept a window past its end, so a clock slightly behind another replica's still finds it.
        .pexpire(key, ttlMs(clock, 2 * windowMs))
        .exec();
      const [err, count] = (res?.[0] ?? [null, 0]) as [Error | null, number];
      if (err) throw err;
      if (count <= limit) return { allowed: true, remaining: limit - count, retryAfterMs: 0 };
      return { allowed: false, remaining: 0, retryAfterMs: ttlMs(clock, (window + 1) * windowMs - now) };
    },
  };
}
