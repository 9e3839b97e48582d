/**
 * The benchmark's own redis-server (so INFO stats and memory are its alone) and what it reads from INFO.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { sleep } from '../../shared/wait';
import { cpuSeconds, startProc, stopProc, type Proc } from './procs';
import { freePort } from './util';

export interface OwnRedis {
  url: string;
  port: number;
  proc: Proc;
  version: string;
  stop(): Promise<void>;
}

export async function startOwnRedis(logDir: string): Promise<OwnRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'herald-bench-redis-'));
  const proc = startProc(
    'redis-server',
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--maxmemory-policy',
      'noeviction',
      '--dir',
      dir,
      '--protected-mode',
      'yes',
    ],
    {},
    join(logDir, 'redis-server.log'),
  );
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  probe.on('error', () => undefined); // refused while the server starts; retried below
  let version: string;
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await probe.connect();
      await probe.ping();
      version = (await info(probe, 'server')).redis_version ?? '?';
      break;
    } catch (err) {
      probe.disconnect();
      if (proc.hasExited() || Date.now() > deadline) {
        throw new Error(
          `bench: redis-server on port ${port} did not start: ${String(err)}; see ${proc.logFile}`,
          {
            cause: err,
          },
        );
      }
      await sleep(100);
    }
  }
  probe.disconnect();
  return {
    url,
    port,
    proc,
    version,
    async stop() {
      await stopProc(proc, 10_000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function info(redis: Redis, section: string): Promise<Record<string, string>> {
  const text = await redis.info(section);
  const out: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

export interface RedisSnapshot {
  at: number;
  commands: number;
  usedMemory: number;
  peakMemory: number;
  /** used_cpu_user + used_cpu_sys of the server, seconds. */
  cpu: number;
  /** calls per command (INFO commandstats). */
  calls: Record<string, number>;
}

export async function snapshot(redis: Redis): Promise<RedisSnapshot> {
  const [stats, mem, cpu, cmd] = await Promise.all([
    info(redis, 'stats'),
    info(redis, 'memory'),
    info(redis, 'cpu'),
    info(redis, 'commandstats'),
  ]);
  const calls: Record<string, number> = {};
  for (const [k, v] of Object.entries(cmd)) {
    const m = /calls=(\d+)/.exec(v);
    if (m) calls[k.replace(/^cmdstat_/, '')] = Number(m[1]);
  }
  return {
    at: Date.now(),
    commands: Number(stats.total_commands_processed),
    usedMemory: Number(mem.used_memory),
    peakMemory: Number(mem.used_memory_peak),
    cpu: Number(cpu.used_cpu_user) + Number(cpu.used_cpu_sys),
    calls,
  };
}

export interface RedisDelta {
  seconds: number;
  commands: number;
  memory: number;
  cpu: number;
  /** Commands that moved, most called first. */
  topCalls: Array<[string, number]>;
}

export function delta(a: RedisSnapshot, b: RedisSnapshot): RedisDelta {
  const calls = Object.entries(b.calls)
    .map(([k, v]): [string, number] => [k, v - (a.calls[k] ?? 0)])
    .filter(([, v]) => v > 0)
    .sort((x, y) => y[1] - x[1]);
  return {
    seconds: (b.at - a.at) / 1000,
    commands: b.commands - a.commands,
    memory: b.usedMemory - a.usedMemory,
    cpu: b.cpu - a.cpu,
    topCalls: calls.slice(0, 12),
  };
}

/** Empties the benchmark's Redis and resets its counters and its memory peak. */
export async function resetRedis(redis: Redis): Promise<void> {
  await redis.flushall();
  await redis.config('RESETSTAT');
  // Give jemalloc a moment to hand freed pages back so used_memory starts from a quiet base.
  await redis.call('MEMORY', 'PURGE').catch(() => undefined);
}

export function redisCpu(p: Proc): number {
  return cpuSeconds(p.pid);
}
