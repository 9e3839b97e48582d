/** Produce to and read from a test's real Kafka topics. */
import { randomBytes } from 'node:crypto';
import type { Consumer } from 'kafkajs';
import type { Config } from '../../shared/config';
import { createKafka } from '../../shared/kafka/client';
import { sendEvents } from '../../shared/kafka/produce';
import { topicName, type TopicKey } from '../../shared/topics';

export async function produce(
  config: Config,
  topic: TopicKey,
  events: ReadonlyArray<object | string>,
): Promise<void> {
  const producer = createKafka(config.KAFKA_BROKERS, 'herald-test-producer').producer();
  await producer.connect();
  try {
    await sendEvents(producer, config.KAFKA_TOPIC_PREFIX, topic, events, 2000);
  } finally {
    await producer.disconnect();
  }
}

export interface Collected<T> {
  messages: Array<{ key: string | null; value: T; partition: number; offset: string }>;
  stop(): Promise<void>;
}

/** Reads a topic from the beginning into `messages` until stopped. */
export async function collect<T = unknown>(config: Config, topic: TopicKey): Promise<Collected<T>> {
  const kafka = createKafka(config.KAFKA_BROKERS, 'herald-test-reader');
  const consumer: Consumer = kafka.consumer({
    groupId: `reader-${randomBytes(4).toString('hex')}`,
    maxWaitTimeInMs: 100,
  });
  const messages: Collected<T>['messages'] = [];
  await consumer.connect();
  await consumer.subscribe({ topic: topicName(config.KAFKA_TOPIC_PREFIX, topic), fromBeginning: true });
  await consumer.run({
    // eslint-disable-next-line @typescript-eslint/require-await -- kafkajs wants a promise
    eachMessage: async ({ message, partition }) => {
      messages.push({
        key: message.key?.toString() ?? null,
        value: JSON.parse(message.value!.toString()) as T,
        partition,
        offset: message.offset,
      });
    },
  });
  return { messages, stop: () => consumer.disconnect() };
}
