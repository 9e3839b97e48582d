/**
 * Sends pushes through the providers, each device through the provider of its platform, a bounded number
 * at a time. A provider that answered 429 is paused for its Retry-After (in this process, and through the
 * rate limiter's bucket in every replica): sends to it meanwhile are deferred without reaching it. When a
 * rate limiter is given, each send first takes a token from its provider's bucket. A send that cannot start
 * within the batch's budget is deferred: it is retried through the ledger, no attempt spent.
 */
import type { PushSent } from '../../shared/schemas/events.schema';
import type { DeviceAnswer } from './outcomes';
import { devicesToSend } from './outcomes';
import type { DeviceSend, Outcome, ProviderName, PushProvider, Routes } from './providers/provider';

export interface SendLimiter {
  /**
   * Waits, at most `maxWaitMs`, until `provider` may send one more push: resolves to 0 then, or to the ms
   * after which to come back when it would have to wait longer (or every replica is paused).
   */
  acquire(provider: Pick<PushProvider, 'name' | 'app'>, maxWaitMs: number): Promise<number>;
  /** The provider asked for a pause (429 with Retry-After): every replica holds its sends that long. */
  pause?(provider: Pick<PushProvider, 'name' | 'app'>, ms: number): Promise<void>;
}

export interface ProviderSenderOptions {
  routes: Routes;
  /** Sends in flight at once, across providers. */
  concurrency: number;
  /** Real ms a provider is paused after a 429 that named no Retry-After. Default 1000. */
  throttleMs?: number;
  limiter?: SendLimiter;
  /**
   * Real ms from the start of a batch during which sends may start (or wait on the rate limit); later ones
   * are deferred to the next round. Keeps a batch inside its lease, so no other replica takes it over while
   * it is still being sent. Default: no bound.
   */
  budgetMs?: number;
  /** Wall clock of the pauses and the budget. Default Date.now. */
  now?: () => number;
}

export interface PushSender {
  /** For each push, the answers of the devices it still had to reach. */
  send(pushes: readonly PushSent[]): Promise<DeviceAnswer[][]>;
  close(): Promise<void>;
}

export function createProviderSender(o: ProviderSenderOptions): PushSender {
  const now = o.now ?? Date.now;
  const pausedUntil = new Map<ProviderName, number>();

  async function one(provider: PushProvider, s: DeviceSend, deadline: number): Promise<Outcome> {
    const left = deadline - now();
    if (left <= 0) return { kind: 'deferred', error: 'the batch ran out of time', afterMs: 0 };
    const paused = (pausedUntil.get(provider.name) ?? 0) - now();
    if (paused > 0)
      return { kind: 'deferred', error: `${provider.name} paused after a 429`, afterMs: paused };
    if (o.limiter) {
      const later = await o.limiter.acquire(provider, left);
      if (later > 0) return { kind: 'deferred', error: `${provider.name} rate limit`, afterMs: later };
    }
    const out = await provider.send(s);
    if (out.kind === 'throttled') {
      const ms = out.retryAfterMs ?? o.throttleMs ?? 1000;
      pausedUntil.set(provider.name, Math.max(pausedUntil.get(provider.name) ?? 0, now() + ms));
      await o.limiter?.pause?.(provider, ms).catch(() => undefined);
    }
    return out;
  }

  return {
    async send(pushes) {
      const jobs: Array<{ p: number; provider: PushProvider; s: DeviceSend }> = [];
      pushes.forEach((push, p) => {
        for (const index of devicesToSend(push)) {
          const device = push.devices[index]!;
          jobs.push({
            p,
            provider: o.routes[device.platform],
            s: { push, device, index, idempotencyKey: `${push.pushId}.${index}` },
          });
        }
      });
      const answers: DeviceAnswer[][] = pushes.map(() => []);
      const deadline = now() + (o.budgetMs ?? Number.POSITIVE_INFINITY);
      let next = 0;
      const lane = async () => {
        while (next < jobs.length) {
          const j = jobs[next++]!;
          const outcome = await one(j.provider, j.s, deadline);
          answers[j.p]!.push({ index: j.s.index, provider: j.provider.name, outcome });
        }
      };
      await Promise.all(Array.from({ length: Math.min(o.concurrency, jobs.length) }, lane));
      return answers;
    },
    async close() {
      await Promise.all([...new Set(Object.values(o.routes))].map((p) => p.close?.() ?? Promise.resolve()));
    },
  };
}
