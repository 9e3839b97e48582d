/**
 * The market-basket miner on real Kafka and Redis, every stage its own process: purchases stream in and are
 * counted once (a redelivered batch adds nothing), the mined table is rebuilt under a new version, and the
 * next purchase's push follows the mined table instead of the static seed.
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
import { rebuildBasketTable } from '../../services/affinity/basket-miner';
import { systemClock } from '../../shared/clock';
import { main } from '../../services/offline/offline';

const HOUR = 3_600_000;
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

describe('market-basket miner: purchases in, a new table version, the next trigger uses it', () => {
  let pipeline: RunningPipeline;
  let env: TestEnv;
  let workers: Workers;
  let probe: PipelineProbe;
  let redis: Redis;
  let state: State;
  const pushesOf = (userId: string) => readSink(env.sinkFile).filter((p) => p.userId === userId);

  beforeAll(async () => {
    pipeline = await startPipeline(
      // Rebuilt on demand below, not on the scheduler's period; 5 episodes are enough support here.
      { BASKET_REBUILD_MINUTES: '0', MARKET_BASKET_MIN_EPISODES: '5' },
      async (e) => {
        await produce(e.config, 'stores', [
          store('wine-1', 'wine', { discount: 20 }),
          store('bakery-1', 'bakery'),
          store('pets-1', 'pets', { discount: 0 }),
        ]);
        await produce(e.config, 'profiles', [profile('alice'), profile('bob')]);
      },
    );
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

  it('uses the static seed before the miner has support', async () => {
    expect(await state.basket.tableVersion()).toBe(0);
    await produce(env.config, 'purchases', [purchase('alice', 'groceries')]);
    const [push] = await waitFor(() => (pushesOf('alice').length ? pushesOf('alice') : null), 'alice’s push');
    expect(push!.candidate.id).toBe('wine-1');
  });

  it('counts a redelivered stream once, writes a new version, and the next push follows it', async () => {
    // Six shoppers buy groceries and then pets (which never follows groceries in the static table), two
    // hours ago: old enough to trigger nothing themselves.
    const events = Array.from({ length: 6 }, (_, i) => [
      purchase(`m${i}`, 'groceries', { eventId: `g-${i}`, at: ago(3 * HOUR) }),
      purchase(`m${i}`, 'pets', { eventId: `p-${i}`, at: ago(2 * HOUR) }),
    ]).flat();
    await produce(env.config, 'purchases', events);
    await produce(env.config, 'purchases', events);
    await waitFor(async () => ((await state.basket.counts()).n.get('pets') ?? 0) >= 6, 'pets counted');
    await probe.settle();
    const counts = await state.basket.counts();
    // alice's groceries purchase, plus six.
    expect(counts.n.get('groceries')).toBe(7);
    expect(counts.n.get('pets')).toBe(6);
    expect(counts.pairs.get('groceries')?.get('pets')).toBe(6);
    expect(counts.next.get('groceries')).toBe(6);

    const { version, table } = await rebuildBasketTable({
      basket: state.basket,
      now: () => systemClock.now(),
    });
    expect(version).toBe(1);
    expect(await state.basket.tableVersion()).toBe(1);
    expect(table.rows.groceries!.follows[0]).toMatchObject({ category: 'pets', support: 6 });

    // What an operator sees.
    let out = '';
    const io = { out: (t: string) => (out += t), err: () => undefined };
    const argv = ['basket-table', '--redis', env.config.REDIS_URL, '--prefix', env.config.HERALD_PREFIX];
    expect(await main(argv, io)).toBe(0);
    expect(out).toMatch(/^basket table v1, built /);
    expect(out).toMatch(/groceries \[7 episodes, 6 followed\]: pets \(6, /);

    await produce(env.config, 'purchases', [purchase('bob', 'groceries')]);
    const [push] = await waitFor(() => (pushesOf('bob').length ? pushesOf('bob') : null), 'bob’s push');
    expect(push!.candidate.id).toBe('pets-1');
    expect(push!.candidate.category).toBe('pets');
  });
});
