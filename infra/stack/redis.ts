/**
 * Redis for the stack: make REDIS_URL answer, starting a redis-server of our own only for a local address
 * nobody listens on, and stop only that one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { waitFor } from '../../shared/wait';
import { requireTool } from './jars';
import { commandLine, isAlive, portAnswers, readPid, stopProcess } from './processes';
import {
  LOCAL_HOSTS,
  StackError,
  findRoot,
  lastLine,
  message,
  redactUrl,
  rel,
  seconds,
  stderrLine,
  stdoutLine,
  type StackConfig,
  type StackOptions,
} from './util';

export interface RedisResult {
  url: string;
  /** True when this call started a redis-server. */
  started: boolean;
  /** Pid of the redis-server stack:up started (now or earlier); undefined for a Redis it does not own. */
  pid?: number;
  /** maxmemory-policy as Redis reports it; undefined when CONFIG is forbidden. */
  policy?: string;
}

/**
 * Makes REDIS_URL answer PING. A local Redis that does not answer is started as a redis-server of our own
 * (appendonly, noeviction, data in .cache/redis/<port>); a Redis that answers is checked for noeviction.
 */
export async function ensureRedis(config: StackConfig, options: StackOptions = {}): Promise<RedisResult> {
  const out = options.out ?? stdoutLine;
  const warn = options.warn ?? stderrLine;
  const root = options.root ?? findRoot();
  const url = new URL(config.REDIS_URL);
  const shown = redactUrl(config.REDIS_URL);
  const port = Number(url.port || 6379);
  const dirs = redisDirs(root, port);

  const client = await redisPing(config.REDIS_URL);
  if (client) {
    const policy = await redisPolicy(client);
    client.disconnect();
    if (policy !== undefined && policy !== 'noeviction') {
      warn(
        `warning: redis ${shown} has maxmemory-policy ${policy}; BullMQ needs noeviction or jobs may vanish`,
      );
    }
    out(`redis: ${shown} answers`);
    return { url: shown, started: false, pid: ownedRedisPid(root, port), policy };
  }

  if (!LOCAL_HOSTS.has(url.hostname) || url.protocol !== 'redis:') {
    throw new StackError(
      `redis: ${shown} does not answer PING, and stack:up only starts a local redis:// one`,
    );
  }
  if (await portAnswers(url.hostname, port)) {
    throw new StackError(`redis: something listens on port ${port} but does not answer PING as ${shown}`);
  }
  requireTool(
    'redis-server',
    ['--version'],
    'install Redis 7 (apt-get install redis-server) or set REDIS_URL',
  );

  fs.mkdirSync(dirs.dir, { recursive: true });
  // prettier-ignore
  const args = [
    '--port', String(port),
    // '-' marks an address optional: a machine without IPv6 still binds the IPv4 one.
    '--bind', '127.0.0.1', '-::1',
    '--daemonize', 'yes',
    '--appendonly', 'yes',
    '--maxmemory-policy', 'noeviction',
    // Herald's user hashes hold a devices JSON longer than the default 64 bytes; at 512 they stay compact
    // listpacks (about 490 B a user instead of 890 B, measured by npm run bench).
    '--hash-max-listpack-value', '512',
    '--dir', dirs.dir,
    '--pidfile', dirs.pidFile,
    '--logfile', dirs.logFile,
  ];
  if (url.password) args.push('--requirepass', decodeURIComponent(url.password));
  out(`redis: nothing answers at ${shown}; starting redis-server (data in ${rel(root, dirs.dir)})`);
  const res = spawnSync('redis-server', args, { encoding: 'utf8' });
  if (res.status !== 0) {
    throw new StackError(
      `redis: redis-server failed to start (exit ${res.status}): ${lastLine(res.stderr || res.stdout)}; ` +
        `log: ${rel(root, dirs.logFile)}`,
    );
  }
  let refused: StackError | undefined;
  await waitFor(
    async () => {
      const started = await redisPing(config.REDIS_URL).catch((err: unknown) => {
        if (err instanceof StackError) refused = err;
        throw err;
      });
      started?.disconnect();
      return started !== undefined;
    },
    `redis-server on port ${port}`,
    // A refusal (NOAUTH, WRONGPASS) will not go away by waiting.
    { timeoutMs: 15_000, intervalMs: 100, abort: () => refused },
  ).catch((err: unknown) => {
    if (err === refused) throw err;
    throw new StackError(
      `redis: redis-server on port ${port} did not answer in 15 s; log: ${rel(root, dirs.logFile)}`,
    );
  });
  const pid = ownedRedisPid(root, port);
  out(`redis: redis-server up on port ${port} (pid ${pid ?? '?'})`);
  return { url: shown, started: true, pid, policy: 'noeviction' };
}

/** Stops the redis-server of REDIS_URL's port if, and only if, stack:up started it. */
export async function stopRedis(config: StackConfig, options: StackOptions = {}): Promise<void> {
  const out = options.out ?? stdoutLine;
  const root = options.root ?? findRoot();
  const port = Number(new URL(config.REDIS_URL).port || 6379);
  const dirs = redisDirs(root, port);
  const pid = ownedRedisPid(root, port);
  if (pid === undefined) {
    fs.rmSync(dirs.pidFile, { force: true });
    out(`redis: no redis-server of stack:up on port ${port} (any other Redis is left alone)`);
    return;
  }
  const t0 = Date.now();
  const how = await stopProcess(pid, options.stopTimeoutMs ?? 30_000);
  fs.rmSync(dirs.pidFile, { force: true });
  out(`redis: stopped redis-server pid ${pid} (${how}, ${seconds(Date.now() - t0)})`);
}

export function redisDirs(root: string, port: number) {
  const dir = path.join(root, '.cache', 'redis', String(port));
  return { dir, pidFile: path.join(dir, 'redis.pid'), logFile: path.join(dir, 'redis.log') };
}

export function ownedRedisPid(root: string, port: number): number | undefined {
  const pid = readPid(redisDirs(root, port).pidFile);
  if (pid === undefined || !isAlive(pid)) return undefined;
  const cmd = commandLine(pid);
  return cmd === undefined || cmd.some((a) => a.includes('redis-server')) ? pid : undefined;
}

export async function redisPing(url: string): Promise<Redis | undefined> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 2_000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    connectionName: 'herald-stack',
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
    return client;
  } catch (err) {
    client.disconnect();
    if (/NOAUTH|WRONGPASS|ERR AUTH/i.test(message(err))) {
      throw new StackError(`redis: ${redactUrl(url)} refuses us: ${message(err)}`, err);
    }
    return undefined;
  }
}

export async function redisPolicy(client: Redis): Promise<string | undefined> {
  try {
    const reply = (await client.config('GET', 'maxmemory-policy')) as string[];
    return reply[1];
  } catch {
    // Managed Redis often forbids CONFIG; nothing to check then.
    return undefined;
  }
}
