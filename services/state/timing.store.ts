/**
 * Timing: the engagement-time model's counters (services/timing/engagement.ts) for each user, each time zone
 * (the cohort prior) and everyone (the global prior). A counter per local hour, decayed with a half-life and
 * stored with the minute it was last brought up to date, so an update touches one hour in one script call.
 */
import type { Redis, Result } from 'ioredis';
import { TTL, type StateKeys } from '../../shared/keys';
import { HOURS, type HourCounters } from '../timing/engagement';
import { defineScripts, execOrThrow } from './redis';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    bumpHour(
      key: string,
      hour: number,
      weight: number,
      atMinute: number,
      halfLifeMinutes: number,
      ttlMs: number,
    ): Result<number, Context>;
  }
}

const SCRIPTS = {
  /**
   * Adds ARGV[2] events at hour ARGV[1] seen at minute ARGV[3]: the hour's value is decayed to that minute
   * first (or the event decayed to the hour's minute when it is older). ARGV[5] > 0 sets the key's expiry.
   */
  bumpHour: {
    numberOfKeys: 1,
    lua: `
local vf, tf = 'v' .. ARGV[1], 't' .. ARGV[1]
local v = tonumber(redis.call('HGET', KEYS[1], vf) or '0')
local t = tonumber(redis.call('HGET', KEYS[1], tf) or ARGV[3])
local now, w, hl = tonumber(ARGV[3]), tonumber(ARGV[2]), tonumber(ARGV[4])
if now >= t then
  v = v * 2 ^ (-(now - t) / hl) + w
  t = now
else
  v = v + w * 2 ^ (-(t - now) / hl)
end
redis.call('HSET', KEYS[1], vf, string.format('%.4f', v), tf, t)
if tonumber(ARGV[5]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
return 1`,
  },
} as const;

export interface Evidence {
  userId: string;
  tz: string;
  /** Local hour of the event, 0-23. */
  hour: number;
  weight: number;
  at: number;
}

const MINUTE = 60_000;

function toCounters(raw: Record<string, string>): HourCounters {
  const c: HourCounters = { values: new Array<number>(HOURS).fill(0), at: new Array<number>(HOURS).fill(0) };
  // Only the hours with evidence are stored: walk those fields rather than look up all 48 names per user.
  for (const f in raw) {
    if (f.charCodeAt(0) !== 118 /* 'v' */) continue;
    const tail = f.slice(1);
    const h = Number(tail);
    if (!(h >= 0 && h < HOURS) || String(h) !== tail) continue;
    c.values[h] = Number(raw[f]);
    c.at[h] = Number(raw[`t${h}`] ?? 0) * MINUTE;
  }
  return c;
}

export function createTimingStore(redis: Redis, keys: StateKeys, halfLifeDays: number) {
  defineScripts(redis, SCRIPTS);
  const halfLifeMinutes = (halfLifeDays * 86_400_000) / MINUTE;
  return {
    /**
     * Adds evidence to each user's counters, and to their zone's and everyone's. A batch's evidence for one
     * zone (and for everyone) is summed per hour first: one call per (prior, hour), not per event.
     */
    async record(evidence: readonly Evidence[]): Promise<void> {
      if (evidence.length === 0) return;
      const p = redis.pipeline();
      const priors = new Map<string, { key: string; hour: number; weight: number; at: number }>();
      const addPrior = (key: string, e: Evidence) => {
        const id = `${key}|${e.hour}`;
        const cur = priors.get(id);
        if (cur) {
          cur.weight += e.weight;
          cur.at = Math.max(cur.at, e.at);
        } else priors.set(id, { key, hour: e.hour, weight: e.weight, at: e.at });
      };
      for (const e of evidence) {
        p.bumpHour(
          keys.hours(e.userId),
          e.hour,
          e.weight,
          Math.floor(e.at / MINUTE),
          halfLifeMinutes,
          TTL.hours,
        );
        addPrior(keys.hoursOfZone(e.tz), e);
        addPrior(keys.hoursOfAll, e);
      }
      for (const x of priors.values()) {
        p.bumpHour(x.key, x.hour, x.weight, Math.floor(x.at / MINUTE), halfLifeMinutes, 0);
      }
      await execOrThrow(p);
    },

    /** The counters of these users, of their zones, and of everyone. */
    async read(users: ReadonlyArray<{ userId: string; tz: string }>): Promise<{
      user: Map<string, HourCounters>;
      zone: Map<string, HourCounters>;
      all: HourCounters;
    }> {
      const zones = [...new Set(users.map((u) => u.tz))];
      const p = redis.pipeline();
      for (const u of users) p.hgetall(keys.hours(u.userId));
      for (const z of zones) p.hgetall(keys.hoursOfZone(z));
      p.hgetall(keys.hoursOfAll);
      const res = (await execOrThrow(p)) as Array<Record<string, string>>;
      const user = new Map(users.map((u, i) => [u.userId, toCounters(res[i]!)]));
      const zone = new Map(zones.map((z, i) => [z, toCounters(res[users.length + i]!)]));
      return { user, zone, all: toCounters(res[res.length - 1]!) };
    },
  };
}

export type TimingStore = ReturnType<typeof createTimingStore>;
