/**
 * Online to offline on real Kafka and Redis, every stage its own process: a ping next to a discounted store
 * of a category the user buys yields one push; a second ping within the per user-store cooldown none, even
 * once the contact window is over; a user without location opt-in none.
 */
import { Redis } from 'ioredis';
import type { TestEnv } from '../helpers/env';
import { profile, purchase, store } from '../helpers/fixtures';
import { produce } from '../helpers/kafka';
import { readSink, type PipelineProbe } from '../helpers/pipeline';
import { startPipeline, type RunningPipeline } from '../helpers/running-pipeline';
import { waitFor } from '../helpers/wait';
import type { Workers } from '../helpers/workers';
import { createState, type State } from '../../services/state';

const CENTER = { lat: 40.4168, lon: -3.7038 };
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
let n = 0;
const ping = (userId: string) => ({
  v: 1,
  eventId: `ping-${userId}-${++n}-${Date.now()}`,
  userId,
  ...CENTER,
  accuracyM: 20,
  at: ago(1000),
});

describe('online to offline: a ping near a discounted store', () => {
  let pipeline: RunningPipeline;
  let env: TestEnv;
  let workers: Workers;
  let probe: PipelineProbe;
  let redis: Redis;
  let state: State;
  const pushesOf = (userId: string) => readSink(env.sinkFile).filter((p) => p.userId === userId);

  beforeAll(async () => {
    // A contact window of about a second, so only the strategy's own cooldown can stop a second push.
    pipeline = await startPipeline({ CONTACT_WINDOW_HOURS: '0.0003' }, async (e) => {
      await produce(e.config, 'stores', [
        store('cafe-1', 'coffee', { discount: 25 }),
        store('shoes-1', 'shoes', { discount: 40 }),
      ]);
      await produce(e.config, 'profiles', [profile('alice', { locationOptIn: true }), profile('bob')]);
      // Three hours ago: they make the users coffee buyers and are too old to trigger anything.
      await produce(e.config, 'purchases', [
        purchase('alice', 'coffee', { at: ago(3 * 3_600_000) }),
        purchase('bob', 'coffee', { at: ago(3 * 3_600_000) }),
      ]);
    });
    ({ env, workers, probe } = pipeline);
    redis = new Redis(env.config.REDIS_URL);
    state = createState(redis, env.config.HERALD_PREFIX);
  });

  afterAll(async () => {
    await redis?.quit();
    await pipeline?.stop();
  });

  afterEach(() => {
    const failed = expect.getState().assertionCalls !== expect.getState().numPassingAsserts;
    if (failed) process.stderr.write(workers.logs());
  });

  it('sends one push about the store, and none for a second ping within the cooldown', async () => {
    await produce(env.config, 'locations', [ping('alice')]);
    const [push] = await waitFor(() => (pushesOf('alice').length ? pushesOf('alice') : null), 'alice’s push');
    expect(push!.strategy).toBe('online-to-offline');
    // The shoes store has the larger discount, but alice buys coffee.
    expect(push!.candidate.id).toBe('cafe-1');
    await waitFor(
      async () => (await state.delivery.contacted(['alice'])).size === 0,
      'the contact window to end',
    );

    await produce(env.config, 'locations', [ping('alice')]);
    await probe.settle();
    expect(pushesOf('alice')).toHaveLength(1);
    expect(await redis.exists(`${env.config.HERALD_PREFIX}:cd:online-to-offline:alice:cafe-1`)).toBe(1);
  });

  it('sends nothing to a user who did not opt in to location-based pushes, and records why', async () => {
    await produce(env.config, 'locations', [ping('bob')]);
    await waitFor(
      async () => (await probe.drops()).some((d) => d.user === 'bob' && d.reason === 'no_location_opt_in'),
      'bob’s drop',
    );
    await probe.settle();
    expect(pushesOf('bob')).toHaveLength(0);
  });
});
