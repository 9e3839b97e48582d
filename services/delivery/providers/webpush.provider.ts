/**
 * Web Push (RFC 8030) with VAPID (RFC 8292) and payload encryption (RFC 8291, aes128gcm), through the
 * `web-push` package. A web device's token is its PushSubscription as JSON ({endpoint, keys: {p256dh,
 * auth}}). The push service's Location header (the message's URI) is the receipt's id; `Topic` (from the
 * push) makes a duplicate replace a copy the service still holds, and the notification's `tag` (the push id,
 * in the payload for the service worker) replaces one already shown.
 */
import { createHash } from 'node:crypto';
import { Agent } from 'node:https';
import webpush, { WebPushError } from 'web-push';
import { z } from 'zod';
import { classifyHttp, transportFailure } from './classify';
import type { DeviceSend, Outcome, PushProvider } from './provider';

export interface WebPushOptions {
  /** VAPID keys, URL-safe base64 (as `web-push generate-vapid-keys` prints them). */
  vapid: { subject: string; publicKey: string; privateKey: string };
  /** Extra CA certificates to trust (a local test server's). */
  ca?: string;
  /** Seconds a push service keeps an undelivered message. */
  ttlS: number;
  timeoutMs: number;
  now?: () => number;
}

const Subscription = z.object({
  endpoint: z.url(),
  keys: z.object({ p256dh: z.string().min(1), auth: z.string().min(1) }),
});

/** The payload a service worker receives (decrypted). */
export function webPushPayload(s: DeviceSend): string {
  const p = s.push;
  return JSON.stringify({
    title: p.title,
    body: p.body,
    tag: p.pushId,
    data: { pushId: p.pushId, deepLink: p.deepLink },
    ...(p.image ? { image: p.image } : {}),
  });
}

/** Throws (with the key's name) when the VAPID keys are not what web-push accepts. */
export function checkVapid(v: WebPushOptions['vapid']): void {
  webpush.getVapidHeaders('https://push.example', v.subject, v.publicKey, v.privateKey, 'aes128gcm');
}

export function createWebPushProvider(o: WebPushOptions): PushProvider {
  const now = o.now ?? Date.now;
  const agent = new Agent({ keepAlive: true, ...(o.ca ? { ca: o.ca } : {}) });
  return {
    name: 'webpush',
    app: o.vapid.subject,
    async send(s: DeviceSend): Promise<Outcome> {
      let sub: z.infer<typeof Subscription>;
      try {
        sub = Subscription.parse(JSON.parse(s.device.token));
      } catch {
        return { kind: 'invalid_token', error: 'webpush: the device token is not a PushSubscription' };
      }
      try {
        const res = await webpush.sendNotification(sub, webPushPayload(s), {
          vapidDetails: o.vapid,
          TTL: o.ttlS,
          topic: createHash('sha256').update(s.push.pushId).digest('base64url').slice(0, 32),
          urgency: 'normal',
          timeout: o.timeoutMs,
          agent,
        });
        const location = res.headers.location;
        return classifyHttp(
          'webpush',
          res.statusCode,
          undefined,
          now(),
          typeof location === 'string' ? location : undefined,
        );
      } catch (err) {
        if (err instanceof WebPushError) {
          const ra = err.headers['retry-after'];
          return classifyHttp('webpush', err.statusCode, typeof ra === 'string' ? ra : undefined, now());
        }
        return transportFailure('webpush', err);
      }
    },
    close(): Promise<void> {
      agent.destroy();
      return Promise.resolve();
    },
  };
}
