/**
 * send-time: books winners into the due set (a BullMQ stage) and, in the same process, delivers whatever
 * is due, batch by batch.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ttlMs } from '../../shared/clock';
import { contactWindowMs } from '../../shared/config';
import { createKafka, createProducer } from '../../shared/kafka/client';
import { onShutdown } from '../../shared/shutdown';
import { runStage } from '../../shared/stage';
import { topicName } from '../../shared/topics';
import { createDispatcher } from '../../services/delivery/dispatcher';
import { openFileSink } from '../../services/delivery/sink';
import { createSendTimeStage } from '../../services/pipeline/send-time';
import { createStrategies } from '../../services/strategies';
import { boot, fatal } from '../boot';

async function main() {
  const rt = boot('send-time');
  const { config, logger, clock, store } = rt;
  const kafka = createKafka(config.KAFKA_BROKERS, 'herald-send-time', logger);
  const producer = await createProducer(kafka).catch((err: unknown) => fatal(logger, err));
  const sink = await openFileSink(config.SINK_FILE, { console: config.SINK_CONSOLE });
  const pushSent = topicName(config.KAFKA_TOPIC_PREFIX, 'pushSent');
  const dispatcher = createDispatcher({
    store,
    strategies: createStrategies(config),
    sink,
    publish: async (pushes) => {
      await producer.send({
        topic: pushSent,
        acks: -1,
        messages: pushes.map((p) => ({
          key: p.userId,
          value: JSON.stringify(p),
          headers: { pushId: p.pushId },
        })),
      });
    },
    clock,
    contactWindowMs: ttlMs(clock, contactWindowMs(config)),
    batchSize: config.BATCH_SIZE,
    leaseRealMs: config.SEND_LEASE_MS,
    logger,
  });
  const worker = runStage({
    stage: 'sendTime',
    connection: rt.redis,
    queues: rt.queues,
    prefix: config.HERALD_PREFIX,
    handle: createSendTimeStage({
      onBooked: () => wake?.(),
      store,
      now: () => clock.now(),
      mode: config.SEND_MODE,
      localHour: config.SEND_LOCAL_HOUR,
    }),
    logger,
    concurrency: config.STAGE_CONCURRENCY,
    lockMs: config.STAGE_LOCK_MS,
  });

  let running = true;
  // A booking wakes delivery at once; otherwise it looks for due users every SEND_POLL_MS.
  let wake: (() => void) | undefined;
  const idle = () =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, config.SEND_POLL_MS);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  const loop = (async () => {
    while (running) {
      try {
        const n = await dispatcher.tick();
        if (n === 0) await idle();
      } catch (err) {
        logger.error({ err }, 'delivery tick failed; the batch stays leased and is retried');
        await sleep(1000);
      }
    }
  })();

  onShutdown(logger, [
    () => worker.close(),
    async () => {
      running = false;
      wake?.();
      await loop;
    },
    () => producer.disconnect(),
    () => rt.close(),
  ]);
  logger.info({ mode: config.SEND_MODE, sink: config.SINK_FILE }, 'started');
}

void main();
