/**
 * Where users are: their frequent places (services/places, folded from location pings, one small JSON per
 * user) and the per user-and-item cooldowns a strategy claims when it suggests something.
 *
 * A user's pings come on one Kafka partition, so one consumer folds them: a read, the pure fold, a write.
 * Ingest folds only pings seen for the first time (telemetry's seen set), so a redelivery adds nothing.
 */
import type { Redis } from 'ioredis';
import { TTL, type StateKeys } from '../../shared/keys';
import { ttlMs, type Clock } from '../../shared/clock';
import {
  DEFAULT_PLACES,
  foldPing,
  frequentPlaces,
  type FrequentPlace,
  type Ping,
  type Places,
  type PlacesOptions,
} from '../places/places';
import { execOrThrow } from './redis';

function parsePlaces(raw: string | null): Places {
  if (!raw) return {};
  try {
    const v = JSON.parse(raw) as unknown;
    return v && typeof v === 'object' ? (v as Places) : {};
  } catch {
    return {};
  }
}

export function createPlacesStore(
  redis: Redis,
  keys: StateKeys,
  clock: Clock,
  options: PlacesOptions = DEFAULT_PLACES,
) {
  return {
    /** Folds pings (each with the user's local hour) into their users' places. */
    async foldPings(pings: ReadonlyArray<Ping & { userId: string }>): Promise<void> {
      if (pings.length === 0) return;
      const byUser = new Map<string, Ping[]>();
      for (const p of pings) byUser.set(p.userId, [...(byUser.get(p.userId) ?? []), p]);
      const users = [...byUser.keys()];
      const raw = (await execOrThrow(
        users.reduce((p, u) => p.get(keys.places(u)), redis.pipeline()),
      )) as Array<string | null>;
      const w = redis.pipeline();
      users.forEach((u, i) => {
        let places = parsePlaces(raw[i] ?? null);
        for (const ping of byUser.get(u)!) places = foldPing(places, ping, options);
        w.set(keys.places(u), JSON.stringify(places), 'PX', TTL.places);
      });
      await execOrThrow(w);
    },

    /** Each user's frequent places at `now` (users without any are left out). */
    async getPlaces(userIds: readonly string[], now: number): Promise<Map<string, FrequentPlace[]>> {
      const out = new Map<string, FrequentPlace[]>();
      if (userIds.length === 0) return out;
      const raw = (await execOrThrow(
        userIds.reduce((p, u) => p.get(keys.places(u)), redis.pipeline()),
      )) as Array<string | null>;
      userIds.forEach((u, i) => {
        const list = frequentPlaces(parsePlaces(raw[i] ?? null), now, options);
        if (list.length > 0) out.set(u, list);
      });
      return out;
    },

    /**
     * Claims the cooldown of each (user, id) under `scope` for `token` (the trigger): returns the ids that
     * are free or already held by this same token (a retried target gets its own claims back).
     */
    async claimCooldowns(
      scope: string,
      userId: string,
      ids: readonly string[],
      token: string,
      cooldownMs: number,
    ): Promise<string[]> {
      if (ids.length === 0) return [];
      const ttl = ttlMs(clock, cooldownMs);
      const p = redis.pipeline();
      for (const id of ids) {
        p.set(keys.cooldown(scope, userId, id), token, 'PX', ttl, 'NX');
        p.get(keys.cooldown(scope, userId, id));
      }
      const res = await execOrThrow(p);
      return ids.filter((_, i) => res[2 * i] === 'OK' || res[2 * i + 1] === token);
    },

    /**
     * `claimCooldowns` for several claims in one round trip, applied in the order given (so a claim sees the
     * claims before it, as calls one after another would); resolves to each claim's free ids.
     */
    async claimCooldownsMany(
      scope: string,
      claims: ReadonlyArray<{ userId: string; ids: readonly string[]; token: string }>,
      cooldownMs: number,
    ): Promise<string[][]> {
      if (claims.every((c) => c.ids.length === 0)) return claims.map(() => []);
      const ttl = ttlMs(clock, cooldownMs);
      const p = redis.pipeline();
      for (const c of claims) {
        for (const id of c.ids) {
          p.set(keys.cooldown(scope, c.userId, id), c.token, 'PX', ttl, 'NX');
          p.get(keys.cooldown(scope, c.userId, id));
        }
      }
      const res = await execOrThrow(p);
      let at = 0;
      return claims.map((c) =>
        c.ids.filter(() => {
          const i = at;
          at += 2;
          return res[i] === 'OK' || res[i + 1] === c.token;
        }),
      );
    },
  };
}

export type PlacesStore = ReturnType<typeof createPlacesStore>;
