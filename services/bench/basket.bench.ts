/**
 * `npm run bench:basket`: the market-basket miner's figures, each beside a reference from the same run.
 *
 *   1. throughput: purchases/s of a kafkajs eachBatch consumer that folds each batch into the miner's
 *      Redis state (`basket.record`, what ingest runs), against a no-op consumer of the same topic with the
 *      same commit per batch; and the in-memory fold (`BasketMiner`, what the offline command runs);
 *   2. memory of the counts and histories in Redis after that run (MEMORY USAGE), per user and per field;
 *   3. memory at 1,000 categories and 1M users: the same purchases folded in memory into 16 shard miners
 *      (the shards Redis holds), giving the exact number of count fields Redis would hold and the heap of
 *      the histories; Redis bytes at 1M users are the measured bytes per field and per history times those.
 *
 * Purchases come from `synthPurchases` (offline/synth-basket.command.ts): Zipf categories with follow-ups.
 * It starts its own redis-server on a free port and creates its own topics. Flags: --users 50000 (the
 * Kafka run), --memory-users 1000000, --categories 1000, --days 14.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { loadConfig } from '../../shared/config';
import { createKafka } from '../../shared/kafka/client';
import { MANUAL_COMMIT_RUN, commitBatch } from '../../shared/kafka/consumer';
import { BASKET_SHARDS } from '../../shared/keys';
import { systemClock } from '../../shared/clock';
import { topicName } from '../../shared/topics';
import { sleep } from '../../shared/wait';
import { BasketMiner } from '../affinity/basket-counts';
import { synthPurchases } from '../offline/synth-basket.command';
import { createState } from '../state';
import { basketShard } from '../state/basket.store';
import { BenchKafka } from './kafka';
import { startOwnRedis } from './redis';
import { fmt, fmtBytes, say } from './util';

const START = Date.parse('2026-01-05T00:00:00Z');

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const n = Number(process.argv[i + 1]);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`);
  return n;
}

interface Purchase {
  v: 1;
  eventId: string;
  userId: string;
  storeId: string;
  category: string;
  amount: number;
  at: string;
}

function purchasesOf(users: number, categories: number, days: number): Purchase[] {
  const width = String(categories - 1).length;
  return synthPurchases({ users, categories, days, rate: 0.15, follows: 2, seed: 7, start: START }).map(
    ([u, t, c], i) => ({
      v: 1,
      eventId: `bk-${i}`,
      userId: `u${u}`,
      storeId: 's1',
      category: `c${String(c).padStart(width, '0')}`,
      amount: 10,
      at: new Date(t).toISOString(),
    }),
  );
}

async function consume(
  kafka: ReturnType<typeof createKafka>,
  topic: string,
  groupId: string,
  total: number,
  handle: (values: Purchase[]) => Promise<void>,
): Promise<{ seconds: number; perS: number }> {
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: 30_000,
    heartbeatInterval: 3_000,
    maxWaitTimeInMs: 100,
  });
  let n = 0;
  let firstAt = 0;
  let firstN = 0;
  let doneAt = 0;
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      ...MANUAL_COMMIT_RUN,
      eachBatch: async (payload) => {
        const { batch } = payload;
        if (!payload.isRunning() || payload.isStale() || batch.messages.length === 0) return;
        await handle(batch.messages.map((m) => JSON.parse(m.value!.toString()) as Purchase));
        await commitBatch(consumer, payload);
        if (firstAt === 0) {
          firstAt = Date.now();
          firstN = batch.messages.length;
        }
        n += batch.messages.length;
        if (n >= total && doneAt === 0) doneAt = Date.now();
      },
    });
    const t0 = Date.now();
    while (doneAt === 0) {
      if (Date.now() - t0 > 600_000) throw new Error(`bench: ${groupId} did not finish in 10 minutes`);
      await sleep(20);
    }
  } finally {
    await consumer.disconnect();
  }
  // Steady rate: from the first batch handled to the last (joining the group is not the miner's cost).
  const seconds = (doneAt - firstAt) / 1000;
  return { seconds, perS: (n - firstN) / seconds };
}

async function memoryUsage(
  redis: Redis,
  pattern: string,
  sample: number,
): Promise<{ keys: number; bytes: number }> {
  let cursor = '0';
  const keys: string[] = [];
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 5000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  const picked =
    keys.length <= sample ? keys : keys.filter((_, i) => i % Math.ceil(keys.length / sample) === 0);
  const p = redis.pipeline();
  for (const k of picked) p.memory('USAGE', k, 'SAMPLES', 0);
  const res = (await p.exec()) ?? [];
  const sum = res.reduce((s, [, v]) => s + Number(v ?? 0), 0);
  return { keys: keys.length, bytes: picked.length > 0 ? (sum / picked.length) * keys.length : 0 };
}

async function main(): Promise<void> {
  const users = arg('users', 50_000);
  const memoryUsers = arg('memory-users', 1_000_000);
  const categories = arg('categories', 1000);
  const days = arg('days', 14);
  const runId = `bk${Date.now().toString(36)}`;
  const logDir = join('out', 'bench', 'logs', runId);
  mkdirSync(logDir, { recursive: true });
  const brokers = loadConfig(process.env).KAFKA_BROKERS;

  // ---- 1. throughput on Kafka and Redis
  const purchases = purchasesOf(users, categories, days);
  say(
    `basket: ${fmt(purchases.length)} purchases of ${fmt(users)} users over ${categories} categories, ${days} days`,
  );
  const own = await startOwnRedis(logDir);
  const redis = new Redis(own.url, { maxRetriesPerRequest: null });
  const bk = new BenchKafka(brokers);
  await bk.connect();
  const topicPrefix = `${runId}.`;
  try {
    await bk.topics(topicPrefix, 3);
    const topic = topicName(topicPrefix, 'purchases');
    const kafka = createKafka(brokers, 'herald-bench-basket');
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    for (let i = 0; i < purchases.length; i += 2000) {
      await producer.send({
        topic,
        acks: -1,
        messages: purchases.slice(i, i + 2000).map((p) => ({ key: p.userId, value: JSON.stringify(p) })),
      });
    }
    await producer.disconnect();
    say(`basket: produced ${fmt(purchases.length)}`);

    const noop = await consume(kafka, topic, `${runId}-noop`, purchases.length, () => Promise.resolve());
    say(`basket: no-op consumer ${fmt(noop.perS)} purchases/s (${noop.seconds.toFixed(1)} s)`);
    const state = createState(redis, runId, systemClock);
    const mined = await consume(kafka, topic, `${runId}-miner`, purchases.length, async (values) => {
      await state.basket.record(values);
    });
    say(`basket: miner consumer (Redis) ${fmt(mined.perS)} purchases/s (${mined.seconds.toFixed(1)} s)`);
    say(`basket: miner / no-op = ${(mined.perS / noop.perS).toFixed(3)}x`);

    const m0 = performance.now();
    const mem = new BasketMiner();
    for (const p of purchases)
      mem.add(p.userId, { eventId: p.eventId, category: p.category, at: Date.parse(p.at) });
    const memS = (performance.now() - m0) / 1000;
    say(
      `basket: in-memory fold ${fmt(purchases.length / memS)} purchases/s (${memS.toFixed(2)} s); ` +
        `${mem.users} users, ${[...mem.counts.pairs.values()].reduce((s, r) => s + r.size, 0)} pairs`,
    );

    // ---- 2. Redis memory after the run
    const hist = await memoryUsage(redis, `${runId}:{basket:*}:recent:*`, 5000);
    const counts = await memoryUsage(redis, `${runId}:{basket:*}:counts`, 100);
    const p = redis.pipeline();
    for (let s = 0; s < BASKET_SHARDS; s++) p.hlen(`${runId}:{basket:${s}}:counts`);
    const fields = ((await p.exec()) ?? []).reduce((s, [, v]) => s + Number(v ?? 0), 0);
    const perHistory = hist.bytes / Math.max(1, hist.keys);
    const perField = counts.bytes / Math.max(1, fields);
    say(
      `basket: Redis after ${fmt(users)} users: histories ${fmt(hist.keys)} keys, ${fmtBytes(hist.bytes)} ` +
        `(${perHistory.toFixed(0)} B each); counts ${fmt(fields)} fields in ${BASKET_SHARDS} shards, ` +
        `${fmtBytes(counts.bytes)} (${perField.toFixed(1)} B a field)`,
    );

    // ---- 3. 1M users, 1,000 categories, in memory, sharded as Redis shards them
    const big = synthPurchases({
      users: memoryUsers,
      categories,
      days,
      rate: 0.15,
      follows: 2,
      seed: 11,
      start: START,
    });
    say(`basket: ${fmt(big.length)} purchases of ${fmt(memoryUsers)} users for the memory estimate`);
    const width = String(categories - 1).length;
    const names = Array.from({ length: categories }, (_, c) => `c${String(c).padStart(width, '0')}`);
    global.gc?.();
    const heap0 = process.memoryUsage().heapUsed;
    const shards = Array.from({ length: BASKET_SHARDS }, () => new BasketMiner());
    const t1 = performance.now();
    big.forEach(([u, t, c], i) => {
      const id = `u${u}`;
      shards[basketShard(id)]!.add(id, { eventId: `b${i}`, category: names[c]!, at: t });
    });
    const bigS = (performance.now() - t1) / 1000;
    global.gc?.();
    const heapAll = process.memoryUsage().heapUsed - heap0;
    for (const s of shards) s.prune(Infinity);
    global.gc?.();
    const heapCounts = process.memoryUsage().heapUsed - heap0;
    const shardFields = shards.reduce(
      (s, m) =>
        s +
        m.counts.n.size +
        m.counts.next.size +
        [...m.counts.pairs.values()].reduce((x, r) => x + r.size, 0),
      0,
    );
    const merged = new BasketMiner();
    for (const s of shards)
      for (const [a, row] of s.counts.pairs)
        for (const [b] of row) merged.counts.pairs.set(`${a}|${b}`, new Map());
    const active = big.reduce((set, [u]) => set.add(u), new Set<number>()).size;
    say(
      `basket: 1M fold ${fmt(big.length / bigS)} purchases/s; heap: histories + counts ${fmtBytes(heapAll)}, ` +
        `counts alone ${fmtBytes(heapCounts)}${global.gc ? '' : ' (run with --expose-gc for exact figures)'}`,
    );
    say(
      `basket: at ${fmt(memoryUsers)} users (${fmt(active)} with a purchase), ${categories} categories: ` +
        `${fmt(merged.counts.pairs.size)} distinct pairs, ${fmt(shardFields)} count fields over ${BASKET_SHARDS} shards; ` +
        `Redis estimate: counts ${fmtBytes(shardFields * perField)}, histories ${fmtBytes(active * perHistory)} ` +
        `(${fmt(active)} x ${perHistory.toFixed(0)} B; they expire a day after the window)`,
    );
  } finally {
    redis.disconnect();
    await own.stop();
    await bk.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(
      `bench:basket failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
