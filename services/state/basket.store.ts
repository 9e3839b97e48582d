/**
 * The market-basket miner's state: each user's recent purchases and the follow-up counts, sharded by user
 * (BASKET_SHARDS), and the mined table targeting reads.
 *
 * `record` decides in TypeScript (`foldPurchase`, the function the offline command runs) and lets a script
 * only guard: per shard, one script checks that no user's history changed since it was read and then writes
 * the new histories and adds the counts, all in one slot (the shard's hash tag), or writes nothing and the
 * batch is re-read and re-decided. So a purchase is counted once whatever redelivers it: its id is in the
 * history the counts were added with, atomically. Purchases of one user come on one Kafka partition, so the
 * guard fails only while partitions move between consumers.
 *
 * The table is one hash written whole (version, builtAt, table) in one MULTI; `current` re-reads the JSON
 * only when the version moved.
 */
import type { Redis, Result } from 'ioredis';
import { BASKET_SHARDS, type StateKeys } from '../../shared/keys';
import { ttlMs, type Clock } from '../../shared/clock';
import {
  DEFAULT_MINER,
  PAIR_SEP,
  addPair,
  emptyCounts,
  emptyDelta,
  eventHash,
  foldPurchase,
  type BasketCounts,
  type BasketPurchase,
  type CountsDelta,
  type HistoryEntry,
  type MinerOptions,
} from '../affinity/basket-counts';
import type { MinedTable } from '../affinity/basket-table';
import { execOrThrow } from './redis';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    basketApply(numKeys: number, ...args: Array<string | number>): Result<number, Context>;
  }
}

/**
 * KEYS: counts, then each user's history key. ARGV: ttl ms, users m, the m histories expected ('' for none),
 * the m new ones, then field / increment pairs for the counts. Writes nothing and returns 0 when a history
 * is not the one expected.
 */
const APPLY = `
local m = tonumber(ARGV[2])
for i = 1, m do
  local cur = redis.call('GET', KEYS[i + 1]) or ''
  if cur ~= ARGV[2 + i] then return 0 end
end
for i = 1, m do
  redis.call('SET', KEYS[i + 1], ARGV[2 + m + i], 'PX', ARGV[1])
end
for j = 3 + 2 * m, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[j], ARGV[j + 1])
end
return 1
`;

export interface RecordResult {
  counted: number;
  duplicates: number;
  late: number;
}

/** The shard of a user: FNV-1a of the id. */
export function basketShard(userId: string): number {
  return parseInt(eventHash(userId), 36) % BASKET_SHARDS;
}

const ATTEMPTS = 5;

export function createBasketStore(
  redis: Redis,
  keys: StateKeys,
  clock: Clock,
  options: MinerOptions = DEFAULT_MINER,
) {
  if (!('basketApply' in (redis as object))) redis.defineCommand('basketApply', { lua: APPLY });
  const historyTtl = () => ttlMs(clock, options.windowMs + 86_400_000);
  let cached: MinedTable | null = null;

  async function recordShard(
    shard: number,
    byUser: Map<string, BasketPurchase[]>,
    out: RecordResult,
  ): Promise<void> {
    const users = [...byUser.keys()];
    const historyKeys = users.map((u) => keys.basketRecent(shard, u));
    for (let attempt = 1; ; attempt++) {
      const raw = (await execOrThrow(historyKeys.reduce((p, k) => p.get(k), redis.pipeline()))) as Array<
        string | null
      >;
      const delta: CountsDelta = emptyDelta();
      const next: string[] = [];
      const result: RecordResult = { counted: 0, duplicates: 0, late: 0 };
      users.forEach((u, i) => {
        let history = parseHistory(raw[i] ?? null);
        for (const p of byUser.get(u)!) {
          const r = foldPurchase(history, p, delta, options);
          if (r.kind === 'counted') {
            history = r.history;
            result.counted++;
          } else if (r.kind === 'duplicate') result.duplicates++;
          else result.late++;
        }
        next.push(JSON.stringify(history));
      });
      const incr: Array<string | number> = [];
      for (const [a, v] of delta.n) incr.push(`n${PAIR_SEP}${a}`, v);
      for (const [a, v] of delta.next) incr.push(`x${PAIR_SEP}${a}`, v);
      for (const [ab, v] of delta.pairs) incr.push(`p${PAIR_SEP}${ab}`, v);
      const applied = await redis.basketApply(
        1 + users.length,
        keys.basketCounts(shard),
        ...historyKeys,
        historyTtl(),
        users.length,
        ...raw.map((h) => h ?? ''),
        ...next,
        ...incr,
      );
      if (applied === 1) {
        out.counted += result.counted;
        out.duplicates += result.duplicates;
        out.late += result.late;
        return;
      }
      if (attempt >= ATTEMPTS)
        throw new Error(`basket shard ${shard}: histories kept changing under ${attempt} attempts`);
    }
  }

  return {
    /** Folds purchases into the histories and counts. Safe to call again with the same purchases. */
    async record(
      purchases: ReadonlyArray<{ userId: string; eventId: string; category: string; at: string | number }>,
    ): Promise<RecordResult> {
      const out: RecordResult = { counted: 0, duplicates: 0, late: 0 };
      if (purchases.length === 0) return out;
      const shards = new Map<number, Map<string, BasketPurchase[]>>();
      for (const p of purchases) {
        const s = basketShard(p.userId);
        let byUser = shards.get(s);
        if (!byUser) shards.set(s, (byUser = new Map<string, BasketPurchase[]>()));
        let list = byUser.get(p.userId);
        if (!list) byUser.set(p.userId, (list = []));
        list.push({
          eventId: p.eventId,
          category: p.category,
          at: typeof p.at === 'number' ? p.at : Date.parse(p.at),
        });
      }
      await Promise.all([...shards].map(([s, byUser]) => recordShard(s, byUser, out)));
      return out;
    },

    /** Every shard's counts, merged. */
    async counts(): Promise<BasketCounts> {
      const p = redis.pipeline();
      for (let s = 0; s < BASKET_SHARDS; s++) p.hgetall(keys.basketCounts(s));
      const shards = (await execOrThrow(p)) as Array<Record<string, string>>;
      const counts = emptyCounts();
      for (const h of shards) {
        for (const [field, value] of Object.entries(h)) {
          const v = Number(value);
          const kind = field.slice(0, 2);
          const rest = field.slice(2);
          if (kind === `n${PAIR_SEP}`) counts.n.set(rest, (counts.n.get(rest) ?? 0) + v);
          else if (kind === `x${PAIR_SEP}`) counts.next.set(rest, (counts.next.get(rest) ?? 0) + v);
          else if (kind === `p${PAIR_SEP}`) addPair(counts, rest, v);
        }
      }
      return counts;
    },

    /** Writes the table whole under the next version, in one MULTI; returns that version. */
    async writeTable(table: MinedTable): Promise<number> {
      const res = await execOrThrow(
        redis
          .multi()
          .hincrby(keys.basketTable, 'version', 1)
          .hset(keys.basketTable, 'builtAt', String(table.builtAt), 'table', JSON.stringify(table)),
      );
      return Number(res[0]);
    },

    /** The current version, 0 when no table was written. */
    async tableVersion(): Promise<number> {
      return Number((await redis.hget(keys.basketTable, 'version')) ?? 0);
    },

    /** The current table (cached until its version moves), or null before the first build. */
    async current(): Promise<MinedTable | null> {
      const version = await redis.hget(keys.basketTable, 'version');
      if (!version) return null;
      if (cached && String(cached.version) === version) return cached;
      const [v, json] = await redis.hmget(keys.basketTable, 'version', 'table');
      if (!v || !json) return null;
      // The table's own version field is that of the build; the hash's is the one it was written under.
      cached = { ...(JSON.parse(json) as MinedTable), version: Number(v) };
      return cached;
    },

    /** When the current table was built (clock ms), or null. */
    async builtAt(): Promise<number | null> {
      const v = await redis.hget(keys.basketTable, 'builtAt');
      return v === null ? null : Number(v);
    },
  };
}

function parseHistory(raw: string | null): HistoryEntry[] {
  if (!raw) return [];
  try {
    const v = JSON.parse(raw) as unknown;
    return Array.isArray(v) ? (v as HistoryEntry[]) : [];
  } catch {
    return [];
  }
}

export type BasketStore = ReturnType<typeof createBasketStore>;
