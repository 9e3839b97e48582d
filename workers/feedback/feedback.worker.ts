/** feedback: push feedback from Kafka -> engagement, strategy counters, sale clicks. */
import { createKafka, createProducer } from '../../shared/kafka/client';
import { createConsumerRunner } from '../../shared/kafka/consumer';
import { onShutdown } from '../../shared/shutdown';
import { foldFeedback } from '../../services/pipeline/feedback';
import { conciliationSettings } from '../../services/conciliation/settings';
import { liftScopes } from '../../services/conciliation/decide';
import { boot, fatal } from '../boot';

async function main() {
  const rt = boot('feedback');
  const { config, logger, clock } = rt;
  // Feedback counts toward the holdout groups of its user (the lift of each strategy against its holdout).
  const lift = conciliationSettings(config, rt.strategies);
  const kafka = createKafka(config.KAFKA_BROKERS, 'herald-feedback', logger);
  const producer = await createProducer(kafka).catch((err: unknown) => fatal(logger, err));
  const consumer = createConsumerRunner({
    kafka,
    groupId: `${config.KAFKA_GROUP_PREFIX}-feedback`,
    topics: ['feedback'] as const,
    topicPrefix: config.KAFKA_TOPIC_PREFIX,
    clock,
    logger,
    deadLetters: rt.deadLetters(producer),
    handle: (events) =>
      foldFeedback(
        rt.state,
        events.map((e) => e.event),
        undefined,
        rt.state.trace,
        {
          fatigueHalfLifeMs: config.FATIGUE_HALF_LIFE_DAYS * 86_400_000,
          liftScopes: (userId) => liftScopes(userId, lift.holdouts, lift.strategies),
        },
      ),
  });
  onShutdown(logger, [() => consumer.stop(), () => producer.disconnect(), () => rt.close()]);
  await consumer.start().catch((err: unknown) => fatal(logger, err));
  logger.info('started');
}

void main();
