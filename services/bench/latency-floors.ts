/**
 * The floors of the latency benchmark, measured in the same run on a quiet system: kafkajs produce ->
 * eachBatch on a plain topic with Herald's consumer settings, and BullMQ add -> processor start for one
 * hop. Herald's trigger latency is read against kafka + hops x hop.
 */
import { Queue, Worker } from 'bullmq';
import type { Producer } from 'kafkajs';
import type { createKafka } from '../../shared/kafka/client';
import { commitBatch, MANUAL_COMMIT_RUN } from '../../shared/kafka/consumer';
import { bullPrefix, jobOptions } from '../../shared/queue-factory';
import { createRedis } from '../../shared/redis';
import { waitFor } from '../../shared/wait';
import type { BenchContext } from './fanout';
import { TICK_MS, paced } from './paced';
import { distribution, type Distribution } from './util';

/** kafkajs produce -> eachBatch with Herald's consumer settings, on a plain topic. */
export async function kafkaFloorRun(
  kafka: ReturnType<typeof createKafka>,
  topic: string,
  groupId: string,
  rate: number,
  seconds: number,
): Promise<Distribution> {
  const producer: Producer = kafka.producer({ allowAutoTopicCreation: false });
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: 30_000,
    heartbeatInterval: 3_000,
    maxWaitTimeInMs: 100,
  });
  const got = new Map<string, number>();
  const sentAt = new Map<string, number>();
  await producer.connect();
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      ...MANUAL_COMMIT_RUN,
      eachBatch: async (payload) => {
        const { batch } = payload;
        const now = Date.now();
        for (const m of batch.messages) if (m.key) got.set(m.key.toString(), now);
        if (batch.messages.length === 0) return;
        await commitBatch(consumer, payload);
      },
    });
    // Warm-up: the group must have joined and fetched before the measured messages.
    await producer.send({
      topic,
      acks: -1,
      messages: [0, 1, 2, 3, 4, 5].map((i) => ({ key: `warm-${i}`, value: 'w' })),
    });
    await waitFor(() => [0, 1, 2, 3, 4, 5].every((i) => got.has(`warm-${i}`)), 'the kafka floor warm-up', {
      timeoutMs: 60_000,
      intervalMs: 20,
    });
    await paced(seconds, rate, async (from, n) => {
      const at = Date.now();
      const msgs = Array.from({ length: n }, (_, j) => ({
        key: `m-${from + j}`,
        value: JSON.stringify({ at, pad: 'x'.repeat(180) }),
      }));
      for (const m of msgs) sentAt.set(m.key, at);
      await producer.send({ topic, acks: -1, messages: msgs });
    });
    await waitFor(() => [...sentAt.keys()].every((k) => got.has(k)), 'the kafka floor messages', {
      timeoutMs: 60_000,
      intervalMs: 20,
    });
  } finally {
    await consumer.disconnect();
    await producer.disconnect();
  }
  return distribution([...sentAt].map(([k, at]) => got.get(k)! - at));
}

/** BullMQ add -> processor start for one hop, with a stage worker's options, one job every tick. */
export async function bullmqHopFloor(
  ctx: BenchContext,
  prefix: string,
  seconds: number,
): Promise<Distribution> {
  const conn = createRedis(ctx.redisUrl, 'herald-bench-floor');
  const wconn = createRedis(ctx.redisUrl, 'herald-bench-floor-worker');
  const name = '{floor}';
  const q = new Queue(name, { connection: conn, prefix: bullPrefix(prefix) });
  const lat: number[] = [];
  let warm = 0;
  const worker = new Worker(
    name,
    // eslint-disable-next-line @typescript-eslint/require-await -- BullMQ wants a promise
    async (job) => {
      const d = job.data as { at: number; warm: boolean };
      if (d.warm) warm++;
      else lat.push(Date.now() - d.at);
    },
    {
      connection: wconn,
      prefix: bullPrefix(prefix),
      concurrency: ctx.concurrency,
      lockDuration: 30_000,
      stalledInterval: 15_000,
    },
  );
  try {
    await worker.waitUntilReady();
    for (let i = 0; i < 5; i++)
      await q.add('floor', { at: Date.now(), warm: true }, jobOptions('target', `warm-${i}`));
    await waitFor(() => warm >= 5, 'the bullmq floor warm-up', { timeoutMs: 30_000, intervalMs: 10 });
    const total = Math.round((seconds * 1000) / TICK_MS);
    await paced(seconds, 1000 / TICK_MS, async (from, n) => {
      for (let j = 0; j < n; j++)
        await q.add('floor', { at: Date.now(), warm: false }, jobOptions('target', `hop-${from + j}`));
    });
    await waitFor(() => lat.length >= total, 'the bullmq floor jobs', { timeoutMs: 60_000, intervalMs: 10 });
  } finally {
    await worker.close();
    await q.obliterate({ force: true }).catch(() => undefined);
    await q.close();
    await conn.quit();
    await wconn.quit();
  }
  return distribution(lat);
}
