/** The campaign schedule's memory: which ticks fired, so replicas and restarts fire each once. */
import type { Redis } from 'ioredis';
import { TTL, type StateKeys } from '../../shared/keys';

export function createScheduleStore(redis: Redis, keys: StateKeys) {
  return {
    async fired(campaign: string, tickMs: number): Promise<boolean> {
      return (await redis.exists(keys.scheduleFired(campaign, tickMs))) === 1;
    },
    async markFired(campaign: string, tickMs: number): Promise<void> {
      await redis.set(keys.scheduleFired(campaign, tickMs), '1', 'PX', TTL.scheduleTick);
    },
  };
}

export type ScheduleStore = ReturnType<typeof createScheduleStore>;
