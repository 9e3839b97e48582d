/**
 * `npm start`: the main job on a small scale. Starts every worker (each its own process), streams a small
 * commerce world into Kafka (stores, sales, profiles, purchases and a few malformed events), starts the
 * day's campaign, waits for the pipeline to settle and prints what happened.
 *
 * Each run has its own namespace (Redis prefix, topics, consumer groups), so runs do not see each other.
 */
import { join } from 'node:path';
import { bootConfig } from '../../shared/config';
import { systemClock } from '../../shared/clock';
import { ensureTopics } from '../../shared/kafka/admin';
import { createKafka } from '../../shared/kafka/client';
import { sendEvents } from '../../shared/kafka/produce';
import { allTopicNames, type TopicKey } from '../../shared/topics';
import { startCampaignsNow } from '../campaigns/campaigns';
import { loadHeraldConfig } from '../config';
import { createStrategies } from '../strategies';
import { launchWorkers } from '../operations/launch';
import { dropNamespace } from '../operations/namespace';
import { PipelineProbe } from '../operations/probe';

const USERS = 2_000;
const PURCHASES = 400;
const CITY = { lat: 40.4168, lon: -3.7038 };
const CATEGORIES = [
  'groceries',
  'wine',
  'bakery',
  'coffee',
  'fashion',
  'shoes',
  'sports',
  'outdoor',
  'electronics',
  'books',
];

/** A small deterministic generator, so every run shows the same world. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function world(runId: string) {
  const r = rng(42);
  const at = new Date(Date.now() - 60_000).toISOString();
  const near = (km: number) => ({
    lat: CITY.lat + ((r() - 0.5) * km) / 111,
    lon: CITY.lon + ((r() - 0.5) * km) / 85,
  });
  const stores = CATEGORIES.flatMap((category, c) =>
    [0, 1, 2].map((i) => ({
      v: 1,
      eventId: `${runId}-store-${c}-${i}`,
      storeId: `store-${category}-${i}`,
      name: `${category[0]!.toUpperCase()}${category.slice(1)} ${i + 1}`,
      category,
      ...near(8),
      discount: Math.round(r() * 40),
      at,
    })),
  );
  const sales = [
    ['shoes', 30],
    ['electronics', 15],
    ['books', 25],
  ].map(([category, discount], i) => ({
    v: 1,
    eventId: `${runId}-sale-${i}`,
    saleId: `sale-${category}`,
    title: `${category} week`,
    category,
    discount,
    validFrom: new Date(Date.now() - 3_600_000).toISOString(),
    validTo: new Date(Date.now() + 2 * 86_400_000).toISOString(),
    deepLink: `https://shop.example/sale/${category}`,
    at,
  }));
  const zones = ['Europe/Madrid', 'Europe/Madrid', 'Europe/Lisbon', 'America/New_York', 'Asia/Kolkata'];
  const profiles = Array.from({ length: USERS }, (_, i) => ({
    v: 1,
    eventId: `${runId}-profile-${i}`,
    userId: `user-${String(i).padStart(5, '0')}`,
    timeZone: zones[i % zones.length],
    locale: 'es-ES',
    pushOptIn: r() > 0.08,
    devices: r() > 0.04 ? [{ platform: r() > 0.5 ? 'ios' : 'android', token: `token-${runId}-${i}` }] : [],
    home: near(10),
    at,
  }));
  const purchases = Array.from({ length: PURCHASES }, (_, i) => ({
    v: 1,
    eventId: `${runId}-purchase-${i}`,
    userId: `user-${String(Math.floor(r() * USERS)).padStart(5, '0')}`,
    storeId: 'store-x',
    category: CATEGORIES[Math.floor(r() * CATEGORIES.length)],
    amount: Math.round(r() * 10_000) / 100 + 1,
    at,
    location: near(6),
  }));
  const malformed = [
    '{"v":1,"eventId":"oops"',
    JSON.stringify({ ...purchases[0], eventId: `${runId}-neg`, amount: -10 }),
    JSON.stringify({ ...purchases[1], eventId: `${runId}-v9`, v: 9 }),
    JSON.stringify({ ...purchases[2], eventId: `${runId}-future`, at: '2099-01-01T00:00:00Z' }),
  ];
  return { stores, sales, profiles, purchases, malformed };
}

async function main() {
  const base = bootConfig();
  const runId = `demo${Date.now().toString(36)}`;
  const vars: Record<string, string> = {
    HERALD_PREFIX: runId,
    KAFKA_TOPIC_PREFIX: `${runId}.`,
    KAFKA_GROUP_PREFIX: runId,
    SINK_FILE: process.env.SINK_FILE ?? join('out', `${runId}-pushes.jsonl`),
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'error',
  };
  const config = loadHeraldConfig({ ...process.env, ...vars });
  const say = (s: string) => process.stdout.write(`${s}\n`);
  const started = Date.now();

  say(`herald demo ${runId}: kafka ${base.KAFKA_BROKERS.join(',')}, redis ${base.REDIS_URL}`);
  await ensureTopics(config.KAFKA_BROKERS, allTopicNames(config.KAFKA_TOPIC_PREFIX), config.KAFKA_PARTITIONS);
  const workers = launchWorkers(vars);
  const probe = new PipelineProbe(config);
  try {
    const w = world(runId);
    const producer = createKafka(config.KAFKA_BROKERS, 'herald-demo').producer();
    await producer.connect();
    const send = (topic: TopicKey, events: ReadonlyArray<object | string>) =>
      sendEvents(producer, config.KAFKA_TOPIC_PREFIX, topic, events);
    say(`producing ${w.stores.length} stores, ${w.sales.length} sales, ${w.profiles.length} profiles...`);
    await send('stores', w.stores);
    await send('sales', w.sales);
    await send('profiles', w.profiles);
    await probe.settle(120_000);
    say(`producing ${w.purchases.length} purchases and ${w.malformed.length} malformed events...`);
    await send('purchases', [...w.purchases.slice(0, 200), ...w.malformed, ...w.purchases.slice(200)]);
    await producer.disconnect();
    await probe.settle(120_000);
    say('starting the daily-sale campaign...');
    await startCampaignsNow(probe.queues, createStrategies(config), systemClock.now());
    await probe.settle(180_000);

    const { stats, drops } = await probe.counters();
    const jobs = await probe.completedJobs();
    const inTotal = Object.entries(stats)
      .filter(([k]) => k.startsWith('in:'))
      .reduce((a, [, v]) => a + v, 0);
    const sent = Object.entries(stats).filter(([k]) => k.startsWith('sent:'));
    say('');
    say(`summary (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    say(
      `  events in      ${inTotal}  (${Object.entries(stats)
        .filter(([k]) => k.startsWith('in:'))
        .map(([k, v]) => `${k.slice(3)} ${v}`)
        .join(', ')})`,
    );
    say(`  dead letters   ${stats.dead ?? 0}`);
    say(`  pushes sent    ${sent.reduce((a, [, v]) => a + v, 0)}`);
    for (const [k, v] of sent) say(`    ${k.slice(5).padEnd(14)} ${v}`);
    say(
      `  filtered out   ${
        Object.entries(drops)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ') || 'none'
      }`,
    );
    say(
      `  jobs per stage ${Object.entries(jobs)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
    say(`  failed jobs    ${await probe.failedJobs()}`);
    say(`  pushes written to ${config.SINK_FILE}`);
  } finally {
    await probe.close();
    await workers.stop();
    // The run's state and topics go; its pushes stay in the sink file.
    await dropNamespace(config);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
