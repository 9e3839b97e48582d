/**
 * Decisions: each user's winning candidate of the contact window, kept by an atomic compare-and-set so
 * that concurrent conciliate jobs settle on the best one.
 */
import type { Redis, Result } from 'ioredis';
import { TTL, type StateKeys } from '../../shared/keys';
import { ttlMs, type Clock } from '../../shared/clock';
import { Winner as WinnerSchema, type Winner } from '../../shared/schemas/jobs.schema';
import { defineScripts, execOrThrow } from './redis';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    offerWinner(
      key: string,
      json: string,
      score: number,
      decisionId: string,
      ttlMs: number,
    ): Result<number, Context>;
    dropWinner(key: string, decisionId: string): Result<number, Context>;
  }
}

const SCRIPTS = {
  /**
   * Keeps the user's best candidate of the contact window: replaces the winner only if the new one scores
   * higher (ties keep the first). Returns 1 if the new candidate is now the winner.
   */
  offerWinner: {
    numberOfKeys: 1,
    lua: `
local cur = redis.call('GET', KEYS[1])
if cur then
  local c = cjson.decode(cur)
  if c.decisionId == ARGV[3] then return 1 end
  if tonumber(c.score) >= tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[4])
return 1`,
  },
  /** Removes the winner if it is still this decision (a newer one is left alone). */
  dropWinner: {
    numberOfKeys: 1,
    lua: `
local cur = redis.call('GET', KEYS[1])
if cur and cjson.decode(cur).decisionId == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
  },
} as const;

/** `contactWindowMs` is clock time; its Redis TTL follows the clock's speed. */
export function createDecisionsStore(redis: Redis, keys: StateKeys, clock: Clock, contactWindowMs: number) {
  defineScripts(redis, SCRIPTS);
  const winnerTtl = ttlMs(clock, contactWindowMs);
  return {
    /** Offers each user a candidate; returns the users for whom it is now the window's winner. */
    async offerWinners(offers: ReadonlyArray<{ userId: string; winner: Winner }>): Promise<string[]> {
      if (offers.length === 0) return [];
      const p = redis.pipeline();
      for (const o of offers) {
        p.offerWinner(
          keys.winner(o.userId),
          JSON.stringify(o.winner),
          o.winner.score,
          o.winner.decisionId,
          winnerTtl,
        );
      }
      const res = await execOrThrow(p);
      return offers.filter((_, i) => res[i] === 1).map((o) => o.userId);
    },

    /**
     * Withdraws winners that can no longer be sent (their push id already went out: a replay or a
     * duplicate decided it again), so they do not hold the window against the user's next push.
     */
    async dropWinners(drops: ReadonlyArray<{ userId: string; decisionId: string }>): Promise<void> {
      if (drops.length === 0) return;
      const p = redis.pipeline();
      for (const d of drops) p.dropWinner(keys.winner(d.userId), d.decisionId);
      await execOrThrow(p);
    },

    /** Records the feature vector each (user, candidate) was scored with (JSON { schema, values }). */
    async recordFeatures(
      entries: ReadonlyArray<{ userId: string; candidateId: string; json: string }>,
    ): Promise<void> {
      if (entries.length === 0) return;
      const p = redis.pipeline();
      for (const e of entries) {
        p.set(keys.decisionFeatures(e.userId, e.candidateId), e.json, 'PX', TTL.decisionFeatures);
      }
      await execOrThrow(p);
    },

    /** The recorded feature vectors (JSON) of these (user, candidate) pairs, by user id; absent if none. */
    async getFeatures(
      pairs: ReadonlyArray<{ userId: string; candidateId: string }>,
    ): Promise<Map<string, string>> {
      const out = new Map<string, string>();
      if (pairs.length === 0) return out;
      const res = await redis.mget(...pairs.map((e) => keys.decisionFeatures(e.userId, e.candidateId)));
      pairs.forEach((e, i) => {
        const v = res[i];
        if (v) out.set(e.userId, v);
      });
      return out;
    },

    async getWinners(userIds: readonly string[]): Promise<Map<string, Winner>> {
      if (userIds.length === 0) return new Map();
      const res = await redis.mget(...userIds.map((u) => keys.winner(u)));
      const out = new Map<string, Winner>();
      res.forEach((v, i) => {
        if (v) out.set(userIds[i]!, WinnerSchema.parse(JSON.parse(v)));
      });
      return out;
    },
  };
}

export type DecisionsStore = ReturnType<typeof createDecisionsStore>;
