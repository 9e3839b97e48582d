/**
 * What every worker process builds once at start: config, logger, clock, Redis, queues, state store.
 */
import { bootConfig, type Config } from '../shared/config';
import { clockFromConfig, type Clock } from '../shared/clock';
import { createLogger, type Logger } from '../shared/logger';
import { closeQueues, createQueues, type Queues } from '../shared/queue';
import { checkRedisPolicy, createRedis } from '../shared/redis';
import { loadAffinity } from '../services/affinity/affinity-table';
import { createStrategies, type Catalog } from '../services/strategies';
import { createStateStore, type StateStore } from '../services/state/state-store';
import { ConfigError } from '../shared/errors';
import type { Redis } from 'ioredis';

export interface Runtime {
  config: Config;
  logger: Logger;
  clock: Clock;
  redis: Redis;
  queues: Queues;
  store: StateStore;
  close(): Promise<void>;
}

export function boot(name: string): Runtime {
  const config = bootConfig();
  const logger = createLogger(name, config.LOG_LEVEL);
  let clock: Clock;
  try {
    clock = clockFromConfig(config.CLOCK, config.CLOCK_EPOCH_MS);
  } catch (err) {
    process.stderr.write(`${(err as ConfigError).message}\n`);
    process.exit(78);
  }
  const redis = createRedis(config.REDIS_URL, `herald-${name}`);
  redis.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
  void checkRedisPolicy(redis, logger);
  const queues = createQueues(redis, config.HERALD_PREFIX);
  // State gets a connection of its own: ioredis copies every defined script into each new pipeline, and
  // BullMQ defines dozens, which made each state pipeline about 13x dearer to build.
  const stateRedis = createRedis(config.REDIS_URL, `herald-${name}-state`);
  stateRedis.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
  const store = createStateStore(stateRedis, config.HERALD_PREFIX, clock);
  return {
    config,
    logger,
    clock,
    redis,
    queues,
    store,
    async close() {
      await closeQueues(queues);
      await stateRedis.quit();
      await redis.quit();
    },
  };
}

export function strategiesAndCatalog(rt: Runtime) {
  const strategies = createStrategies(rt.config);
  const affinity = loadAffinity(rt.config.AFFINITY_PATH);
  const catalog: Catalog = {
    affinity,
    storesInCategories: (c) => rt.store.storesInCategories(c),
    activeSales: (now, day) => rt.store.activeSales(now, day),
  };
  return { strategies, catalog };
}

/** Exit with one clear line when start-up fails (bad affinity file, unreachable broker). */
export function fatal(logger: Logger, err: unknown): never {
  const message = err instanceof Error ? err.message : String(err);
  logger.fatal({ err }, message);
  process.stderr.write(`${message}\n`);
  process.exit(1);
}
