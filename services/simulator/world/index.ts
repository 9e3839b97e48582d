/** The simulated world: ground truth, generated behaviour, response model and oracle. Pure; no I/O. */
export { Rng, createRng, hashSeed, hashHex } from './rng';
export {
  DAY_MS,
  HOUR_MS,
  SLOT_MS,
  SLOTS_PER_DAY,
  WEEK_HOURS,
  ZoneCalendar,
  type LocalDayHours,
} from './calendar';
export { defaultZoneMix, prettyCategory, type ZoneShare } from './catalog';
export { FollowUpTableSchema, type FollowEdge, type FollowUpTable } from './follow-ups';
export { DEFAULT_ACTIVITY, PLATFORMS, type ActivityRates, type Platform, type UserTable } from './users';
export { type StoreSpec } from './stores';
export { lineItemsOf, productsOf, type ProductSpec, type WorldProducts } from './products';
export { createSales, salesOfDay, type SaleSpec } from './sales';
export {
  activeHoursOfUser,
  activeWeight,
  activeWeightAt,
  describeUser,
  devicesAt,
  distanceKm,
  preferredCategory,
  localTimeOf,
  preference,
  preferencesOf,
  pushOptInAt,
  timeZoneOf,
  userId,
  userIndex,
  type DeviceTruth,
  type UserRef,
  type UserTruth,
} from './truth';
export { createWorld, type World, type WorldOptions } from './world';
export {
  generateDay,
  generateSales,
  initialEvents,
  plannedPurchases,
  type AnySimEvent,
  type GenerateDayOptions,
  type PlannedPurchase,
  type PurchasePlan,
  type SimEvent,
  type SimTopic,
} from './behaviour';
export {
  DEFAULT_RESPONSE_MODEL,
  NO_FATIGUE,
  fatigueLoad,
  feedbackEvents,
  recordPush,
  respond,
  sampleResponse,
  type FatigueState,
  type FeedbackArgs,
  type PushSpec,
  type ResponseFactors,
  type ResponseModel,
  type ResponseOutcome,
  type ResponseProbabilities,
} from './response';
export {
  bestHourUtc,
  oraclePush,
  type OracleCandidate,
  type OracleChoice,
  type OracleOptions,
} from './oracle';
