/**
 * Per-provider rate limits, shared by every send-time replica through a token bucket per (provider, app) in
 * Redis (services/state/ratelimit.store.ts). A send takes one token and sleeps for as long as the bucket
 * says, unless that is longer than the batch can afford (then it is deferred and retried through the
 * ledger); a provider's 429 pauses its bucket for every replica; the time slept is counted per provider in the pipeline's counters (`ratelimit:wait_ms:<provider>`,
 * `ratelimit:waits:<provider>`), and kept here for a caller that reports it.
 */
import type { Logger } from '../../shared/logger';
import { sleep } from '../../shared/wait';
import type { RateLimitStore } from '../state';
import type { ProviderName, PushProvider } from './providers/provider';
import type { SendLimiter } from './router';

export interface ProviderLimit {
  /** Sends per second, across replicas. */
  ratePerS: number;
  /** Sends allowed at once after an idle spell. */
  burst: number;
}

export interface RateLimiterOptions {
  store: Pick<RateLimitStore, 'take' | 'recordWait' | 'pause'>;
  limits: Partial<Record<ProviderName, ProviderLimit>>;
  logger: Logger;
  /** Default: a timer. */
  sleep?: (ms: number) => Promise<void>;
}

export function createRateLimiter(o: RateLimiterOptions): SendLimiter & {
  /** Real ms sends waited on each provider's bucket in this process, and how many waited. */
  waited(): Record<string, { ms: number; waits: number }>;
} {
  const nap = o.sleep ?? sleep;
  const waited: Record<string, { ms: number; waits: number }> = {};
  return {
    async acquire(p: Pick<PushProvider, 'name' | 'app'>, maxWaitMs: number): Promise<number> {
      const limit = o.limits[p.name];
      if (!limit) return 0;
      // Redis' Lua reads no Infinity: an unbounded wait is a very long one.
      const bound = Math.max(0, Math.min(maxWaitMs, Number.MAX_SAFE_INTEGER));
      const ms = await o.store.take(p.name, p.app, limit.ratePerS, limit.burst, 1, bound);
      if (ms < 0) return -ms;
      if (ms === 0) return 0;
      const w = (waited[p.name] ??= { ms: 0, waits: 0 });
      w.ms += ms;
      w.waits += 1;
      void o.store
        .recordWait(p.name, ms, 1)
        .catch((err: unknown) => o.logger.warn({ err }, 'could not count a rate-limit wait'));
      await nap(ms);
      return 0;
    },
    async pause(p: Pick<PushProvider, 'name' | 'app'>, ms: number): Promise<void> {
      if (!o.limits[p.name]) return;
      await o.store.pause(p.name, p.app, ms);
    },
    waited: () => structuredClone(waited),
  };
}

/** Each provider's bucket: `rates` sends per second, a burst of `burstS` seconds' worth (at least one). */
export function limitsFrom(
  rates: Partial<Record<ProviderName, number>>,
  burstS: number,
): Partial<Record<ProviderName, ProviderLimit>> {
  const out: Partial<Record<ProviderName, ProviderLimit>> = {};
  for (const [name, ratePerS] of Object.entries(rates) as Array<[ProviderName, number]>)
    out[name] = { ratePerS, burst: Math.max(1, Math.round(ratePerS * burstS)) };
  return out;
}
