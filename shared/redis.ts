import { Redis } from 'ioredis';
import type { Logger } from './logger';

/**
 * A Redis connection fit for BullMQ workers (maxRetriesPerRequest: null: a blocked command waits for Redis
 * to come back instead of failing the job).
 */
export function createRedis(url: string, name = 'herald'): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, connectionName: name, enableAutoPipelining: false });
}

/**
 * DESIGN: BullMQ is only safe under `noeviction`; warn once at start when Redis says otherwise. Also note
 * when user hashes would not stay compact (hash-max-listpack-value below 512 nearly doubles their memory).
 */
export async function checkRedisPolicy(redis: Redis, logger: Logger): Promise<void> {
  try {
    const res = (await redis.config('GET', 'maxmemory-policy')) as string[];
    const policy = res[1];
    if (policy && policy !== 'noeviction') {
      logger.warn(
        { policy },
        `redis maxmemory-policy is ${policy}; BullMQ needs noeviction or jobs may vanish`,
      );
    }
    const listpack = Number(((await redis.config('GET', 'hash-max-listpack-value')) as string[])[1]);
    if (listpack < 512) {
      logger.info(
        { listpack },
        'redis hash-max-listpack-value is below 512; user state takes about 1.8x the memory',
      );
    }
  } catch {
    // Managed Redis often forbids CONFIG; nothing to check then.
  }
}
