/**
 * The one registry of Kafka topics. Every topic Herald reads or writes is declared here with its contract;
 * `stack:up` creates exactly these.
 *
 * WARNING: renaming a topic strands the events and committed offsets under the old name.
 */
import type { z } from 'zod';
import {
  BrowseV1,
  DeadLetterV1,
  DecisionV1,
  FeedbackV1,
  LocationV1,
  ProfileV1,
  ProductV1,
  PurchaseEvent,
  PushSentV1,
  SaleV1,
  StoreV1,
} from './schemas/events.schema';

export const TOPICS = {
  purchases: { suffix: 'purchases', schema: PurchaseEvent, key: 'userId', versions: [1, 2] },
  browse: { suffix: 'browse', schema: BrowseV1, key: 'userId' },
  locations: { suffix: 'locations', schema: LocationV1, key: 'userId' },
  stores: { suffix: 'stores', schema: StoreV1, key: 'storeId' },
  sales: { suffix: 'sales', schema: SaleV1, key: 'saleId' },
  profiles: { suffix: 'profiles', schema: ProfileV1, key: 'userId' },
  products: { suffix: 'products', schema: ProductV1, key: 'productId' },
  feedback: { suffix: 'feedback', schema: FeedbackV1, key: 'userId' },
  pushSent: { suffix: 'push.sent', schema: PushSentV1, key: 'userId' },
  decisions: { suffix: 'push.decisions', schema: DecisionV1, key: 'userId' },
  deadLetters: { suffix: 'dead-letters', schema: DeadLetterV1, key: 'source' },
} as const;

export type TopicKey = keyof typeof TOPICS;
export type TopicEvent<K extends TopicKey> = z.infer<(typeof TOPICS)[K]['schema']>;

/** The topics that ingest folds into state. */
export const INGEST_TOPICS = [
  'purchases',
  'browse',
  'locations',
  'stores',
  'sales',
  'profiles',
  'products',
] as const satisfies readonly TopicKey[];
export type IngestTopic = (typeof INGEST_TOPICS)[number];

/** Full topic name: `<prefix><suffix>`, e.g. `herald.purchases`. Tests pass their own prefix. */
export function topicName(prefix: string, key: TopicKey): string {
  return `${prefix}${TOPICS[key].suffix}`;
}

export function allTopicNames(prefix: string): string[] {
  return (Object.keys(TOPICS) as TopicKey[]).map((k) => topicName(prefix, k));
}
