/**
 * What every store module shares: registering its Lua scripts on the connection, and running a pipeline
 * whose first failed command fails the whole call.
 */
import type { Redis, Result } from 'ioredis';

export interface ScriptDef {
  numberOfKeys: number;
  lua: string;
}

/** Registers scripts on a connection (EVALSHA, loaded on first use, pipeline-safe). Idempotent. */
export function defineScripts(redis: Redis, scripts: Readonly<Record<string, ScriptDef>>): void {
  for (const [name, s] of Object.entries(scripts)) {
    if (!(name in redis)) redis.defineCommand(name, { numberOfKeys: s.numberOfKeys, lua: s.lua });
  }
}

export type Pipeline = ReturnType<Redis['pipeline']>;

export async function execOrThrow(p: Pipeline): Promise<unknown[]> {
  const res = (await p.exec()) ?? [];
  return res.map(([err, v]) => {
    if (err) throw err;
    return v;
  });
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    countOnce(seen: string, counters: string, ttlMs: number, field: string): Result<number, Context>;
  }
}

/** Scripts more than one store uses. */
export const COMMON_SCRIPTS = {
  /** Counts an event once: SET seen NX, and only then bump the counter. Returns 1 if new. */
  countOnce: {
    numberOfKeys: 2,
    lua: `
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
  return 1
end
return 0`,
  },
} as const satisfies Record<string, ScriptDef>;
