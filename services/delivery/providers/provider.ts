/**
 * A push provider delivers one push to one device and says, in Herald's terms, what became of it. Each
 * provider's wire protocol and error vocabulary stay inside its module (fcm, apns, web-push, webhook, file);
 * what leaves it is an Outcome, which the dispatcher turns into a receipt, a retry, a token removal or a dead
 * letter (services/delivery/outcomes.ts). A provider keeps no memory of what it sent: exactly-once is the
 * contact ledger's job.
 */
import type { Device } from '../../../shared/schemas/common';
import type { PushSent } from '../../../shared/schemas/events.schema';

export type ProviderName = 'fcm' | 'apns' | 'webpush' | 'webhook' | 'file';

/**
 * What became of one send:
 * - `accepted`: the provider took it; `messageId` is its id for it (FCM's message name, APNs' apns-id).
 * - `invalid_token`: the provider says this device token is dead (FCM UNREGISTERED / INVALID_ARGUMENT on the
 *   token, APNs 410 / BadDeviceToken, Web Push 404 / 410): the token leaves the user's devices.
 * - `throttled`: 429; `retryAfterMs` when the provider said how long (Retry-After), and the whole provider
 *   backs off that long.
 * - `retry`: 5xx, a timeout, a connection error: another attempt may get through.
 * - `failed`: anything else (a payload the provider refuses, bad credentials): retrying will not help.
 * - `deferred`: not sent at all (the provider is paused after a 429, its rate limit would make the send wait
 *   too long, the batch ran out of time): try again after `afterMs`; no attempt is spent.
 */
export type Outcome =
  | { kind: 'accepted'; messageId?: string }
  | { kind: 'invalid_token'; error: string }
  | { kind: 'throttled'; error: string; retryAfterMs?: number }
  | { kind: 'retry'; error: string }
  | { kind: 'failed'; error: string }
  | { kind: 'deferred'; error: string; afterMs: number };

/** The push as a provider sends it: the event, rendered, and the device it goes to. */
export interface DeviceSend {
  push: PushSent;
  device: Device;
  /** The device's index in `push.devices`. */
  index: number;
  /** Stable per (push, device): the same on every retry, so a provider that dedupes or collapses can. */
  idempotencyKey: string;
}

export interface PushProvider {
  readonly name: ProviderName;
  /** The app at the provider (FCM project, APNs topic, VAPID subject, webhook host): its rate limit's key. */
  readonly app: string;
  /** Sends one push to one device. Never throws for a provider's answer; only for a bug. */
  send(s: DeviceSend): Promise<Outcome>;
  /** Releases connections (APNs keeps an HTTP/2 session open). */
  close?(): Promise<void>;
}

/** Which provider serves each platform. */
export type Routes = Record<Device['platform'], PushProvider>;
