/** The pure parts of delivery through providers: the error matrix, Retry-After, backoff, settling a push. */
import {
  classifyApns,
  classifyFcm,
  classifyHttp,
  parseRetryAfter,
} from '../../services/delivery/providers/classify';
import { apnsIdOf } from '../../services/delivery/providers/apns.provider';
import { webhookSignature } from '../../services/delivery/providers/webhook.provider';
import { backoffMs, devicesToSend, settle } from '../../services/delivery/outcomes';
import type { PushSent } from '../../shared/schemas/events.schema';

const NOW = Date.parse('2026-11-22T10:00:00Z');
const fcmErr = (code: string, message = code, field?: string) => ({
  error: {
    code: 400,
    message,
    status: code,
    details: [
      { '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: code },
      ...(field
        ? [{ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field }] }]
        : []),
    ],
  },
});

describe('the FCM v1 error matrix', () => {
  it('accepts with the message name', () => {
    expect(classifyFcm(200, { name: 'projects/p/messages/1' }, null, NOW)).toEqual({
      kind: 'accepted',
      messageId: 'projects/p/messages/1',
    });
  });
  it('removes the token on UNREGISTERED and on INVALID_ARGUMENT about the token, not about the payload', () => {
    expect(classifyFcm(404, fcmErr('UNREGISTERED'), null, NOW).kind).toBe('invalid_token');
    expect(classifyFcm(400, fcmErr('INVALID_ARGUMENT', 'bad', 'message.token'), null, NOW).kind).toBe(
      'invalid_token',
    );
    expect(
      classifyFcm(
        400,
        fcmErr('INVALID_ARGUMENT', 'The registration token is not a valid FCM registration token'),
        null,
        NOW,
      ).kind,
    ).toBe('invalid_token');
    expect(classifyFcm(400, fcmErr('INVALID_ARGUMENT', 'Invalid JSON payload'), null, NOW).kind).toBe(
      'failed',
    );
  });
  it('backs off on 429 for Retry-After, retries 5xx and 401, fails 403', () => {
    expect(classifyFcm(429, fcmErr('QUOTA_EXCEEDED'), '12', NOW)).toMatchObject({
      kind: 'throttled',
      retryAfterMs: 12_000,
    });
    expect(classifyFcm(503, fcmErr('UNAVAILABLE'), null, NOW).kind).toBe('retry');
    expect(classifyFcm(500, null, null, NOW).kind).toBe('retry');
    expect(classifyFcm(401, null, null, NOW).kind).toBe('retry');
    expect(classifyFcm(403, fcmErr('SENDER_ID_MISMATCH'), null, NOW).kind).toBe('failed');
  });
});

describe('the APNs error matrix', () => {
  it('accepts with the apns-id; removes the token on 410 and BadDeviceToken', () => {
    expect(classifyApns(200, undefined, 'id-1', null, NOW)).toEqual({ kind: 'accepted', messageId: 'id-1' });
    expect(classifyApns(410, 'Unregistered', 'id', null, NOW).kind).toBe('invalid_token');
    expect(classifyApns(400, 'BadDeviceToken', 'id', null, NOW).kind).toBe('invalid_token');
    expect(classifyApns(400, 'PayloadTooLarge', 'id', null, NOW).kind).toBe('failed');
  });
  it('throttles on 429, retries 5xx and an expired provider token', () => {
    expect(classifyApns(429, 'TooManyRequests', 'id', null, NOW)).toEqual({
      kind: 'throttled',
      error: 'apns 429 TooManyRequests',
    });
    expect(classifyApns(503, 'ServiceUnavailable', 'id', null, NOW).kind).toBe('retry');
    expect(classifyApns(403, 'ExpiredProviderToken', 'id', null, NOW).kind).toBe('retry');
    expect(classifyApns(403, 'InvalidProviderToken', 'id', null, NOW).kind).toBe('failed');
  });
  it('derives one UUID apns-id per send, the same on every retry', () => {
    expect(apnsIdOf('push-1.0')).toBe(apnsIdOf('push-1.0'));
    expect(apnsIdOf('push-1.0')).not.toBe(apnsIdOf('push-1.1'));
    expect(apnsIdOf('push-1.0')).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });
});

describe('Web Push and webhook answers', () => {
  it('removes the subscription on 404 and 410; retries 5xx and 408; throttles 429', () => {
    expect(classifyHttp('webpush', 201, null, NOW, 'loc')).toEqual({ kind: 'accepted', messageId: 'loc' });
    expect(classifyHttp('webpush', 410, null, NOW).kind).toBe('invalid_token');
    expect(classifyHttp('webpush', 404, null, NOW).kind).toBe('invalid_token');
    expect(classifyHttp('webhook', 502, null, NOW).kind).toBe('retry');
    expect(classifyHttp('webhook', 408, null, NOW).kind).toBe('retry');
    expect(classifyHttp('webhook', 400, null, NOW).kind).toBe('failed');
    expect(classifyHttp('webhook', 429, '3', NOW)).toMatchObject({ kind: 'throttled', retryAfterMs: 3000 });
  });
  it('signs the timestamp and the body', () => {
    const sig = webhookSignature('secret', 1_700_000_000, '{"a":1}');
    expect(sig).toMatch(/^t=1700000000,v1=[0-9a-f]{64}$/);
    expect(webhookSignature('secret', 1_700_000_001, '{"a":1}')).not.toBe(sig);
    expect(webhookSignature('secret', 1_700_000_000, '{"a":2}')).not.toBe(sig);
  });
});

describe('Retry-After', () => {
  it('reads seconds and HTTP dates; ignores what it cannot read', () => {
    expect(parseRetryAfter('120', NOW)).toBe(120_000);
    expect(parseRetryAfter(new Date(NOW + 5000).toUTCString(), NOW)).toBe(5000);
    expect(parseRetryAfter('soon', NOW)).toBeUndefined();
    expect(parseRetryAfter(undefined, NOW)).toBeUndefined();
  });
});

describe('backoff', () => {
  const p = { maxAttempts: 6, baseMs: 1000, maxMs: 10_000 };
  it('doubles, is capped, and jitters between half and all of it', () => {
    expect([1, 2, 3, 4, 5].map((a) => backoffMs(a, p, () => 0))).toEqual([500, 1000, 2000, 4000, 5000]);
    expect([1, 2, 3, 4, 5].map((a) => backoffMs(a, p, () => 1))).toEqual([1000, 2000, 4000, 8000, 10_000]);
  });
});

describe('settling a push', () => {
  const push: PushSent = {
    v: 1,
    pushId: 'p1',
    userId: 'u1',
    strategy: 's',
    targetId: 't',
    candidate: { id: 'c', kind: 'sale', category: 'shoes' },
    title: 'T',
    body: 'B',
    deepLink: 'x://',
    devices: [
      { platform: 'android', token: 'token-aaa' },
      { platform: 'ios', token: 'token-bbb' },
      { platform: 'ios', token: 'token-ccc' },
    ],
    score: 1,
    sentAt: new Date(NOW).toISOString(),
  };
  const policy = { maxAttempts: 3, baseMs: 1000, maxMs: 60_000 };

  it('waits for the slowest device, at least its Retry-After, and resends only the devices still waiting', () => {
    const s = settle(
      push,
      [
        { index: 0, provider: 'fcm', outcome: { kind: 'accepted', messageId: 'm0' } },
        { index: 1, provider: 'apns', outcome: { kind: 'throttled', error: '429', retryAfterMs: 20_000 } },
        { index: 2, provider: 'apns', outcome: { kind: 'invalid_token', error: '410' } },
      ],
      policy,
      () => 0,
    );
    expect(s.verdict.kind).toBe('retry');
    expect(s.verdict.kind === 'retry' && s.verdict.afterMs).toBe(20_000);
    expect(s.deadTokens).toEqual([push.devices[2]]);
    expect(devicesToSend(s.verdict.push)).toEqual([1]);
  });

  it('spends no attempt on a device that was deferred (never sent), and waits as long as it was told', () => {
    const s = settle(
      push,
      [
        { index: 0, provider: 'fcm', outcome: { kind: 'accepted' } },
        {
          index: 1,
          provider: 'apns',
          outcome: { kind: 'deferred', error: 'apns rate limit', afterMs: 1500 },
        },
        { index: 2, provider: 'apns', outcome: { kind: 'deferred', error: 'apns rate limit', afterMs: 700 } },
      ],
      policy,
      () => 0,
    );
    expect(s.verdict.kind).toBe('retry');
    expect(s.verdict.kind === 'retry' && s.verdict.afterMs).toBe(1500);
    expect(s.verdict.push.receipts!.map((r) => [r.status, r.attempts])).toEqual([
      ['accepted', 1],
      ['retrying', 0],
      ['retrying', 0],
    ]);
    expect(devicesToSend(s.verdict.push)).toEqual([1, 2]);
  });

  it('counts a push delivered when a device accepted and the rest settled; dead when none did', () => {
    const first = settle(
      push,
      [{ index: 0, provider: 'fcm', outcome: { kind: 'retry', error: 'fcm 503' } }],
      policy,
    );
    const again = settle(
      { ...first.verdict.push, devices: [push.devices[0]!] },
      [{ index: 0, provider: 'fcm', outcome: { kind: 'retry', error: 'fcm 503' } }],
      policy,
    );
    expect(again.verdict.kind).toBe('retry');
    const last = settle(
      again.verdict.push,
      [{ index: 0, provider: 'fcm', outcome: { kind: 'retry', error: 'fcm 503' } }],
      policy,
    );
    expect(last.verdict.kind).toBe('dead');
    expect(last.verdict.kind === 'dead' && last.verdict.reason).toContain('gave up after 3 attempts');
    const ok = settle(
      { ...push, devices: [push.devices[0]!] },
      [{ index: 0, provider: 'fcm', outcome: { kind: 'accepted' } }],
      policy,
    );
    expect(ok.verdict.kind).toBe('delivered');
    expect(ok.verdict.push.receipts).toEqual([
      { device: 0, provider: 'fcm', status: 'accepted', attempts: 1 },
    ]);
  });
});
