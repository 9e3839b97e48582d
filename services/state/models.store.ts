/**
 * The model registry: trained score models by version (their ONNX bytes and metadata), the promoted
 * version the score workers serve, and the promotions before it for rollback. Models are a few kilobytes,
 * so the bytes live in Redis beside the pointer: every worker, wherever it runs, reads the same model.
 */
import type { Redis } from 'ioredis';
import { CAP, type StateKeys } from '../../shared/keys';
import { execOrThrow } from './redis';

export interface StoredModel {
  version: string;
  onnx: Buffer;
  /** The metadata as registered (JSON). */
  meta: string;
  registeredAt: number;
}

export function createModelsStore(redis: Redis, keys: StateKeys) {
  return {
    /** Adds a version (replacing one of the same name) and drops the oldest beyond CAP.modelVersions. */
    async register(version: string, onnx: Uint8Array, meta: string, atMs: number): Promise<void> {
      await execOrThrow(
        redis
          .pipeline()
          .hset(keys.model(version), { onnx: Buffer.from(onnx), meta, registeredAt: String(atMs) })
          .zadd(keys.modelVersions, atMs, version),
      );
      const all = await redis.zrange(keys.modelVersions, 0, -1);
      const excess = all.length - CAP.modelVersions;
      if (excess <= 0) return;
      const keep = new Set([...(await redis.lrange(keys.modelHistory, 0, -1))]);
      const p = redis.pipeline();
      for (const v of all.slice(0, excess)) {
        if (keep.has(v)) continue;
        p.del(keys.model(v)).zrem(keys.modelVersions, v);
      }
      await execOrThrow(p);
    },

    async get(version: string): Promise<StoredModel | null> {
      const [onnx, meta, at] = await redis.hmgetBuffer(keys.model(version), 'onnx', 'meta', 'registeredAt');
      if (!onnx || !meta) return null;
      return { version, onnx, meta: meta.toString('utf8'), registeredAt: Number(at?.toString() ?? 0) };
    },

    /** Versions, oldest first. */
    async versions(): Promise<string[]> {
      return redis.zrange(keys.modelVersions, 0, -1);
    },

    /** The version the workers serve, or null (the heuristic scores). */
    async promoted(): Promise<string | null> {
      return redis.get(keys.modelPromoted);
    },

    /** Serves `version` from now on; the one before stays in the history for rollback. */
    async promote(version: string): Promise<void> {
      if (!(await redis.exists(keys.model(version))))
        throw new Error(`models: no version ${version} to promote`);
      await execOrThrow(
        redis
          .multi()
          .set(keys.modelPromoted, version)
          .lpush(keys.modelHistory, version)
          .ltrim(keys.modelHistory, 0, CAP.modelHistory - 1),
      );
    },

    /** Publishes a drift report (the metric): replaces the previous one. */
    async saveDrift(r: {
      version: string;
      day: string;
      rows: number;
      psi: Record<string, number>;
    }): Promise<void> {
      const fields: Record<string, string> = { version: r.version, day: r.day, rows: String(r.rows) };
      for (const [f, v] of Object.entries(r.psi)) fields[`psi:${f}`] = String(v);
      await execOrThrow(redis.multi().del(keys.modelDrift).hset(keys.modelDrift, fields));
    },

    async drift(): Promise<Record<string, string>> {
      return redis.hgetall(keys.modelDrift);
    },

    /** Goes back to the version promoted before the current one (or to none: the heuristic). */
    async rollback(): Promise<string | null> {
      const history = await redis.lrange(keys.modelHistory, 0, -1);
      const [, previous] = history;
      const m = redis.multi().lpop(keys.modelHistory);
      if (previous) m.set(keys.modelPromoted, previous);
      else m.del(keys.modelPromoted);
      await execOrThrow(m);
      return previous ?? null;
    },
  };
}

export type ModelsStore = ReturnType<typeof createModelsStore>;
