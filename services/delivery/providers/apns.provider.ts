/**
 * Apple Push Notification service over HTTP/2 with token authentication: one long-lived session per
 * process, `POST /3/device/<token>` with an ES256 provider token (from the .p8 key, re-signed every 50
 * minutes: Apple refuses tokens older than an hour and throttles re-signing more often than every 20).
 * APNs has no idempotency key: `apns-id` (derived from the push and the device, so every retry carries the
 * same one) names the notification in APNs' answers and our receipts, and `apns-collapse-id` (the push) makes
 * a duplicate after a lost answer replace the first on the device instead of showing twice.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { connect, constants, type ClientHttp2Session } from 'node:http2';
import { cachedToken, signJwt } from './credentials';
import { classifyApns, transportFailure } from './classify';
import type { DeviceSend, Outcome, PushProvider } from './provider';

export interface ApnsOptions {
  /** The .p8 signing key. */
  key: KeyObject;
  keyId: string;
  teamId: string;
  /** The app's bundle id (apns-topic). */
  topic: string;
  /** Default https://api.push.apple.com (https://api.sandbox.push.apple.com for development builds). */
  endpoint?: string;
  /** Extra CA certificates to trust (a local test server's). */
  ca?: string;
  /** Real ms before a request counts as timed out. */
  timeoutMs: number;
  now?: () => number;
}

/** A UUID (the form apns-id requires) derived from a string, so the same send always has the same id. */
export function apnsIdOf(key: string): string {
  const h = createHash('sha256').update(key).digest('hex');
  const v = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${v}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** apns-collapse-id may hold at most 64 bytes. */
function collapseIdOf(pushId: string): string {
  return Buffer.byteLength(pushId) <= 64 ? pushId : createHash('sha256').update(pushId).digest('hex');
}

export function apnsPayload(s: DeviceSend): string {
  const p = s.push;
  return JSON.stringify({
    aps: { alert: { title: p.title, body: p.body }, ...(p.image ? { 'mutable-content': 1 } : {}) },
    pushId: p.pushId,
    deepLink: p.deepLink,
    ...(p.image ? { image: p.image } : {}),
  });
}

export function createApnsProvider(o: ApnsOptions): PushProvider {
  const now = o.now ?? Date.now;
  const endpoint = o.endpoint ?? 'https://api.push.apple.com';
  const jwt = cachedToken(
    () =>
      Promise.resolve({
        token: signJwt('ES256', o.key, { iss: o.teamId, iat: Math.floor(now() / 1000) }, { kid: o.keyId }),
        expiresInMs: 50 * 60_000,
      }),
    now,
    0,
  );
  let session: ClientHttp2Session | undefined;
  const open = (): ClientHttp2Session => {
    if (session && !session.closed && !session.destroyed) return session;
    const s = connect(endpoint, o.ca ? { ca: o.ca } : {});
    s.on('error', () => undefined); // surfaced on the requests in flight; the next send reconnects
    s.on('goaway', () => s.close());
    s.unref();
    session = s;
    return s;
  };

  function request(
    s: DeviceSend,
    bearer: string,
  ): Promise<{ status: number; apnsId?: string; retryAfter?: string; body: string }> {
    return new Promise((resolve, reject) => {
      const req = open().request({
        ':method': 'POST',
        ':path': `/3/device/${encodeURIComponent(s.device.token)}`,
        authorization: `bearer ${bearer}`,
        'apns-topic': o.topic,
        'apns-push-type': 'alert',
        'apns-priority': '10',
        'apns-id': apnsIdOf(s.idempotencyKey),
        'apns-collapse-id': collapseIdOf(s.push.pushId),
        'content-type': 'application/json',
      });
      req.setTimeout(o.timeoutMs, () => {
        req.close(constants.NGHTTP2_CANCEL);
        reject(new Error(`no answer in ${o.timeoutMs} ms`));
      });
      let status = 0;
      const out: { apnsId?: string; retryAfter?: string } = {};
      req.on('response', (h) => {
        status = Number(h[':status']);
        if (typeof h['apns-id'] === 'string') out.apnsId = h['apns-id'];
        if (typeof h['retry-after'] === 'string') out.retryAfter = h['retry-after'];
      });
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve({ status, ...out, body: Buffer.concat(chunks).toString('utf8') }));
      req.on('error', reject);
      req.end(apnsPayload(s));
    });
  }

  return {
    name: 'apns',
    app: o.topic,
    async send(s: DeviceSend): Promise<Outcome> {
      try {
        const r = await request(s, await jwt.get());
        let reason: string | undefined;
        try {
          reason = r.body ? (JSON.parse(r.body) as { reason?: string }).reason : undefined;
        } catch {
          reason = undefined;
        }
        if (r.status === 403 && reason === 'ExpiredProviderToken') jwt.invalidate();
        return classifyApns(r.status, reason, r.apnsId, r.retryAfter, now());
      } catch (err) {
        return transportFailure('apns', err);
      }
    },
    close(): Promise<void> {
      const s = session;
      session = undefined;
      if (!s || s.closed) return Promise.resolve();
      return new Promise((resolve) => s.close(() => resolve()));
    },
  };
}
