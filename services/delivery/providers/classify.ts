/**
 * The provider error matrix, as each provider documents it, as pure functions of what came back over the
 * wire. Kept apart from the transports so each row is tested without a server.
 *
 * FCM HTTP v1: https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode
 * APNs: https://developer.apple.com/documentation/usernotifications/handling-notification-responses-from-apns
 * Web Push: RFC 8030 section 5 and 7.3 (404 / 410: the subscription is gone)
 */
import type { Outcome } from './provider';

/** Retry-After as seconds or an HTTP date, in ms from `now`; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

interface FcmErrorBody {
  error?: {
    code?: number;
    message?: string;
    status?: string;
    details?: Array<{
      '@type'?: string;
      errorCode?: string;
      fieldViolations?: Array<{ field?: string; description?: string }>;
    }>;
  };
}

/**
 * One FCM v1 answer. UNREGISTERED (404) always means a dead token; INVALID_ARGUMENT (400) only when it is
 * about the token (a field violation on message.token, or the message says so): a bad payload is a bug of
 * ours, not the user's, and must not cost them their device.
 */
export function classifyFcm(
  status: number,
  body: unknown,
  retryAfter: string | null | undefined,
  now: number,
): Outcome {
  if (status >= 200 && status < 300) {
    const name = (body as { name?: unknown } | null)?.name;
    return typeof name === 'string' ? { kind: 'accepted', messageId: name } : { kind: 'accepted' };
  }
  const e = (body as FcmErrorBody | null)?.error;
  const codes = new Set<string>([
    ...(e?.status ? [e.status] : []),
    ...(e?.details ?? []).flatMap((d) => (d.errorCode ? [d.errorCode] : [])),
  ]);
  const error = `fcm ${status} ${[...codes].join('/') || 'error'}${e?.message ? `: ${e.message}` : ''}`;
  if (codes.has('UNREGISTERED') || (status === 404 && codes.size === 0))
    return { kind: 'invalid_token', error };
  if (codes.has('INVALID_ARGUMENT') || status === 400) {
    const onToken =
      (e?.details ?? []).some((d) => (d.fieldViolations ?? []).some((f) => f.field === 'message.token')) ||
      /registration token/i.test(e?.message ?? '');
    return onToken ? { kind: 'invalid_token', error } : { kind: 'failed', error };
  }
  if (status === 429 || codes.has('QUOTA_EXCEEDED')) {
    const ms = parseRetryAfter(retryAfter, now);
    return ms === undefined ? { kind: 'throttled', error } : { kind: 'throttled', error, retryAfterMs: ms };
  }
  if (status >= 500 || codes.has('UNAVAILABLE') || codes.has('INTERNAL')) return { kind: 'retry', error };
  // 401: the access token expired early or was revoked; the next attempt fetches a fresh one.
  if (status === 401) return { kind: 'retry', error };
  // 403 (credentials, SENDER_ID_MISMATCH, THIRD_PARTY_AUTH_ERROR): ours to fix, not the token's.
  return { kind: 'failed', error };
}

/** APNs reasons that mean the device token is dead (410 Unregistered, and a token APNs does not know). */
const APNS_DEAD_TOKEN = new Set(['BadDeviceToken', 'Unregistered', 'DeviceTokenNotForTopic']);

/** One APNs answer: its :status, the apns-id it echoed, and the JSON body's `reason`. */
export function classifyApns(
  status: number,
  reason: string | undefined,
  apnsId: string | undefined,
  retryAfter: string | null | undefined,
  now: number,
): Outcome {
  if (status === 200) return apnsId ? { kind: 'accepted', messageId: apnsId } : { kind: 'accepted' };
  const error = `apns ${status}${reason ? ` ${reason}` : ''}`;
  if (status === 410 || (reason !== undefined && APNS_DEAD_TOKEN.has(reason)))
    return { kind: 'invalid_token', error };
  if (status === 429) {
    const ms = parseRetryAfter(retryAfter, now);
    return ms === undefined ? { kind: 'throttled', error } : { kind: 'throttled', error, retryAfterMs: ms };
  }
  if (status >= 500) return { kind: 'retry', error };
  // 403 ExpiredProviderToken: the next attempt signs a fresh token.
  if (status === 403 && reason === 'ExpiredProviderToken') return { kind: 'retry', error };
  return { kind: 'failed', error };
}

/** One Web Push (RFC 8030) or webhook answer by HTTP status. */
export function classifyHttp(
  provider: string,
  status: number,
  retryAfter: string | null | undefined,
  now: number,
  messageId?: string,
): Outcome {
  if (status >= 200 && status < 300)
    return messageId ? { kind: 'accepted', messageId } : { kind: 'accepted' };
  const error = `${provider} ${status}`;
  if (status === 404 || status === 410) return { kind: 'invalid_token', error };
  if (status === 429) {
    const ms = parseRetryAfter(retryAfter, now);
    return ms === undefined ? { kind: 'throttled', error } : { kind: 'throttled', error, retryAfterMs: ms };
  }
  if (status >= 500 || status === 408) return { kind: 'retry', error };
  return { kind: 'failed', error };
}

/** A transport failure (timeout, connection refused or reset): worth another attempt. */
export function transportFailure(provider: string, err: unknown): Outcome {
  const msg = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return { kind: 'retry', error: `${provider} transport: ${msg}` };
}
