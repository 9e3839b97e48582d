/**
 * Firebase Cloud Messaging, HTTP v1: `POST {endpoint}/v1/projects/{project}/messages:send` with a bearer
 * token from the service account (an RS256 JWT assertion exchanged at the token endpoint, cached until
 * shortly before it expires). FCM has no idempotency key; the Android notification's `tag` is the push id,
 * so a duplicate after a lost answer replaces the first in the tray instead of showing twice.
 */
import { signJwt, cachedToken, type GoogleServiceAccount } from './credentials';
import { classifyFcm, transportFailure } from './classify';
import type { DeviceSend, Outcome, PushProvider } from './provider';

export interface FcmOptions {
  account: GoogleServiceAccount;
  /** Base URL of the FCM API. Default https://fcm.googleapis.com. */
  endpoint?: string;
  /** The OAuth token endpoint. Default: the service account's token_uri. */
  tokenUri?: string;
  /** Real ms before a request counts as timed out. */
  timeoutMs: number;
  /** Wall-clock source for credentials and Retry-After dates. Default Date.now. */
  now?: () => number;
}

const SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';

/** The FCM v1 request body of one send. */
export function fcmMessage(s: DeviceSend): unknown {
  const p = s.push;
  return {
    message: {
      token: s.device.token,
      notification: { title: p.title, body: p.body, ...(p.image ? { image: p.image } : {}) },
      data: { pushId: p.pushId, deepLink: p.deepLink, strategy: p.strategy },
      android: { notification: { tag: p.pushId } },
    },
  };
}

export function createFcmProvider(o: FcmOptions): PushProvider {
  const now = o.now ?? Date.now;
  const endpoint = (o.endpoint ?? 'https://fcm.googleapis.com').replace(/\/$/, '');
  const tokenUri = o.tokenUri ?? o.account.tokenUri;
  const url = `${endpoint}/v1/projects/${encodeURIComponent(o.account.projectId)}/messages:send`;
  const token = cachedToken(async () => {
    const iat = Math.floor(now() / 1000);
    const assertion = signJwt(
      'RS256',
      o.account.key,
      { iss: o.account.clientEmail, scope: SCOPE, aud: tokenUri, iat, exp: iat + 3600 },
      o.account.keyId ? { kid: o.account.keyId } : {},
    );
    const res = await fetch(tokenUri, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }),
      signal: AbortSignal.timeout(o.timeoutMs),
    });
    const body = (await res.json().catch(() => ({}))) as { access_token?: string; expires_in?: number };
    if (!res.ok || !body.access_token)
      throw new Error(`fcm oauth: ${tokenUri} answered ${res.status} without an access token`);
    return { token: body.access_token, expiresInMs: (body.expires_in ?? 3600) * 1000 };
  }, now);

  return {
    name: 'fcm',
    app: o.account.projectId,
    async send(s: DeviceSend): Promise<Outcome> {
      try {
        const bearer = await token.get();
        const res = await fetch(url, {
          method: 'POST',
          headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
          body: JSON.stringify(fcmMessage(s)),
          signal: AbortSignal.timeout(o.timeoutMs),
        });
        const body: unknown = await res.json().catch(() => null);
        if (res.status === 401) token.invalidate();
        return classifyFcm(res.status, body, res.headers.get('retry-after'), now());
      } catch (err) {
        return transportFailure('fcm', err);
      }
    },
  };
}
