/** ingest: Kafka input topics -> state, trigger jobs and dead letters. */
import { createDeadLetters } from '../../shared/dead-letter';
import { createKafka, createProducer } from '../../shared/kafka/client';
import { runConsumer } from '../../shared/kafka/consumer';
import { enqueue } from '../../shared/queue';
import { onShutdown } from '../../shared/shutdown';
import { INGEST_TOPICS } from '../../shared/topics';
import { createIngest } from '../../services/pipeline/ingest';
import { boot, fatal } from '../boot';

async function main() {
  const rt = boot('ingest');
  const { config, logger, clock, store, queues } = rt;
  const kafka = createKafka(config.KAFKA_BROKERS, 'herald-ingest', logger);
  const producer = await createProducer(kafka).catch((err: unknown) => fatal(logger, err));
  const ingest = createIngest({
    store,
    batchSize: config.BATCH_SIZE,
    marketBasket: config.STRATEGIES.includes('market-basket'),
    maxTriggerAgeMs: config.MARKET_BASKET_MAX_AGE_MINUTES * 60_000,
    now: () => clock.now(),
  });
  const deadLetters = createDeadLetters(producer, config.KAFKA_TOPIC_PREFIX, 'ingest', clock);
  const consumer = await runConsumer({
    kafka,
    groupId: `${config.KAFKA_GROUP_PREFIX}-ingest`,
    topics: INGEST_TOPICS,
    topicPrefix: config.KAFKA_TOPIC_PREFIX,
    clock,
    logger,
    deadLetters: {
      async send(refused) {
        await deadLetters.send(refused);
        if (refused.length) await store.redis.hincrby(store.keys.stats, 'dead', refused.length);
      },
    },
    handle: async (events) => enqueue(queues, await ingest(events)),
  }).catch((err: unknown) => fatal(logger, err));
  onShutdown(logger, [() => consumer.disconnect(), () => producer.disconnect(), () => rt.close()]);
  logger.info({ topics: INGEST_TOPICS }, 'started');
}

void main();
