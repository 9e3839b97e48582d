import { Kafka, logLevel, type LogEntry, type Producer } from 'kafkajs';
import type { Logger } from '../logger';

/**
 * kafkajs logs through the process's logger. Its ERROR lines are mostly errors it retries by itself (a
 * coordinator still loading at start), so they arrive as warnings; a failure that outlives the retries
 * surfaces as a thrown error, which the caller logs.
 */
function logCreator(logger: Logger) {
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, ...extra } = log;
      if (level <= logLevel.WARN) logger.warn({ kafkajs: extra }, message);
      else logger.debug({ kafkajs: extra }, message);
    };
}

export function createKafka(brokers: string[], clientId: string, logger?: Logger): Kafka {
  return new Kafka({
    clientId,
    brokers,
    logLevel: logger ? logLevel.WARN : logLevel.NOTHING,
    ...(logger ? { logCreator: logCreator(logger) } : {}),
    retry: { initialRetryTime: 200, retries: 8 },
  });
}

/** An idempotent producer: a retried send is written once per partition. */
export async function createProducer(kafka: Kafka): Promise<Producer> {
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  return producer;
}
