/**
 * Product recommendations end to end on real Kafka, Redis and Spark (local mode): v2 purchases and the
 * product catalog go in through Kafka, `recs:train` exports the line items, runs the Spark job, loads its
 * output as a new version and switches to it, and each user whose picks changed gets a product-recs push
 * naming products re-ranked at decision time: never one they bought that nobody buys again, never one
 * that is unavailable.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { profile, purchase } from '../helpers/fixtures';
import { produce } from '../helpers/kafka';
import { readSink } from '../helpers/pipeline';
import { startPipeline, type RunningPipeline } from '../helpers/running-pipeline';
import { waitFor } from '../helpers/wait';
import { createState, type State } from '../../services/state';

const DAY = 86_400_000;
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
const product = (productId: string, category: string, price: number, available = true) => ({
  v: 1,
  eventId: `prod-${productId}`,
  productId,
  title: `Product ${productId}`,
  category,
  price,
  available,
  discount: 0,
  at: ago(5000),
});
let n = 0;
/** A v2 purchase of `items` by `userId`, `daysAgo` days ago (too old to trigger anything in real time). */
const bought = (userId: string, daysAgo: number, ...items: string[]) =>
  purchase(userId, 'pantry', {
    v: 2,
    eventId: `pur-${userId}-${++n}`,
    at: ago(daysAgo * DAY),
    items: items.map((productId) => ({ productId, quantity: 1, unitPrice: 4 })),
  });

/** Runs `recs:train` (dist) with the test's environment; resolves with its JSON figures. */
function train(vars: Record<string, string>, dir: string): Promise<{ version: string; changed: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(__dirname, '../../dist/services/recs/train.js'), '--json'], {
      env: {
        ...process.env,
        ...vars,
        PRODUCT_RECS_DIR: dir,
        PRODUCT_RECS_SPARK_HEAP_MB: '1536',
        // A tiny history: one shuffle partition and no code generation start Spark's stages fastest.
        SPARK_SHUFFLE_PARTITIONS: '1',
        SPARK_CONF: 'spark.sql.codegen.wholeStage=false',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0
        ? resolve(JSON.parse(out.trim().split('\n').pop()!) as { version: string; changed: number })
        : reject(new Error(`recs:train exit ${code}: ${err}`)),
    );
  });
}

describe('product recommendations: a trained version switched in, a push per changed user', () => {
  let pipeline: RunningPipeline;
  let redis: Redis;
  let state: State;

  beforeAll(async () => {
    pipeline = await startPipeline({}, async (e) => {
      await produce(e.config, 'products', [
        product('rice', 'pantry', 4),
        product('beans', 'pantry', 4),
        product('oil', 'pantry', 5),
        product('salt', 'pantry', 3, false),
        product('pasta', 'pantry', 4),
        product('chips', 'snacks', 3),
        product('nuts', 'snacks', 6),
      ]);
      const users = ['ana', 'u1', 'u2', 'u3', 'u4', 'u5', 'u6'];
      await produce(
        e.config,
        'profiles',
        users.map((u) => profile(u)),
      );
      // Rice and beans go with oil and salt; snacks with snacks. Ana has rice and beans only.
      await produce(e.config, 'purchases', [
        bought('ana', 6, 'rice', 'beans'),
        bought('u1', 9, 'rice', 'oil', 'salt'),
        bought('u2', 8, 'rice', 'beans', 'oil'),
        bought('u3', 7, 'beans', 'oil', 'salt', 'pasta'),
        bought('u4', 5, 'rice', 'salt', 'oil'),
        bought('u5', 4, 'chips', 'nuts'),
        bought('u6', 3, 'chips', 'nuts', 'pasta'),
      ]);
    });
    redis = new Redis(pipeline.env.config.REDIS_URL);
    state = createState(redis, pipeline.env.config.HERALD_PREFIX);
  });

  afterAll(async () => {
    await redis?.quit();
    await pipeline?.stop();
  });

  afterEach(() => {
    const failed = expect.getState().assertionCalls !== expect.getState().numPassingAsserts;
    if (failed) process.stderr.write(pipeline.workers.logs());
  });

  it('trains on Spark, switches the version, and pushes ana products she lacks that are available', async () => {
    const { env } = pipeline;
    // Nothing was pushed for the history: it is too old for real time.
    expect(readSink(env.sinkFile)).toHaveLength(0);
    expect(await state.products.history('ana')).toHaveLength(2);

    const figures = await train(env.vars, env.dir);
    expect(await state.products.current()).toBe(figures.version);
    expect(figures.changed).toBeGreaterThanOrEqual(6);
    expect((await state.products.userRecs(figures.version, 'ana'))?.c.length).toBeGreaterThan(0);

    const push = await waitFor(
      () => readSink(env.sinkFile).find((p) => p.userId === 'ana'),
      'ana’s product-recs push',
    );
    expect(push.strategy).toBe('product-recs');
    expect(push.candidate.kind).toBe('product');
    const named = push.deepLink.replace('herald://products/', '').split(',');
    // Oil goes with what she buys; salt does too but is unavailable; rice and beans she has (no cycle).
    expect(named[0]).toBe('oil');
    expect(named).not.toContain('salt');
    expect(named).not.toContain('rice');
    expect(named).not.toContain('beans');
    expect(push.title).toBe('Picked for you: Product oil');
  }, 240_000);
});
