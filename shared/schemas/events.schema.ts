/**
 * Contracts of the Kafka topics. Every event carries `v` (its schema version) and an `eventId` that makes
 * redelivery harmless. A new version is added beside the old one, never edited in place.
 */
import { z } from 'zod';
import {
  Category,
  Device,
  Discount,
  GeoPoint,
  Id,
  Instant,
  Latitude,
  Longitude,
  Strategy,
  TimeZone,
} from './common';

export const PurchaseV1 = z.object({
  v: z.literal(1),
  eventId: Id,
  userId: Id,
  storeId: Id,
  category: Category,
  amount: z.number().positive().max(1_000_000),
  currency: z.string().length(3).default('USD'),
  at: Instant,
  location: GeoPoint.optional(),
});
export type Purchase = z.infer<typeof PurchaseV1>;

export const BrowseV1 = z.object({
  v: z.literal(1),
  eventId: Id,
  userId: Id,
  action: z.enum(['view', 'add_to_cart', 'purchase']),
  category: Category,
  productId: Id.optional(),
  at: Instant,
});
export type Browse = z.infer<typeof BrowseV1>;

export const LocationV1 = z.object({
  v: z.literal(1),
  eventId: Id,
  userId: Id,
  lat: Latitude,
  lon: Longitude,
  accuracyM: z.number().nonnegative().max(100_000).optional(),
  at: Instant,
});
export type LocationPing = z.infer<typeof LocationV1>;

export const StoreV1 = z.object({
  v: z.literal(1),
  eventId: Id,
  storeId: Id,
  name: z.string().min(1).max(200),
  category: Category,
  lat: Latitude,
  lon: Longitude,
  discount: Discount,
  at: Instant,
});
export type Store = z.infer<typeof StoreV1>;

export const SaleV1 = z
  .object({
    v: z.literal(1),
    eventId: Id,
    saleId: Id,
    title: z.string().min(1).max(200),
    category: Category,
    discount: Discount,
    validFrom: Instant,
    validTo: Instant,
    deepLink: z.url(),
    at: Instant,
  })
  .refine((s) => Date.parse(s.validTo) > Date.parse(s.validFrom), {
    message: 'validTo must be after validFrom',
    path: ['validTo'],
  });
export type Sale = z.infer<typeof SaleV1>;

export const ProfileV1 = z.object({
  v: z.literal(1),
  eventId: Id,
  userId: Id,
  timeZone: TimeZone,
  locale: z.string().min(2).max(35),
  pushOptIn: z.boolean(),
  /** Whether Herald may act on where the user is (location-based pushes). Absent: no. */
  locationOptIn: z.boolean().optional(),
  devices: z.array(Device).max(20),
  home: GeoPoint.optional(),
  at: Instant,
});
export type Profile = z.infer<typeof ProfileV1>;

export const FeedbackV1 = z.object({
  v: z.literal(1),
  eventId: Id,
  pushId: Id,
  userId: Id,
  strategy: Strategy,
  candidateId: Id.optional(),
  type: z.enum(['delivered', 'opened', 'clicked', 'converted']),
  at: Instant,
});
export type Feedback = z.infer<typeof FeedbackV1>;

/**
 * What a provider made of a push on one device. `retrying` is seen only while the push waits in the contact
 * ledger for another attempt; push.sent carries the final states.
 */
export const DeviceReceipt = z.object({
  /** Index of the device in the push's `devices`. */
  device: z.number().int().min(0),
  provider: z.string(),
  status: z.enum(['accepted', 'token_removed', 'failed', 'retrying']),
  /** The provider's id for the message (FCM's message name, APNs' apns-id, Web Push's Location). */
  messageId: z.string().optional(),
  /** The provider's error, as `<provider> <status> <reason>`. */
  error: z.string().optional(),
  /** Sends tried on this device (0 only while a retry waits for a device never yet sent to). */
  attempts: z.number().int().min(0),
});
export type DeviceReceipt = z.infer<typeof DeviceReceipt>;

/**
 * One conciliation decision with everything the policy saw (DESIGN rule 11): the arms it chose among, each
 * with the inputs of its value, the user's engagement and fatigue, the probability the policy gave each arm
 * and sending nothing, and what it did. A decision that sent rides on its push.sent; one that sent nothing
 * (suppressed, held out) goes to the push.decisions topic. Offline policy evaluation replays the inputs under
 * another configuration (services/conciliation/policy.ts `probabilities`).
 */
export const DecisionArm = z.object({
  strategy: Strategy,
  /** The push id this arm would send (its decision id). */
  pushId: Id,
  candidateId: Id,
  /** The candidate's score from the score stage (the model's expected value, or the heuristic). */
  score: z.number(),
  /** The strategy's feedback in the user's context: the posterior's counts. */
  delivered: z.number().min(0),
  opened: z.number().min(0),
  clicked: z.number().min(0),
  /** The strategy's mean candidate score (its scores are relative to it); 0 when unknown. */
  meanScore: z.number().min(0),
  /** Hours since the user last got a push of this strategy; null when never (or not within the record). */
  sinceHours: z.number().min(0).nullable(),
  /** A scheduled strategy's push that has not arrived yet, valued in advance: it can win, not be sent. */
  anticipated: z.boolean().optional(),
});
export type DecisionArm = z.infer<typeof DecisionArm>;

export const DecisionInput = z.object({
  /** The user's context class for the strategy posteriors (`new`, `known`). */
  context: z.string().min(1).max(32),
  /** The user's own pushes delivered, opened, clicked, and fatigue load (decayed ignored pushes). */
  user: z.object({
    delivered: z.number().min(0),
    opened: z.number().min(0),
    clicked: z.number().min(0),
    fatigue: z.number().min(0),
  }),
  /** Everyone's pushes delivered and opened: the prior a user's own rate shrinks to. */
  global: z.object({ delivered: z.number().min(0), opened: z.number().min(0) }),
  arms: z.array(DecisionArm).min(1).max(16),
});
export type DecisionInput = z.infer<typeof DecisionInput>;

export const DecisionV1 = z.object({
  v: z.literal(1),
  /** The decision's id: the user and the arms it weighed. */
  decisionId: Id,
  userId: Id,
  at: Instant,
  input: DecisionInput,
  /** The logging policy's probability of each arm, in `input.arms` order, then of sending nothing. */
  probs: z.array(z.number().min(0).max(1)),
  /** Index of the arm chosen, or -1: nothing. */
  chosen: z.number().int().min(-1),
  /** sent: on push.sent; suppressed: nothing worth sending (reason); holdout: a control user, not sent. */
  outcome: z.enum(['sent', 'suppressed', 'holdout']),
  reason: z.string().max(200).optional(),
  /** Logged for a sample of decisions that sent nothing: each stands for 1 / rate of them. */
  weight: z.number().positive(),
  /** The logging policy's configuration, `key=value;...`. */
  policy: z.string().max(500),
});
export type Decision = z.infer<typeof DecisionV1>;

export const PushSentV1 = z.object({
  v: z.literal(1),
  pushId: Id,
  userId: Id,
  strategy: Strategy,
  targetId: Id,
  /** kind 'product' (product recommendations): added within v1, for pushes that name products. */
  candidate: z.object({ id: Id, kind: z.enum(['store', 'sale', 'product']), category: Category }),
  title: z.string(),
  body: z.string(),
  deepLink: z.string(),
  /** An image URL, when the push's template has one. Optional: added within v1. */
  image: z.string().optional(),
  devices: z.array(Device),
  score: z.number(),
  sentAt: Instant,
  /**
   * How the send instant was chosen, when the engagement model chose it: the local hour it went at, the hour
   * the model liked best, the probability of that choice (for propensity-weighted estimates) and whether it
   * explored. Optional: older pushes and fixed-hour modes carry none.
   */
  timing: z
    .object({
      hour: z.number().int().min(0).max(23),
      bestHour: z.number().int().min(0).max(23),
      propensity: z.number().min(0).max(1),
      explored: z.boolean(),
    })
    .optional(),
  /**
   * Per device, what the provider answered (its message id, or its error; a dead token is removed from the
   * user's devices). Optional: the file sink and pushes from before providers carry none.
   */
  receipts: z.array(DeviceReceipt).optional(),
  /**
   * The feature vector the push's candidate was scored with at decision time (services/ranking/features.ts),
   * and the hash of the feature schema it follows, so the score model can learn from Herald's own pushes.
   * Optional: pushes decided without feature logging carry none.
   */
  features: z
    .object({
      schema: z.string().min(1).max(64),
      values: z.array(z.number()).max(256),
    })
    .optional(),
  /**
   * The conciliation decision that chose this push (what the policy saw and the probability of its choice).
   * Optional: pushes decided by the plain compare-and-set carry none.
   */
  decision: DecisionV1.optional(),
});
export type PushSent = z.infer<typeof PushSentV1>;

export const DeadLetterV1 = z.object({
  v: z.literal(1),
  reason: z.string(),
  source: z.object({ topic: z.string(), partition: z.number().int(), offset: z.string() }),
  key: z.string().nullable().describe('original key, base64'),
  value: z.string().nullable().describe('original bytes, base64'),
  worker: z.string(),
  at: Instant,
});
export type DeadLetter = z.infer<typeof DeadLetterV1>;

/** One line of a purchase: which product, how many, at what unit price (in the purchase's currency). */
export const LineItem = z.object({
  productId: Id,
  quantity: z.number().positive().max(10_000),
  unitPrice: z.number().nonnegative().max(1_000_000),
});
export type LineItem = z.infer<typeof LineItem>;

/**
 * A purchase with its line items (product recommendations, services/recs). Beside v1, not instead of it:
 * producers that know only stores and categories keep sending v1, and every consumer of v1's fields reads v2
 * unchanged (v2 is v1's fields plus `items`).
 */
export const PurchaseV2 = PurchaseV1.extend({
  v: z.literal(2),
  items: z.array(LineItem).min(1).max(200),
});
export type PurchaseWithItems = z.infer<typeof PurchaseV2>;

/** What the `purchases` topic carries: either version, told apart by `v`. */
export const PurchaseEvent = z.discriminatedUnion('v', [PurchaseV1, PurchaseV2]);
export type AnyPurchase = z.infer<typeof PurchaseEvent>;

/** A purchase's line items: none for a v1 purchase. */
export function lineItems(p: AnyPurchase | Purchase): readonly LineItem[] {
  return 'items' in p && Array.isArray(p.items) ? p.items : [];
}

/** The product catalog (`products` topic): the latest event of a product is its state. */
export const ProductV1 = z.object({
  v: z.literal(1),
  eventId: Id,
  productId: Id,
  title: z.string().min(1).max(200),
  category: Category,
  price: z.number().nonnegative().max(1_000_000),
  /** Whether the product can be bought now; an unavailable product is never recommended. */
  available: z.boolean(),
  /** A percentage off the price, if any. */
  discount: Discount.default(0),
  at: Instant,
});
export type Product = z.infer<typeof ProductV1>;
