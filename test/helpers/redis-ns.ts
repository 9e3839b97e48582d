/** A Redis namespace of a test's own: a random key prefix on the machine's Redis, removed afterwards. */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

export function redisNamespace() {
  const prefix = `t${randomBytes(4).toString('hex')}`;
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
  return {
    prefix,
    redis,
    /** Every key of the namespace, for assertions on what was written. */
    async keys(): Promise<string[]> {
      return redis.keys(`${prefix}:*`);
    },
    async drop(): Promise<void> {
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length) await redis.unlink(...keys);
      await redis.quit();
    },
  };
}
