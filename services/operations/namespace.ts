/**
 * A namespace is a Redis key prefix plus a topic prefix (and the consumer groups named after it). Demo runs,
 * simulations and tests each make their own; this removes one when its run is over.
 */
import { Redis } from 'ioredis';
import type { Config } from '../../shared/config';
import { createKafka } from '../../shared/kafka/client';
import { allTopicNames } from '../../shared/topics';

export async function dropNamespace(
  config: Pick<Config, 'REDIS_URL' | 'HERALD_PREFIX' | 'KAFKA_BROKERS' | 'KAFKA_TOPIC_PREFIX'>,
): Promise<void> {
  const redis = new Redis(config.REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${config.HERALD_PREFIX}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
  const admin = createKafka(config.KAFKA_BROKERS, 'herald-namespace').admin();
  await admin.connect();
  try {
    await admin.deleteTopics({ topics: allTopicNames(config.KAFKA_TOPIC_PREFIX) }).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
}
