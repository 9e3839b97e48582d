/**
 * Per-provider rate limits, shared by every send-time replica through a token bucket per (provider, app) in
 * Redis (services/state/ratelimit.store.ts). A send takes one token and sleeps for as long as the bucket
 * says; the time slept is counted per provider in the pipeline's counters (`ratelimit:wait_ms:<provider>`,
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
  store: Pick<RateLimitStore, 'take' | 'recordWait'>;
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
    async acquire(p: Pick<PushProvider, 'name' | 'app'>): Promise<void> {
      const limit = o.limits[p.name];
      if (!limit) return;
      const ms = await o.store.take(p.name, p.app, limit.ratePerS, limit.burst);
      if (ms <= 0) return;
      const w = (waited[p.name] ??= { ms: 0, waits: 0 });
      w.ms += ms;
      w.waits += 1;
      void o.store
        .recordWait(p.name, ms, 1)
        .catch((err: unknown) => o.logger.warn({ err }, 'could not count a rate-limit wait'));
      await nap(ms);
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
