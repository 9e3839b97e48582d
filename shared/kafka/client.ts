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
    // kafkajs backs off up to 30 s by default, so after a broker restart a client could sit out half a
    // minute with the broker back; 5 s keeps recovery within seconds.
    retry: { initialRetryTime: 200, retries: 8, maxRetryTime: RETRY_CAP_MS },
  });
}

/** The longest wait between two attempts of a Kafka request, ms. */
export const RETRY_CAP_MS = 5_000;

/**
 * An idempotent producer: a retried send is written once per partition. It retries without a limit (an
 * idempotent producer with a limit loses its guarantee, and kafkajs warns so), backing off up to
 * RETRY_CAP_MS: a send during a broker outage waits for the broker instead of failing.
 */
export async function createProducer(kafka: Kafka): Promise<Producer> {
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 200, maxRetryTime: RETRY_CAP_MS },
  });
  await producer.connect();
  return producer;
}
