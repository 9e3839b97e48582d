/**
 * What every worker process builds once at start: config, logger, clock, Redis, queues, the state stores and
 * the enabled strategies.
 */
import type { Redis } from 'ioredis';
import type { Producer } from 'kafkajs';
import { clockFromConfig, type Clock } from '../shared/clock';
import { deliveryWindows } from '../shared/config';
import { createDeadLetters, type DeadLetters } from '../shared/dead-letter';
import { ConfigError } from '../shared/errors';
import { createLogger, type Logger } from '../shared/logger';
import { serveMetrics } from '../shared/metrics';
import { closeQueues, createQueues, type Queues } from '../shared/queue-factory';
import { checkRedisPolicy, createRedis } from '../shared/redis';
import { bootHeraldConfig, type HeraldConfig } from '../services/config';
import { DEFAULT_MINER } from '../services/affinity/basket-counts';
import { createState, type State } from '../services/state';
import { createStrategies, type Catalog, type StrategyPlugin } from '../services/strategies';

export interface Runtime {
  config: HeraldConfig;
  logger: Logger;
  clock: Clock;
  redis: Redis;
  queues: Queues;
  state: State;
  strategies: Map<string, StrategyPlugin>;
  /** What targeting reads from the catalog. */
  catalog: Catalog;
  /** Dead letters on Kafka, each also counted in the pipeline's counters. */
  deadLetters(producer: Producer): DeadLetters;
  close(): Promise<void>;
}

export function boot(name: string, opts: { metrics?: boolean } = {}): Runtime {
  const config = bootHeraldConfig();
  const logger = createLogger(name, config.LOG_LEVEL);
  let clock: Clock;
  let strategies: Map<string, StrategyPlugin>;
  try {
    clock = clockFromConfig(config.CLOCK, config.CLOCK_EPOCH_MS);
    strategies = createStrategies(config);
  } catch (err) {
    fatal(logger, err, err instanceof ConfigError ? 78 : 1);
  }
  const redis = createRedis(config.REDIS_URL, `herald-${name}`);
  redis.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
  void checkRedisPolicy(redis, logger);
  const queues = createQueues(redis, config.HERALD_PREFIX, logger);
  const metricsServer = serveMetrics(opts.metrics === false ? 0 : config.METRICS_PORT, name, logger);
  // State gets a connection of its own: ioredis copies every defined script into each new pipeline, and
  // BullMQ defines dozens, which made each state pipeline about 13x dearer to build.
  const stateRedis = createRedis(config.REDIS_URL, `herald-${name}-state`);
  stateRedis.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
  const state = createState(
    stateRedis,
    config.HERALD_PREFIX,
    clock,
    deliveryWindows(config),
    config.ENGAGEMENT_HALF_LIFE_DAYS,
    { campaignShare: config.TRACE_CAMPAIGN_SHARE, days: config.TRACE_DAYS },
    { ...DEFAULT_MINER, windowMs: config.BASKET_WINDOW_DAYS * 86_400_000 },
    config.FATIGUE_HALF_LIFE_DAYS,
  );
  return {
    config,
    logger,
    clock,
    redis,
    queues,
    state,
    strategies,
    catalog: {
      storesInCategories: (c) => state.catalog.storesInCategories(c),
      activeSales: (now, day) => state.catalog.activeSales(now, day),
      basketTable: () => state.basket.current(),
      storesNear: (point, radiusKm, limit) => state.catalog.storesNear(point, radiusKm, limit),
      userCategories: async (userId) =>
        (await state.users.getUsers([userId], { categories: true })).get(userId)?.categories ?? {},
      claimCooldowns: (scope, userId, ids, token, ms) =>
        state.places.claimCooldowns(scope, userId, ids, token, ms),
      claimCooldownsMany: (scope, claims, ms) => state.places.claimCooldownsMany(scope, claims, ms),
      products: state.products,
    },
    deadLetters(producer) {
      const letters = createDeadLetters(producer, config.KAFKA_TOPIC_PREFIX, name, clock);
      return {
        async send(refused) {
          await letters.send(refused);
          await state.telemetry.countDead(refused.length);
        },
      };
    },
    async close() {
      const server = await metricsServer;
      server?.close();
      await closeQueues(queues);
      await stateRedis.quit();
      await redis.quit();
    },
  };
}

/** Exit with one clear line when start-up fails (bad affinity file, unreachable broker). */
export function fatal(logger: Logger, err: unknown, code = 1): never {
  const message = err instanceof Error ? err.message : String(err);
  logger.fatal({ err }, message);
  process.stderr.write(`${message}\n`);
  process.exit(code);
}
