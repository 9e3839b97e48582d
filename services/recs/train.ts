/**
 * `npm run recs:train`: trains the product recommendations and puts them in service.
 *
 *   1. export: the purchases topic's line items of the last PRODUCT_RECS_HISTORY_DAYS (v2 purchases; v1
 *      ones carry no products) to a CSV, the offline command's format (or take --transactions FILE.csv);
 *   2. Spark: the job of infra/spark on that file (`node dist/infra/spark.js`, local[*] on this machine);
 *   3. load: its output into Redis as a new version (services/state/products.store.ts), then the switch:
 *      strategies read the new version from the next trigger on, never half of one;
 *   4. push: with PRODUCT_RECS_PUSH_ON_CHANGE, a product-recs trigger for each user whose top picks
 *      changed from the version before.
 *
 * Why files and not Spark's Kafka source: the export is a few lines on kafkajs Herald already has, the
 * same CSV runs the offline evaluation and anyone's history through the same job, and the job stays free
 * of spark-sql-kafka and its Kafka client (one version of Kafka's client per JVM is simpler to keep).
 *
 * Prints progress on stderr; with --json one JSON line of figures on stdout. Exit 0 done, 2 bad flags, 1
 * failed (the version in service stays).
 */
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { clockFromConfig } from '../../shared/clock';
import { chunk, stableId } from '../../shared/ids';
import { createKafka } from '../../shared/kafka/client';
import { readRange, wholeTopic } from '../../shared/kafka/read-range';
import { closeQueues, createQueues, enqueue } from '../../shared/queue-factory';
import { createRedis } from '../../shared/redis';
import { PurchaseEvent } from '../../shared/schemas/events.schema';
import { topicName } from '../../shared/topics';
import { bootHeraldConfig, type HeraldConfig } from '../config';
import { csvField } from '../offline/csv';
import { createState, type ItemRow, type ProductsStore, type RecsRow } from '../state';
import { productRecsTrigger } from '../strategies/product-recs/product-recs.strategy';

const DAY_MS = 86_400_000;

export const TRAIN_CSV_HEADER = 'user_id,timestamp,item,quantity,price,category';

/**
 * Writes the line items of the purchases topic with an event time between two instants (Herald's clock) to
 * `file`; resolves with counts. The whole topic is read: Kafka's retention bounds it, and message
 * timestamps are the producers' wall clock, which a replay or the simulator's clock do not follow.
 */
export async function exportLineItems(
  config: Pick<HeraldConfig, 'KAFKA_BROKERS' | 'KAFKA_TOPIC_PREFIX'>,
  file: string,
  from: number,
  to: number,
): Promise<{ purchases: number; lines: number }> {
  const kafka = createKafka(config.KAFKA_BROKERS, 'herald-recs-export');
  const topic = topicName(config.KAFKA_TOPIC_PREFIX, 'purchases');
  const admin = kafka.admin();
  await admin.connect();
  const ranges = await wholeTopic(admin, topic).finally(() => admin.disconnect());
  const out = createWriteStream(file);
  out.write(`${TRAIN_CSV_HEADER}\n`);
  let purchases = 0;
  let lines = 0;
  await readRange(
    kafka,
    topic,
    ranges,
    async (_, messages) => {
      let text = '';
      for (const m of messages) {
        let json: unknown;
        try {
          json = JSON.parse(m.value?.toString('utf8') ?? '');
        } catch {
          continue; // ingest dead-letters it; training just skips it
        }
        const p = PurchaseEvent.safeParse(json);
        if (!p.success || p.data.v !== 2) continue;
        const at = Date.parse(p.data.at);
        if (at < from || at > to) continue;
        purchases++;
        const seconds = (at / 1000).toFixed(3);
        for (const l of p.data.items) {
          text += `${csvField(p.data.userId)},${seconds},${csvField(l.productId)},${l.quantity},${l.unitPrice},${p.data.category}\n`;
          lines++;
        }
      }
      if (!out.write(text)) await new Promise<void>((r) => out.once('drain', r));
    },
    { timeoutMs: 600_000 },
  );
  await new Promise<void>((r, j) => out.end((err?: Error | null) => (err ? j(err) : r())));
  return { purchases, lines };
}

/** Runs the Spark job (dist/infra/spark.js) on `input`, its progress lines to `progress`. */
export function runSpark(
  input: string,
  output: string,
  c: HeraldConfig,
  progress: (line: string) => void,
  extra: readonly string[] = [],
): Promise<void> {
  const b = c.PRODUCT_RECS_BLEND;
  const args = [
    join(__dirname, '..', '..', 'infra', 'spark.js'),
    '--input',
    input,
    '--output',
    output,
    '--rank',
    String(c.PRODUCT_RECS_ALS_RANK),
    '--iterations',
    String(c.PRODUCT_RECS_ALS_ITERATIONS),
    '--reg',
    String(c.PRODUCT_RECS_ALS_REG),
    '--alpha',
    String(c.PRODUCT_RECS_ALS_ALPHA),
    '--top',
    String(c.PRODUCT_RECS_CANDIDATES),
    '--source-top',
    String(c.PRODUCT_RECS_SOURCE_TOP),
    '--weights',
    `${b.als},${b.cf},${b.pop}`,
    ...extra,
  ];
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, args, {
      env: { ...process.env, SPARK_HEAP_MB: String(c.PRODUCT_RECS_SPARK_HEAP_MB) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let last = '';
    createInterface({ input: child.stdout }).on('line', progress);
    createInterface({ input: child.stderr }).on('line', (l) => (last = l));
    child.once('error', rej);
    child.once('close', (code) => (code === 0 ? res() : rej(new Error(`the Spark job failed: ${last}`))));
  });
}

/** The JSON lines of every part file under `dir` (Spark's output). */
async function* jsonLines<T>(dir: string): AsyncGenerator<T> {
  if (!existsSync(join(dir, '_SUCCESS'))) throw new Error(`${dir}: no _SUCCESS, the job did not finish`);
  for (const f of readdirSync(dir)
    .filter((x) => x.startsWith('part-'))
    .sort()) {
    for await (const line of createInterface({ input: createReadStream(join(dir, f)) })) {
      if (line.trim()) yield JSON.parse(line) as T;
    }
  }
}

type UserOut = { u: string; c: Array<{ i: string; a: number; f: number; p: number }> };
type ItemOut = { i: string; n?: Array<{ i: string; s: number }>; c?: number };
type PopularOut = { k: string; p: Array<{ i: string; b: number }> };

/** Reads the job's output into a version's rows. */
export async function readSparkOutput(dir: string) {
  const users: Array<[string, RecsRow]> = [];
  for await (const r of jsonLines<UserOut>(join(dir, 'users')))
    users.push([r.u, { c: r.c.map((x) => [x.i, x.a, x.f, x.p]) }]);
  const items: Array<[string, ItemRow]> = [];
  for await (const r of jsonLines<ItemOut>(join(dir, 'items')))
    items.push([r.i, { n: (r.n ?? []).map((x) => [x.i, x.s]), ...(r.c ? { c: r.c } : {}) }]);
  const popular: Array<[string, Array<[string, number]>]> = [];
  for await (const r of jsonLines<PopularOut>(join(dir, 'popular')))
    popular.push([r.k, r.p.map((x) => [x.i, x.b])]);
  return { users, items, popular };
}

/** The users whose first `k` picks differ between `before` (a version, or none) and their new row. */
export async function changedUsers(
  products: Pick<ProductsStore, 'userRecs'>,
  before: string | null,
  users: ReadonlyArray<readonly [string, RecsRow]>,
  k: number,
): Promise<string[]> {
  const top = (r: RecsRow | undefined) =>
    r
      ? r.c
          .slice(0, k)
          .map((x) => x[0])
          .join(',')
      : '';
  const out: string[] = [];
  for (const batch of chunk([...users], 500)) {
    const old = before
      ? await Promise.all(batch.map(([u]) => products.userRecs(before, u)))
      : batch.map(() => undefined);
    batch.forEach(([u, row], i) => {
      if (top(row) !== top(old[i])) out.push(u);
    });
  }
  return out;
}

async function main(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    options: { transactions: { type: 'string' }, json: { type: 'boolean' }, 'no-push': { type: 'boolean' } },
    strict: true,
  });
  const config = bootHeraldConfig();
  const clock = clockFromConfig(config.CLOCK, config.CLOCK_EPOCH_MS);
  const err = (s: string) => process.stderr.write(`recs:train: ${s}\n`);
  const started = Date.now();
  const now = clock.now();
  const version = new Date(now)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const dir = resolve(config.PRODUCT_RECS_DIR, version);
  mkdirSync(dir, { recursive: true });
  let input = v.transactions;
  let exported: { purchases: number; lines: number } | undefined;
  if (!input) {
    input = join(dir, 'line-items.csv');
    err(`exporting line items of the last ${config.PRODUCT_RECS_HISTORY_DAYS} days from Kafka ...`);
    exported = await exportLineItems(config, input, now - config.PRODUCT_RECS_HISTORY_DAYS * DAY_MS, now);
    err(`${exported.lines} line items of ${exported.purchases} purchases exported to ${input}`);
    if (exported.lines === 0) {
      err('no line items: nothing to train, the version in service stays');
      return 1;
    }
  }
  const sparkStarted = Date.now();
  await runSpark(input, join(dir, 'spark'), config, err);
  const sparkS = (Date.now() - sparkStarted) / 1000;

  const redis = createRedis(config.REDIS_URL, 'herald-recs-train');
  try {
    const state = createState(redis, config.HERALD_PREFIX, clock);
    const out = await readSparkOutput(join(dir, 'spark'));
    const before = await state.products.current();
    const users = await state.products.load(version, out);
    const changed =
      config.PRODUCT_RECS_PUSH_ON_CHANGE && !v['no-push']
        ? await changedUsers(state.products, before, out.users, config.PRODUCT_RECS_PER_PUSH)
        : [];
    const dropped = await state.products.switchTo(version, now);
    // The files of a version go with it; Spark's checkpoints are of no use once the job is done.
    for (const old of dropped)
      rmSync(resolve(config.PRODUCT_RECS_DIR, old), { recursive: true, force: true });
    rmSync(join(dir, 'spark', '_checkpoints'), { recursive: true, force: true });
    err(
      `version ${version} in service (was ${before ?? 'none'}): ${users} users, ${out.items.length} products`,
    );
    if (changed.length > 0) {
      const queues = createQueues(redis, config.HERALD_PREFIX);
      try {
        await enqueue(
          queues,
          chunk(
            changed.map((u) => productRecsTrigger(u, version, now)),
            config.BATCH_SIZE,
          ).map((triggers) => ({
            queue: 'target' as const,
            id: stableId('target', ...triggers.map((t) => t.triggerId)),
            payload: { triggers },
          })),
        );
      } finally {
        await closeQueues(queues);
      }
      err(`${changed.length} users whose picks changed sent to targeting`);
    }
    const figures = {
      version,
      previous: before,
      dropped,
      users,
      products: out.items.length,
      changed: changed.length,
      exported,
      sparkSeconds: sparkS,
      seconds: (Date.now() - started) / 1000,
    };
    if (v.json) process.stdout.write(`${JSON.stringify(figures)}\n`);
    return 0;
  } finally {
    await redis.quit();
  }
}

/** Runs `node dist/services/recs/train.js` (a scheduled training) with this env; resolves with its exit code. */
export function spawnRecsTrainer(env: NodeJS.ProcessEnv = process.env): () => Promise<number> {
  return () =>
    new Promise((res, rej) => {
      const child = spawn(process.execPath, [__filename], { env, stdio: ['ignore', 'ignore', 'inherit'] });
      child.once('error', rej);
      child.once('exit', (code) => res(code ?? 1));
    });
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (e: unknown) => {
      process.stderr.write(`recs:train failed: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
