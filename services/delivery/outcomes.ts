/**
 * Pure: what a round of provider answers makes of a push. Each device keeps a receipt across attempts (in
 * the push as the ledger holds it), so a retry sends only to the devices still waiting and never again to
 * one that accepted. A push is
 * - delivered once every device is settled and at least one accepted it (it counts once, however many
 *   devices took it);
 * - retried later while some device waits on a 5xx, a timeout or a 429, with exponential backoff and jitter
 *   (at least the provider's Retry-After), until that device has had `maxAttempts`; a device that was not
 *   sent at all (deferred: a paused provider, a rate limit, a batch out of time) waits without spending one;
 * - dead when every device is settled and none accepted: dead-lettered with the reason.
 */
import type { Device } from '../../shared/schemas/common';
import type { DeviceReceipt, PushSent } from '../../shared/schemas/events.schema';
import type { Outcome, ProviderName } from './providers/provider';

export interface RetryPolicy {
  /** Sends tried per device before it counts as failed. */
  maxAttempts: number;
  /** Backoff after the first failure, real ms; doubles with each one. */
  baseMs: number;
  /** Longest backoff, real ms. */
  maxMs: number;
}

/**
 * The wait after the `attempt`-th failed send: exponential, capped, with "equal jitter" (half fixed, half
 * random), so replicas that failed together do not come back together, yet every wait still backs off.
 */
export function backoffMs(attempt: number, p: RetryPolicy, random: () => number = Math.random): number {
  const cap = Math.min(p.maxMs, p.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(cap / 2 + random() * (cap / 2));
}

/** The devices of a push still to be sent: those without a settled receipt. */
export function devicesToSend(push: PushSent): number[] {
  const settled = new Set((push.receipts ?? []).filter((r) => r.status !== 'retrying').map((r) => r.device));
  return push.devices.flatMap((_, i) => (settled.has(i) ? [] : [i]));
}

export interface DeviceAnswer {
  index: number;
  provider: ProviderName;
  outcome: Outcome;
}

export type Verdict =
  | { kind: 'delivered'; push: PushSent }
  | { kind: 'retry'; push: PushSent; afterMs: number }
  | { kind: 'dead'; push: PushSent; reason: string };

export interface Settled {
  verdict: Verdict;
  /** Tokens the providers called dead, to leave the user's devices. */
  deadTokens: Device[];
}

export function settle(
  push: PushSent,
  answers: readonly DeviceAnswer[],
  policy: RetryPolicy,
  random: () => number = Math.random,
): Settled {
  const receipts = new Map<number, DeviceReceipt>((push.receipts ?? []).map((r) => [r.device, r]));
  const deadTokens: Device[] = [];
  let waitMs = 0;
  for (const a of answers) {
    const o = a.outcome;
    const before = receipts.get(a.index)?.attempts ?? 0;
    if (o.kind === 'deferred') {
      // Never sent: the device waits as it was, no attempt spent.
      receipts.set(a.index, {
        device: a.index,
        provider: a.provider,
        status: 'retrying',
        error: o.error,
        attempts: before,
      });
      waitMs = Math.max(waitMs, o.afterMs);
      continue;
    }
    const attempts = before + 1;
    const base = { device: a.index, provider: a.provider, attempts };
    let r: DeviceReceipt;
    if (o.kind === 'accepted') {
      r = { ...base, status: 'accepted', ...(o.messageId ? { messageId: o.messageId } : {}) };
    } else if (o.kind === 'invalid_token') {
      r = { ...base, status: 'token_removed', error: o.error };
      const d = push.devices[a.index];
      if (d) deadTokens.push(d);
    } else if (o.kind === 'failed') {
      r = { ...base, status: 'failed', error: o.error };
    } else if (attempts >= policy.maxAttempts) {
      r = { ...base, status: 'failed', error: `${o.error} (gave up after ${attempts} attempts)` };
    } else {
      r = { ...base, status: 'retrying', error: o.error };
      const throttle = o.kind === 'throttled' ? (o.retryAfterMs ?? 0) : 0;
      waitMs = Math.max(waitMs, backoffMs(attempts, policy, random), throttle);
    }
    receipts.set(a.index, r);
  }
  const all = [...receipts.values()].sort((x, y) => x.device - y.device);
  const next: PushSent = { ...push, receipts: all };
  if (all.some((r) => r.status === 'retrying'))
    return { verdict: { kind: 'retry', push: next, afterMs: waitMs }, deadTokens };
  if (all.some((r) => r.status === 'accepted'))
    return { verdict: { kind: 'delivered', push: next }, deadTokens };
  const reason =
    all.length === 0
      ? 'the user has no device'
      : `no device accepted the push: ${all.map((r) => `#${r.device} ${r.error ?? r.status}`).join('; ')}`;
  return { verdict: { kind: 'dead', push: next, reason }, deadTokens };
}
