/** feedback: push feedback from Kafka -> engagement, strategy counters, sale clicks. */
import { createDeadLetters } from '../../shared/dead-letter';
import { createKafka, createProducer } from '../../shared/kafka/client';
import { runConsumer } from '../../shared/kafka/consumer';
import { onShutdown } from '../../shared/shutdown';
import { createFeedback } from '../../services/pipeline/feedback';
import { boot, fatal } from '../boot';

async function main() {
  const rt = boot('feedback');
  const { config, logger, clock, store } = rt;
  const kafka = createKafka(config.KAFKA_BROKERS, 'herald-feedback', logger);
  const producer = await createProducer(kafka).catch((err: unknown) => fatal(logger, err));
  const fold = createFeedback({ store });
  const consumer = await runConsumer({
    kafka,
    groupId: `${config.KAFKA_GROUP_PREFIX}-feedback`,
    topics: ['feedback'] as const,
    topicPrefix: config.KAFKA_TOPIC_PREFIX,
    clock,
    logger,
    deadLetters: createDeadLetters(producer, config.KAFKA_TOPIC_PREFIX, 'feedback', clock),
    handle: async (events) => {
      await fold(events.map((e) => e.event));
    },
  }).catch((err: unknown) => fatal(logger, err));
  onShutdown(logger, [() => consumer.disconnect(), () => producer.disconnect(), () => rt.close()]);
  logger.info('started');
}

void main();
