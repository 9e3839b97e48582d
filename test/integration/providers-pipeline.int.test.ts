/**
 * The real-time path with every stage its own process and send-time wired to real providers (FCM v1 and
 * APNs against local servers), a rate limit and a template file: the push reaches each live device, push.sent
 * carries the receipts, a push whose only token is dead is dead-lettered on Kafka, and the token leaves the
 * user's devices in state.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { DeadLetter } from '../../shared/schemas/events.schema';
import { createState } from '../../services/state';
import { profile, purchase, store } from '../helpers/fixtures';
import { collect, produce, type Collected } from '../helpers/kafka';
import { apnsServer, fcmError, fcmServer, scratch } from '../helpers/push-servers';
import { startPipeline, type RunningPipeline } from '../helpers/running-pipeline';
import { waitFor } from '../helpers/wait';

describe('real time through real providers, every worker a process', () => {
  let pipeline: RunningPipeline;
  let dead: Collected<DeadLetter>;
  let dir: ReturnType<typeof scratch>;
  let fcm: Awaited<ReturnType<typeof fcmServer>>;
  let apns: Awaited<ReturnType<typeof apnsServer>>;
  let redis: Redis;

  beforeAll(async () => {
    dir = scratch();
    const tls = dir.tls();
    fcm = await fcmServer('herald-e2e');
    fcm.script = ({ token }) => (token === 'fcm-dead-bob' ? fcmError(404, 'UNREGISTERED') : undefined);
    apns = await apnsServer(tls, { keyId: 'KEY1234567', teamId: 'TEAM123456', topic: 'com.example.app' });
    const templates = join(dir.dir, 'templates.json');
    writeFileSync(
      templates,
      JSON.stringify({
        fallbackLocale: 'en',
        strategies: {
          'market-basket': {
            en: { title: 'For you: {{candidate.title}}', body: '{{default.body}}' },
            es: { title: 'Para ti: {{candidate.title}}', body: '{{default.body}}' },
          },
        },
      }),
    );
    pipeline = await startPipeline(
      {
        PUSH_ANDROID: 'fcm',
        PUSH_IOS: 'apns',
        FCM_SERVICE_ACCOUNT_FILE: dir.file('sa.json', JSON.stringify(fcm.serviceAccount)),
        FCM_ENDPOINT: fcm.url,
        APNS_KEY_FILE: dir.file('AuthKey.p8', apns.p8),
        APNS_KEY_ID: 'KEY1234567',
        APNS_TEAM_ID: 'TEAM123456',
        APNS_TOPIC: 'com.example.app',
        APNS_ENDPOINT: apns.url,
        APNS_CA_FILE: tls.certFile,
        PUSH_RATE_LIMITS: 'fcm=100,apns=100',
        PUSH_TIMEOUT_MS: '700',
        TEMPLATES_FILE: templates,
      },
      async (e) => {
        await produce(e.config, 'stores', [store('wine-1', 'wine', { discount: 20 })]);
        await produce(e.config, 'profiles', [
          profile('alice', {
            devices: [
              { platform: 'android', token: 'fcm-live-alice' },
              { platform: 'ios', token: 'apns-live-alice' },
            ],
          }),
          profile('bob', { devices: [{ platform: 'android', token: 'fcm-dead-bob' }] }),
        ]);
      },
    );
    dead = await collect<DeadLetter>(pipeline.env.config, 'deadLetters');
    redis = new Redis(pipeline.env.config.REDIS_URL, { maxRetriesPerRequest: null });
  });

  afterAll(async () => {
    await redis?.quit();
    await dead?.stop();
    await pipeline?.stop();
    await Promise.all([fcm?.close(), apns?.close()]);
    dir?.remove();
  });

  afterEach(() => {
    const failed = expect.getState().assertionCalls !== expect.getState().numPassingAsserts;
    if (failed) process.stderr.write(pipeline.workers.logs());
  });

  it('reaches each live device once, rendered by the template, with receipts on push.sent', async () => {
    await produce(pipeline.env.config, 'purchases', [purchase('alice', 'groceries')]);
    const [msg] = await waitFor(() => {
      const got = pipeline.sent.messages.filter((m) => m.value.userId === 'alice');
      return got.length ? got : null;
    }, 'push.sent for alice');
    await pipeline.probe.settle();
    const push = msg!.value;
    expect(push.title).toMatch(/^Para ti: /);
    expect(push.receipts?.map((r) => [r.provider, r.status])).toEqual([
      ['fcm', 'accepted'],
      ['apns', 'accepted'],
    ]);
    expect(fcm.seen.filter((s) => s.pushId === push.pushId).map((s) => s.token)).toEqual(['fcm-live-alice']);
    expect(apns.seen.filter((s) => s.pushId === push.pushId).map((s) => s.token)).toEqual([
      'apns-live-alice',
    ]);
    expect(pipeline.sent.messages.filter((m) => m.value.userId === 'alice')).toHaveLength(1);
  });

  it('dead-letters a push whose only token is dead, and removes the token in state', async () => {
    await produce(pipeline.env.config, 'purchases', [purchase('bob', 'groceries')]);
    const [letter] = await waitFor(() => {
      const got = dead.messages.filter((m) => m.value.reason.includes('UNREGISTERED'));
      return got.length ? got : null;
    }, 'the dead letter of bob’s push');
    expect(letter!.value.source.topic).toBe(`${pipeline.env.config.KAFKA_TOPIC_PREFIX}push.delivery`);
    expect(letter!.value.reason).toMatch(/^push \S+ not delivered: no device accepted the push: #0 fcm 404/);
    const state = createState(redis, pipeline.env.config.HERALD_PREFIX);
    expect((await state.users.getUsers(['bob'])).get('bob')?.devices).toEqual([]);
    expect(pipeline.sent.messages.filter((m) => m.value.userId === 'bob')).toHaveLength(0);
  });
});
