/** ingest: Kafka input topics -> state, trigger jobs and dead letters. */
import { createKafka, createProducer } from '../../shared/kafka/client';
import { createConsumerRunner } from '../../shared/kafka/consumer';
import { enqueue } from '../../shared/queue-factory';
import { onShutdown } from '../../shared/shutdown';
import { INGEST_TOPICS } from '../../shared/topics';
import { createIngest } from '../../services/pipeline/ingest';
import { boot, fatal } from '../boot';

async function main() {
  const rt = boot('ingest');
  const { config, logger, clock, queues } = rt;
  const kafka = createKafka(config.KAFKA_BROKERS, 'herald-ingest', logger);
  const producer = await createProducer(kafka).catch((err: unknown) => fatal(logger, err));
  const ingest = createIngest({
    state: rt.state,
    strategies: rt.strategies,
    batchSize: config.BATCH_SIZE,
    now: () => clock.now(),
  });
  const consumer = createConsumerRunner({
    kafka,
    groupId: `${config.KAFKA_GROUP_PREFIX}-ingest`,
    topics: INGEST_TOPICS,
    topicPrefix: config.KAFKA_TOPIC_PREFIX,
    clock,
    logger,
    deadLetters: rt.deadLetters(producer),
    handle: async (events) => enqueue(queues, await ingest(events)),
  });
  onShutdown(logger, [() => consumer.stop(), () => producer.disconnect(), () => rt.close()]);
  await consumer.start().catch((err: unknown) => fatal(logger, err));
  logger.info({ topics: INGEST_TOPICS }, 'started');
}

void main();
