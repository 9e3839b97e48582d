/**
 * Delivery through the real providers' wire protocols, against local servers on 127.0.0.1 (FCM v1 with its
 * OAuth token endpoint, APNs over HTTP/2 + TLS, a Web Push service that decrypts, a signed webhook): the
 * error matrix row by row, retries and give-ups, an outage, a 429 with Retry-After, token removal seen in
 * state, and a push delivered once however many devices and attempts it took. The dispatcher runs on real
 * Redis; nothing of the providers' clients is mocked.
 */
import { ManualClock } from '../../shared/clock';
import { ConfigError } from '../../shared/errors';
import { createLogger } from '../../shared/logger';
import type { Device } from '../../shared/schemas/common';
import { PushSentV1, type PushSent } from '../../shared/schemas/events.schema';
import type { Winner } from '../../shared/schemas/jobs.schema';
import { loadConfig } from '../../shared/config';
import { createDispatcher } from '../../services/delivery/dispatcher';
import { createRateLimiter, limitsFrom } from '../../services/delivery/limiter';
import { createRoutes } from '../../services/delivery/providers';
import { createProviderSender } from '../../services/delivery/router';
import { createState } from '../../services/state';
import { createDailySale } from '../../services/strategies/daily-sale/daily-sale.strategy';
import { redisNamespace } from '../helpers/redis-ns';
import { waitFor } from '../helpers/wait';
import {
  apnsServer,
  fcmError,
  fcmServer,
  scratch,
  webhookServer,
  webPushServer,
  type Seen,
} from '../helpers/push-servers';

const T0 = Date.parse('2026-11-22T10:00:00Z');
const HOUR = 3_600_000;
const RETRY = { maxAttempts: 4, baseMs: 1000, maxMs: 8000 };
const SECRET = 'a-webhook-secret-of-ours';

type Fcm = Awaited<ReturnType<typeof fcmServer>>;
type Apns = Awaited<ReturnType<typeof apnsServer>>;
type WebPush = Awaited<ReturnType<typeof webPushServer>>;
type Webhook = Awaited<ReturnType<typeof webhookServer>>;

let dir: ReturnType<typeof scratch>;
let fcm: Fcm;
let apns: Apns;
let web: WebPush;
let hook: Webhook;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  dir = scratch();
  const tls = dir.tls();
  fcm = await fcmServer('herald-test');
  apns = await apnsServer(tls, { keyId: 'KEY1234567', teamId: 'TEAM123456', topic: 'com.example.app' });
  web = await webPushServer(tls);
  hook = await webhookServer(SECRET);
  const vapid = (await import('web-push')).default.generateVAPIDKeys();
  env = {
    PUSH_ANDROID: 'fcm',
    PUSH_IOS: 'apns',
    PUSH_WEB: 'webpush',
    FCM_SERVICE_ACCOUNT_FILE: dir.file('sa.json', JSON.stringify(fcm.serviceAccount)),
    FCM_ENDPOINT: fcm.url,
    APNS_KEY_FILE: dir.file('AuthKey.p8', apns.p8),
    APNS_KEY_ID: 'KEY1234567',
    APNS_TEAM_ID: 'TEAM123456',
    APNS_TOPIC: 'com.example.app',
    APNS_ENDPOINT: apns.url,
    APNS_CA_FILE: tls.certFile,
    WEBPUSH_VAPID_PUBLIC_KEY: vapid.publicKey,
    WEBPUSH_VAPID_PRIVATE_KEY: vapid.privateKey,
    WEBPUSH_SUBJECT: 'mailto:ops@example.com',
    WEBPUSH_CA_FILE: tls.certFile,
    WEBHOOK_URL: hook.url,
    WEBHOOK_SECRET: SECRET,
    PUSH_TIMEOUT_MS: '400',
    SINK_FILE: `${dir.dir}/pushes.jsonl`,
  };
});

afterAll(async () => {
  await Promise.all([fcm.close(), apns.close(), web.close(), hook.close()]);
  dir.remove();
});

function setup(extra: NodeJS.ProcessEnv = {}, limits?: { fcm: number; budgetMs: number }) {
  const ns = redisNamespace();
  const clock = new ManualClock(T0);
  const state = createState(ns.redis, ns.prefix, clock, {
    contactWindowMs: 20 * HOUR,
    pushRecordMs: 8 * 24 * HOUR,
  });
  const routes = createRoutes(loadConfig({ ...env, ...extra }))!;
  const limiter = limits
    ? createRateLimiter({
        store: state.rateLimits,
        limits: limitsFrom({ fcm: limits.fcm }, 1),
        logger: createLogger('test', 'silent'),
      })
    : undefined;
  const sender = createProviderSender({
    routes,
    concurrency: limits ? 1 : 16,
    now: () => clock.now(),
    ...(limiter && limits ? { limiter, budgetMs: limits.budgetMs } : {}),
  });
  const dispatcher = createDispatcher({
    state,
    strategies: new Map([['daily-sale', createDailySale()]]),
    sender,
    retry: RETRY,
    random: () => 0.5,
    clock,
    batchSize: 100,
    leaseRealMs: 30_000,
    logger: createLogger('test', 'silent'),
  });
  const t = {
    ns,
    clock,
    state,
    dispatcher,
    async user(userId: string, devices: Device[]) {
      await state.users.fold({
        profiles: [
          {
            v: 1,
            eventId: `p-${userId}`,
            userId,
            timeZone: 'Europe/Madrid',
            locale: 'es-ES',
            pushOptIn: true,
            devices,
            at: new Date(T0).toISOString(),
          },
        ],
      });
      const w: Winner = {
        decisionId: `push-${userId}`,
        strategy: 'daily-sale',
        targetId: 'ds-2026-11-22',
        candidate: {
          id: 'sale-1',
          kind: 'sale',
          category: 'shoes',
          title: 'Shoes',
          discount: 20,
          affinity: 0,
        },
        score: 0.4,
        at: T0,
      };
      await state.decisions.offerWinners([{ userId, winner: w }]);
      await state.delivery.book([{ userId, due: clock.now() }]);
    },
    /** Ticks, moving the clock on by the longest backoff between ticks, until nothing is booked. */
    async drain(rounds = 12) {
      for (let i = 0; i < rounds; i++) {
        await dispatcher.tick();
        const b = await state.delivery.backlog(T0 + 1e12);
        if (b.due === 0 && b.inflight === 0) return;
        clock.advance(RETRY.maxMs);
      }
      throw new Error('delivery did not drain');
    },
    /** What the outbox holds: pushes for push.sent, and dead letters with their reasons. */
    async outbox() {
      const entries = await state.delivery.readOutbox('test', 1000, 0);
      return {
        sent: entries.filter((e) => !e.dead).map((e) => PushSentV1.parse(JSON.parse(e.json))),
        dead: entries
          .filter((e) => e.dead)
          .map((e) => ({ push: JSON.parse(e.json) as PushSent, reason: e.dead! })),
      };
    },
    async devicesOf(userId: string) {
      return (await state.users.getUsers([userId])).get(userId)?.devices ?? [];
    },
    close: async () => {
      await sender.close();
      await ns.drop();
    },
  };
  return t;
}

const android = (token: string): Device => ({ platform: 'android', token });
const ios = (token: string): Device => ({ platform: 'ios', token });
const seenFor = (s: { seen: Seen[] }, pushId: string) => s.seen.filter((x) => x.pushId === pushId);

describe('delivery through real provider protocols', () => {
  let t: ReturnType<typeof setup>;
  afterEach(async () => {
    fcm.script = undefined;
    apns.script = undefined;
    web.script = undefined;
    hook.script = undefined;
    await t.close();
  });

  it('FCM v1: OAuth with a verified RS256 assertion, one access token reused, the message name as receipt', async () => {
    t = setup();
    await t.user('f1', [android('fcm-token-f1')]);
    await t.user('f2', [android('fcm-token-f2')]);
    expect((await t.dispatcher.tick()).sent).toBe(2);
    const { sent } = await t.outbox();
    expect(sent.map((p) => p.userId).sort()).toEqual(['f1', 'f2']);
    for (const p of sent) {
      expect(p.receipts).toHaveLength(1);
      expect(p.receipts![0]).toMatchObject({ device: 0, provider: 'fcm', status: 'accepted', attempts: 1 });
      expect(p.receipts![0]!.messageId).toMatch(/^projects\/herald-test\/messages\/[0-9a-f]+$/);
    }
    expect(fcm.tokensIssued()).toBe(1);
    const m = seenFor(fcm, 'push-f1')[0]!.message as { notification: { title: string } };
    expect(m.notification.title).toBe(sent.find((p) => p.userId === 'f1')!.title);
  });

  it('FCM UNREGISTERED removes the token from the user in state and dead-letters a push no device took', async () => {
    t = setup();
    fcm.script = ({ token }) => (token === 'fcm-dead-u1' ? fcmError(404, 'UNREGISTERED') : undefined);
    await t.user('u1', [android('fcm-dead-u1')]);
    const r = await t.dispatcher.tick();
    expect(r).toMatchObject({ sent: 0, dead: 1 });
    expect(await t.devicesOf('u1')).toEqual([]);
    const { sent, dead } = await t.outbox();
    expect(sent).toEqual([]);
    expect(dead).toHaveLength(1);
    expect(dead[0]!.reason).toMatch(/no device accepted the push: #0 fcm 404 .*UNREGISTERED/);
    expect(dead[0]!.push.receipts?.[0]).toMatchObject({ status: 'token_removed', provider: 'fcm' });
    // Never sent again by itself: a replay finds it in the sent record.
    expect(await t.state.delivery.wereSent([{ userId: 'u1', pushId: 'push-u1' }])).toEqual([true]);
  });

  it('FCM INVALID_ARGUMENT removes the token only when it is about the token', async () => {
    t = setup();
    fcm.script = ({ token }) =>
      token === 'fcm-bad-token'
        ? fcmError(
            400,
            'INVALID_ARGUMENT',
            'The registration token is not a valid FCM registration token',
            'message.token',
          )
        : token === 'fcm-bad-payload'
          ? fcmError(400, 'INVALID_ARGUMENT', 'Invalid value at message.data')
          : undefined;
    await t.user('a', [android('fcm-bad-token')]);
    await t.user('b', [android('fcm-bad-payload')]);
    expect(await t.dispatcher.tick()).toMatchObject({ sent: 0, dead: 2, retried: 0 });
    expect(await t.devicesOf('a')).toEqual([]);
    expect(await t.devicesOf('b')).toEqual([android('fcm-bad-payload')]);
    const { dead } = await t.outbox();
    const of = (u: string) => dead.find((d) => d.push.userId === u)!.push.receipts![0]!.status;
    expect([of('a'), of('b')]).toEqual(['token_removed', 'failed']);
    // A permanent failure is not retried.
    expect(seenFor(fcm, 'push-b')).toHaveLength(1);
  });

  it('APNs over HTTP/2: verified ES256 provider token and headers; the apns-id is the receipt and is the same on a retry', async () => {
    t = setup();
    apns.script = ({ n, pushId }) =>
      pushId === 'push-i1' && n === 0 ? { status: 503, body: { reason: 'ServiceUnavailable' } } : undefined;
    await t.user('i1', [ios('apns-token-i1')]);
    expect(await t.dispatcher.tick()).toMatchObject({ sent: 0, retried: 1 });
    await t.drain();
    const { sent } = await t.outbox();
    expect(sent).toHaveLength(1);
    const ids = seenFor(apns, 'push-i1').map((s) => s.headers['apns-id']);
    expect(ids).toHaveLength(2);
    expect(ids[0]).toBe(ids[1]);
    expect(sent[0]!.receipts).toEqual([
      { device: 0, provider: 'apns', status: 'accepted', attempts: 2, messageId: ids[0] },
    ]);
  });

  it('APNs 410 Unregistered and 400 BadDeviceToken remove the tokens; the live device still gets the push once', async () => {
    t = setup();
    apns.script = ({ token }) =>
      token === 'apns-gone'
        ? { status: 410, body: { reason: 'Unregistered', timestamp: T0 } }
        : token === 'apns-bad'
          ? { status: 400, body: { reason: 'BadDeviceToken' } }
          : undefined;
    await t.user('i2', [ios('apns-gone'), ios('apns-bad'), ios('apns-live')]);
    expect(await t.dispatcher.tick()).toMatchObject({ sent: 1 });
    expect(await t.devicesOf('i2')).toEqual([ios('apns-live')]);
    const { sent } = await t.outbox();
    expect(sent[0]!.receipts!.map((r) => r.status)).toEqual(['token_removed', 'token_removed', 'accepted']);
  });

  it('Web Push: the push service decrypts the payload with the subscription keys; 410 removes the subscription', async () => {
    t = setup();
    const live = web.subscribe('w-live');
    const gone = web.subscribe('w-gone');
    web.script = ({ token }) => (token === 'w-gone' ? { status: 410 } : undefined);
    await t.user('w1', [
      { platform: 'web', token: live },
      { platform: 'web', token: gone },
    ]);
    expect(await t.dispatcher.tick()).toMatchObject({ sent: 1 });
    const { sent } = await t.outbox();
    const got = web.seen.find((s) => s.token === 'w-live')!.message;
    expect(got).toMatchObject({ title: sent[0]!.title, body: sent[0]!.body, tag: 'push-w1' });
    expect(sent[0]!.receipts![0]!.status).toBe('accepted');
    expect(sent[0]!.receipts![0]!.messageId).toContain(`${web.url}/m/`);
    expect(await t.devicesOf('w1')).toEqual([{ platform: 'web', token: live }]);
  });

  it('a signed webhook: the receiver checks the HMAC; 5xx is retried with the same idempotency key', async () => {
    t = setup({ PUSH_ANDROID: 'webhook' });
    hook.script = ({ n }) => (n === 0 ? { status: 502 } : undefined);
    await t.user('h1', [android('hook-token-h1')]);
    await t.drain();
    const seen = seenFor(hook, 'push-h1');
    expect(seen.map((s) => s.status)).toEqual([502, 200]);
    expect(seen[0]!.headers['idempotency-key']).toBe(seen[1]!.headers['idempotency-key']);
    const { sent } = await t.outbox();
    expect(sent[0]!.receipts![0]).toMatchObject({ provider: 'webhook', status: 'accepted', attempts: 2 });
  });

  it('several devices on several providers: each live one gets it, a retry resends only the device that failed, the push counts once', async () => {
    t = setup();
    const sub = web.subscribe('w-multi');
    let failures = 0;
    fcm.script = ({ token }) =>
      token === 'fcm-multi-flaky' && failures++ < 2 ? fcmError(503, 'UNAVAILABLE') : undefined;
    await t.user('m1', [
      android('fcm-multi-ok'),
      android('fcm-multi-flaky'),
      ios('apns-multi'),
      { platform: 'web', token: sub },
    ]);
    await t.drain();
    expect(fcm.seen.filter((s) => s.token === 'fcm-multi-ok')).toHaveLength(1);
    expect(fcm.seen.filter((s) => s.token === 'fcm-multi-flaky').map((s) => s.status)).toEqual([
      503, 503, 200,
    ]);
    expect(apns.seen.filter((s) => s.token === 'apns-multi')).toHaveLength(1);
    expect(web.seen.filter((s) => s.token === 'w-multi')).toHaveLength(1);
    const { sent } = await t.outbox();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.receipts!.map((r) => [r.provider, r.status, r.attempts])).toEqual([
      ['fcm', 'accepted', 1],
      ['fcm', 'accepted', 3],
      ['apns', 'accepted', 1],
      ['webpush', 'accepted', 1],
    ]);
    expect((await t.state.delivery.sentOf('m1')).map((x) => x.pushId)).toEqual(['push-m1']);
  });

  it('5xx forever: retried with backoff up to the limit, then dead-lettered with the reason', async () => {
    t = setup();
    fcm.script = ({ token }) => (token === 'fcm-down' ? fcmError(500, 'INTERNAL') : undefined);
    await t.user('d1', [android('fcm-down')]);
    const booked: number[] = [];
    for (let i = 0; i < 3; i++) {
      expect(await t.dispatcher.tick()).toMatchObject({ retried: 1 });
      booked.push((await t.state.delivery.bookingOf('d1'))!.due - t.clock.now());
      t.clock.advance(RETRY.maxMs);
    }
    // Equal jitter at 0.5: three quarters of 1 s, 2 s, 4 s.
    expect(booked).toEqual([750, 1500, 3000]);
    expect(await t.dispatcher.tick()).toMatchObject({ dead: 1 });
    expect(seenFor(fcm, 'push-d1')).toHaveLength(RETRY.maxAttempts);
    const { sent, dead } = await t.outbox();
    expect(sent).toEqual([]);
    expect(dead[0]!.reason).toMatch(/fcm 500 INTERNAL.*gave up after 4 attempts/);
    expect(await t.devicesOf('d1')).toEqual([android('fcm-down')]);
  });

  it('a timeout is retried; the answer that came too late does not make the push count twice', async () => {
    t = setup();
    let slow = true;
    apns.script = ({ token }) =>
      token === 'apns-slow' && slow ? ((slow = false), { status: 200, delayMs: 1000 }) : undefined;
    await t.user('s1', [ios('apns-slow')]);
    expect(await t.dispatcher.tick()).toMatchObject({ retried: 1 });
    await t.drain();
    const { sent } = await t.outbox();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.receipts![0]).toMatchObject({ status: 'accepted', attempts: 2 });
    // The provider may have shown it twice (no idempotency at APNs): both carried one apns-collapse-id.
    const h = seenFor(apns, 'push-s1').map((s) => s.headers['apns-collapse-id']);
    expect(new Set(h)).toEqual(new Set(['push-s1']));
  });

  it('a provider outage (all 5xx, then healthy): every push delivered exactly once', async () => {
    t = setup();
    let down = true;
    fcm.script = ({ token }) =>
      token.startsWith('fcm-out-') && down ? fcmError(503, 'UNAVAILABLE') : undefined;
    const ids = Array.from({ length: 30 }, (_, i) => `o${i}`);
    for (const u of ids) await t.user(u, [android(`fcm-out-${u}`)]);
    for (let i = 0; i < 2; i++) {
      expect(await t.dispatcher.tick()).toMatchObject({ sent: 0, retried: 30 });
      t.clock.advance(RETRY.maxMs);
    }
    down = false;
    await t.drain();
    const { sent, dead } = await t.outbox();
    expect(dead).toEqual([]);
    expect(sent.map((p) => p.userId).sort()).toEqual([...ids].sort());
    for (const u of ids) {
      expect(seenFor(fcm, `push-${u}`).filter((s) => s.status === 200)).toHaveLength(1);
    }
    // Later ticks send nothing more.
    t.clock.advance(HOUR);
    expect((await t.dispatcher.tick()).claimed).toBe(0);
  });

  it('a rate limit the batch cannot wait for defers the sends (no attempt spent) to when the bucket has tokens', async () => {
    t = setup({}, { fcm: 1, budgetMs: 200 });
    for (const u of ['l1', 'l2', 'l3']) await t.user(u, [android(`fcm-limited-${u}`)]);
    expect(await t.dispatcher.tick()).toMatchObject({ claimed: 3, sent: 1, retried: 2 });
    expect(fcm.seen.filter((s) => s.token.startsWith('fcm-limited-'))).toHaveLength(1);
    const dues = await Promise.all(['l2', 'l3'].map(async (u) => (await t.state.delivery.bookingOf(u))!.due));
    // One token a second: the deferred come back when the bucket has one again, not at once.
    for (const d of dues) {
      expect(d - T0).toBeGreaterThanOrEqual(900);
      expect(d - T0).toBeLessThanOrEqual(1000);
    }
  });

  it('429 with Retry-After pauses that provider for that long; then every push goes out once', async () => {
    t = setup();
    let throttled = false;
    fcm.script = ({ token }) =>
      token === 'fcm-429-a' && !throttled
        ? ((throttled = true), { ...fcmError(429, 'QUOTA_EXCEEDED'), headers: { 'retry-after': '30' } })
        : undefined;
    await t.user('r1', [android('fcm-429-a')]);
    expect(await t.dispatcher.tick()).toMatchObject({ retried: 1 });
    expect((await t.state.delivery.bookingOf('r1'))!.due).toBe(T0 + 30_000);
    // Another push for the same provider, meanwhile: it does not reach FCM while the pause lasts.
    t.clock.advance(10_000);
    await t.user('r2', [android('fcm-429-b')]);
    expect(await t.dispatcher.tick()).toMatchObject({ claimed: 1, retried: 1 });
    expect(seenFor(fcm, 'push-r2')).toHaveLength(0);
    // An APNs device is not held back by FCM's pause.
    await t.user('r3', [ios('apns-429-c')]);
    expect(await t.dispatcher.tick()).toMatchObject({ sent: 1 });
    t.clock.set(T0 + 30_000);
    await t.drain();
    expect(seenFor(fcm, 'push-r1').map((s) => s.status)).toEqual([429, 200]);
    expect(seenFor(fcm, 'push-r2').map((s) => s.status)).toEqual([200]);
    const { sent } = await t.outbox();
    expect(sent.map((p) => p.userId).sort()).toEqual(['r1', 'r2', 'r3']);
  });
});

describe('provider config', () => {
  it('stops at start with one line naming the variable: a missing key file, a bad PEM, a missing setting', () => {
    const bad = (extra: NodeJS.ProcessEnv) => {
      try {
        createRoutes(loadConfig({ ...env, ...extra }));
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
      return 'no error';
    };
    expect(bad({ APNS_KEY_FILE: '/nope/AuthKey.p8' })).toBe(
      'config: APNS_KEY_FILE="/nope/AuthKey.p8" cannot be read (ENOENT)',
    );
    expect(
      bad({
        APNS_KEY_FILE: dir.file('bad.p8', '-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n'),
      }),
    ).toMatch(/^config: APNS_KEY_FILE is not a readable PEM private key/);
    expect(bad({ APNS_TEAM_ID: undefined })).toBe('config: APNS_TEAM_ID is required when PUSH_IOS=apns');
    expect(bad({ PUSH_TIMEOUT_MS: '9000' })).toBe(
      "config: PUSH_TIMEOUT_MS=9000 is invalid: at most SEND_LEASE_MS / 4 (7500), so a batch's sends end inside its lease",
    );
    expect(bad({ FCM_SERVICE_ACCOUNT_FILE: dir.file('sa-bad.json', '{"project_id":"p"}') })).toMatch(
      /^config: FCM_SERVICE_ACCOUNT_FILE=".*" is not a service account: client_email/,
    );
    expect(bad({ WEBPUSH_VAPID_PRIVATE_KEY: 'short' })).toMatch(
      /^config: WEBPUSH_VAPID_PUBLIC_KEY \/ WEBPUSH_VAPID_PRIVATE_KEY are not VAPID keys/,
    );
  });
});

describe('provider rate limits shared by replicas', () => {
  it('one token bucket per provider and app in Redis: two replicas together wait their turn, and the wait is counted', async () => {
    const ns = redisNamespace();
    try {
      const state = createState(ns.redis, ns.prefix);
      const slept: number[] = [];
      const replica = () =>
        createRateLimiter({
          store: state.rateLimits,
          limits: limitsFrom({ fcm: 50 }, 0.1),
          logger: createLogger('test', 'silent'),
          sleep: (ms) => {
            slept.push(ms);
            return Promise.resolve();
          },
        });
      const [a, b] = [replica(), replica()];
      const fcmApp = { name: 'fcm' as const, app: 'herald-test' };
      const answers = await Promise.all(
        Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).acquire(fcmApp, i < 2 ? Infinity : 10_000)),
      );
      expect(answers.every((x) => x === 0)).toBe(true);
      // A burst of 5 (0.1 s at 50/s) goes at once; the other 25 queue 20 ms apart, across both replicas.
      expect(slept).toHaveLength(25);
      expect(Math.max(...slept)).toBeGreaterThan(400);
      expect(Math.max(...slept)).toBeLessThanOrEqual(500);
      // Another app at the same provider has a bucket of its own; a provider without a limit never waits.
      expect(await a.acquire({ name: 'fcm', app: 'another-project' }, 0)).toBe(0);
      expect(await a.acquire({ name: 'apns', app: 'com.example.app' }, 0)).toBe(0);
      expect(slept).toHaveLength(25);
      // A sender that cannot afford the queue's wait takes nothing and is told when to come back.
      const later = await a.acquire(fcmApp, 50);
      expect(later).toBeGreaterThan(50);
      expect(slept).toHaveLength(25);
      // A provider's 429 pauses its bucket for every replica.
      await a.pause!(fcmApp, 5000);
      const paused = await b.acquire(fcmApp, 10_000);
      expect(paused).toBeGreaterThan(4000);
      expect(paused).toBeLessThanOrEqual(5000);
      expect(slept).toHaveLength(25);
      expect(a.waited().fcm!.waits + b.waited().fcm!.waits).toBe(25);
      await waitFor(
        async () => (await state.telemetry.counters()).stats['ratelimit:waits:fcm'] === 25,
        'the waits to be counted in state',
        5000,
        20,
      );
    } finally {
      await ns.drop();
    }
  });
});
