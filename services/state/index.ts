/**
 * Herald's state in Redis, one store per concern. Raw Redis stays inside these modules: stages and
 * services see methods, never the connection.
 */
import type { Redis } from 'ioredis';
import { systemClock, type Clock } from '../../shared/clock';
import { deliveryWindows, loadConfig } from '../../shared/config';
import { stateKeys } from '../../shared/keys';
import { DEFAULT_MINER, type MinerOptions } from '../affinity/basket-counts';
import { createBasketStore } from './basket.store';
import { createCatalogStore } from './catalog.store';
import { createPlacesStore } from './places.store';
import { createProductsStore } from './products.store';
import { createDecisionsStore } from './decisions.store';
import { createConciliationStore } from './conciliation.store';
import { createModelsStore } from './models.store';
import { createDeliveryStore, type DeliveryWindows } from './delivery.store';
import { createRateLimitStore } from './ratelimit.store';
import { createScheduleStore } from './schedule.store';
import { createTelemetryStore } from './telemetry.store';
import { createTimingStore } from './timing.store';
import { createTraceStore, DEFAULT_TRACE, type TraceOptions } from './trace.store';
import { createUsersStore } from './users.store';

/** The config's defaults, for callers that do not decide delivery (readers, tests of other concerns). */
const DEFAULT_WINDOWS: DeliveryWindows = deliveryWindows(loadConfig({}));

/**
 * `clock` turns windows measured in clock time (a sale's end, the contact window) into Redis TTLs, which
 * run on the wall clock.
 */
export function createState(
  redis: Redis,
  prefix: string,
  clock: Clock = systemClock,
  windows: DeliveryWindows = DEFAULT_WINDOWS,
  /** Days after which an engagement event counts half. */
  engagementHalfLifeDays = 30,
  trace: TraceOptions = DEFAULT_TRACE,
  /** The market-basket miner's options (window, history per user). Default DEFAULT_MINER. */
  miner: MinerOptions = DEFAULT_MINER,
  /** Days after which an ignored push weighs half in the fatigue load. Default 3. */
  fatigueHalfLifeDays = 3,
) {
  const keys = stateKeys(prefix);
  return {
    users: createUsersStore(redis, keys),
    catalog: createCatalogStore(redis, keys, clock),
    decisions: createDecisionsStore(redis, keys, clock, windows.contactWindowMs),
    conciliation: createConciliationStore(redis, keys, clock, {
      contactWindowMs: windows.contactWindowMs,
      pushRecordMs: windows.pushRecordMs,
      fatigueHalfLifeMs: fatigueHalfLifeDays * 86_400_000,
    }),
    delivery: createDeliveryStore(redis, keys, clock, windows),
    telemetry: createTelemetryStore(redis, keys),
    schedule: createScheduleStore(redis, keys),
    timing: createTimingStore(redis, keys, engagementHalfLifeDays),
    trace: createTraceStore(redis, keys, clock, trace),
    basket: createBasketStore(redis, keys, clock, miner),
    places: createPlacesStore(redis, keys, clock),
    rateLimits: createRateLimitStore(redis, keys),
    models: createModelsStore(redis, keys),
    products: createProductsStore(redis, keys),
  };
}

export type State = ReturnType<typeof createState>;
export type { UserState, UsersStore } from './users.store';
export type { StoreState, SaleState, CatalogStore } from './catalog.store';
export type { DecisionsStore } from './decisions.store';
export type { ConciliationStore, UserEngagement, UserOffers } from './conciliation.store';
export type { DeliveryStore, DeliveryWindows, OutboxEntry, Reservation } from './delivery.store';
export type { DropRecord, TelemetryStore } from './telemetry.store';
export type { RateLimitStore } from './ratelimit.store';
export type { ScheduleStore } from './schedule.store';
export type { Evidence, TimingStore } from './timing.store';
export type { TraceEntry, TraceInput, TraceStage, TraceStore, Tracer } from './trace.store';
export type { BasketStore, RecordResult } from './basket.store';
export type { PlacesStore } from './places.store';
export type { ModelsStore, StoredModel } from './models.store';
export type {
  ItemRow,
  ProductLine,
  ProductState,
  ProductsStore,
  RecsRow,
  RecsVersion,
} from './products.store';
