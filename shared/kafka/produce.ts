import type { Producer } from 'kafkajs';
import { TOPICS, topicName, type TopicKey } from '../topics';

/**
 * Sends events to a registry topic, keyed by the topic's key field (`userId`, `storeId`, ...), in chunks.
 * A string is sent as it is, without a key: a way to put malformed bytes on a topic.
 */
export async function sendEvents(
  producer: Producer,
  topicPrefix: string,
  topic: TopicKey,
  events: ReadonlyArray<object | string>,
  chunkSize = 1000,
): Promise<void> {
  const keyField = TOPICS[topic].key;
  for (let i = 0; i < events.length; i += chunkSize) {
    await producer.send({
      topic: topicName(topicPrefix, topic),
      acks: -1,
      messages: events
        .slice(i, i + chunkSize)
        .map((e) =>
          typeof e === 'string'
            ? { key: null, value: e }
            : { key: (e as Record<string, string | undefined>)[keyField] ?? null, value: JSON.stringify(e) },
        ),
    });
  }
}
