/**
 * Sends pushes through the providers, each device through the provider of its platform, a bounded number
 * at a time. A provider that answered 429 is paused for its Retry-After (in this process; the shared token
 * bucket paces all replicas): sends to it meanwhile are answered `throttled` without reaching it. When a
 * rate limiter is given, each send first takes a token from its provider's bucket.
 */
import type { PushSent } from '../../shared/schemas/events.schema';
import type { DeviceAnswer } from './outcomes';
import { devicesToSend } from './outcomes';
import type { DeviceSend, Outcome, ProviderName, PushProvider, Routes } from './providers/provider';

export interface SendLimiter {
  /** Waits until `provider` may send one more push. */
  acquire(provider: Pick<PushProvider, 'name' | 'app'>): Promise<void>;
}

export interface ProviderSenderOptions {
  routes: Routes;
  /** Sends in flight at once, across providers. */
  concurrency: number;
  /** Real ms a provider is paused after a 429 that named no Retry-After. Default 1000. */
  throttleMs?: number;
  limiter?: SendLimiter;
  /** Wall clock of the pauses. Default Date.now. */
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

  async function one(provider: PushProvider, s: DeviceSend): Promise<Outcome> {
    const paused = (pausedUntil.get(provider.name) ?? 0) - now();
    if (paused > 0)
      return { kind: 'throttled', error: `${provider.name} paused after a 429`, retryAfterMs: paused };
    if (o.limiter) await o.limiter.acquire(provider);
    const out = await provider.send(s);
    if (out.kind === 'throttled') {
      const until = now() + (out.retryAfterMs ?? o.throttleMs ?? 1000);
      pausedUntil.set(provider.name, Math.max(pausedUntil.get(provider.name) ?? 0, until));
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
      let next = 0;
      const lane = async () => {
        while (next < jobs.length) {
          const j = jobs[next++]!;
          const outcome = await one(j.provider, j.s);
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
