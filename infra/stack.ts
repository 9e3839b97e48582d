/**
 * The local stack of DESIGN's "Real components": Redis 7 and a single-node Kafka 3.9 broker (KRaft) running
 * on this machine's Java, with every topic of the registry created.
 *
 *   node dist/infra/stack.js up      start what is missing (idempotent), create the topics
 *   node dist/infra/stack.js down    stop what `up` started (idempotent)
 *   node dist/infra/stack.js status  print what runs
 *   node dist/infra/stack.js topics  only create the topics on KAFKA_BROKERS (the compose `topics` service)
 *
 * Everything it keeps lives under .cache/: the Kafka jars (resolved once from Maven Central by
 * infra/kafka/pom.xml), the broker's data, pid file and log (.cache/kafka/kafka.log), and the data of a
 * redis-server it had to start itself. Only what carries a pid file of its own is ever stopped.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Redis } from 'ioredis';
import { bootConfig, type Config } from '../shared/config';
import { HeraldError } from '../shared/errors';
import { createAdmin, ensureTopics, type EnsureTopicsResult } from '../shared/kafka/admin';
import { allTopicNames } from '../shared/topics';

/** The part of the config the stack reads. */
export type StackConfig = Pick<
  Config,
  'REDIS_URL' | 'KAFKA_BROKERS' | 'KAFKA_TOPIC_PREFIX' | 'KAFKA_PARTITIONS'
>;

export interface StackOptions {
  /** The repository root (the folder holding infra/kafka/pom.xml). Default: found upward from this file. */
  root?: string;
  /** Where progress lines go. Default: stdout. */
  out?: (line: string) => void;
  /** Where warnings go. Default: stderr. */
  warn?: (line: string) => void;
  /** How long a starting broker may take to answer metadata, in ms. Default 90000. */
  kafkaStartTimeoutMs?: number;
  /** How long a stopping process gets after SIGTERM before SIGKILL, in ms. Default 30000. */
  stopTimeoutMs?: number;
}

/** A step of the stack failed. The message is one line naming what failed and where its log is. */
export class StackError extends HeraldError {
  constructor(message: string, cause?: unknown) {
    super(message, { retriable: false, cause });
  }
}

export interface StackUpResult {
  redis: RedisResult;
  kafka: KafkaResult;
  topics: EnsureTopicsResult;
}

export interface RedisResult {
  url: string;
  /** True when this call started a redis-server. */
  started: boolean;
  /** Pid of the redis-server stack:up started (now or earlier); undefined for a Redis it does not own. */
  pid?: number;
  /** maxmemory-policy as Redis reports it; undefined when CONFIG is forbidden. */
  policy?: string;
}

export interface KafkaResult {
  /** The bootstrap address, host:port. */
  address: string;
  /** True when this call started a broker. */
  started: boolean;
  /** Pid of the broker stack:up started (now or earlier); undefined for a broker it does not own. */
  pid?: number;
}

const KAFKA_LOG_HINT = '.cache/kafka/kafka.log';
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

// ---------------------------------------------------------------------------------------------------------
// up / down / status / topics

/** Starts what is missing (Redis, Kafka), creates the registry's topics, prints one summary line. */
export async function stackUp(config: StackConfig, options: StackOptions = {}): Promise<StackUpResult> {
  const t0 = Date.now();
  const out = options.out ?? stdoutLine;
  const redis = await ensureRedis(config, options);
  const kafka = await ensureKafka(config, options);
  const topics = await createStackTopics(config, options);
  out(
    `stack up: kafka ${kafka.address}, redis ${redactUrl(config.REDIS_URL)}, ` +
      `${topics.created.length + topics.existing.length} topics '${config.KAFKA_TOPIC_PREFIX}*' ` +
      `(${topics.created.length} created), ${seconds(Date.now() - t0)}`,
  );
  return { redis, kafka, topics };
}

/** Stops every broker stack:up started from this checkout, and the redis-server if stack:up started it. */
export async function stackDown(config: StackConfig, options: StackOptions = {}): Promise<void> {
  await stopKafka(options);
  await stopRedis(config, options);
}

/** Creates the registry's topics on KAFKA_BROKERS, waiting up to the start timeout for a broker to answer. */
export async function createStackTopics(
  config: StackConfig,
  options: StackOptions = {},
): Promise<EnsureTopicsResult> {
  const out = options.out ?? stdoutLine;
  const brokers = config.KAFKA_BROKERS;
  const deadline = Date.now() + (options.kafkaStartTimeoutMs ?? 90_000);
  for (let waited = false; !(await probeKafka(brokers)); waited = true) {
    if (Date.now() > deadline) throw new StackError(`kafka: no broker answers at ${brokers.join(',')}`);
    if (!waited) out(`kafka: waiting for a broker at ${brokers.join(',')}`);
    await sleep(1_000);
  }
  const names = allTopicNames(config.KAFKA_TOPIC_PREFIX);
  let result: EnsureTopicsResult;
  try {
    result = await ensureTopics(brokers, names, config.KAFKA_PARTITIONS);
  } catch (err) {
    throw new StackError(`kafka: creating topics on ${brokers.join(',')} failed: ${message(err)}`, err);
  }
  if (result.created.length > 0) {
    out(`kafka: created ${result.created.length} topics (${config.KAFKA_PARTITIONS} partitions each)`);
  }
  return result;
}

export interface StackStatus {
  redis: { url: string; answers: boolean; policy?: string; ownedPid?: number };
  kafka: { address: string; answers: boolean; brokers?: number; ownedPids: number[]; topics?: number };
  topicsExpected: number;
}

/** Reports what runs (Redis, Kafka, whether stack:up owns them, how many topics exist) and prints it. */
export async function stackStatus(config: StackConfig, options: StackOptions = {}): Promise<StackStatus> {
  const out = options.out ?? stdoutLine;
  const root = options.root ?? findRoot();
  const redisUrl = new URL(config.REDIS_URL);
  const redisPort = Number(redisUrl.port || 6379);
  const ownedRedis = ownedRedisPid(root, redisPort);
  const client = await redisPing(config.REDIS_URL);
  let policy: string | undefined;
  if (client) {
    policy = await redisPolicy(client);
    client.disconnect();
  }
  const plan = brokerPlan(root, config.KAFKA_BROKERS);
  const cluster = await describeKafka(config.KAFKA_BROKERS);
  const names = allTopicNames(config.KAFKA_TOPIC_PREFIX);
  const status: StackStatus = {
    redis: { url: redactUrl(config.REDIS_URL), answers: client !== undefined, policy, ownedPid: ownedRedis },
    kafka: {
      address: plan.address,
      answers: cluster !== undefined,
      brokers: cluster?.brokers,
      ownedPids: ownedBrokerPids(root),
      topics: cluster ? names.filter((n) => cluster.topics.has(n)).length : undefined,
    },
    topicsExpected: names.length,
  };
  const r = status.redis;
  out(
    `redis ${r.url}: ${r.answers ? 'up' : 'DOWN'}` +
      (r.policy ? `, maxmemory-policy ${r.policy}` : '') +
      (r.ownedPid ? `, redis-server pid ${r.ownedPid} (started by stack:up)` : r.answers ? ', not ours' : ''),
  );
  const k = status.kafka;
  out(
    `kafka ${k.address}: ${k.answers ? `up, ${k.brokers} broker(s)` : 'DOWN'}` +
      (k.ownedPids.length > 0 ? `, java pid ${k.ownedPids.join(' ')} (started by stack:up)` : '') +
      (k.topics !== undefined ? `, ${k.topics}/${names.length} topics '${config.KAFKA_TOPIC_PREFIX}*'` : ''),
  );
  return status;
}

// ---------------------------------------------------------------------------------------------------------
// Redis

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
  const deadline = Date.now() + 15_000;
  for (;;) {
    const started = await redisPing(config.REDIS_URL);
    if (started) {
      started.disconnect();
      break;
    }
    if (Date.now() > deadline) {
      throw new StackError(
        `redis: redis-server on port ${port} did not answer in 15 s; log: ${rel(root, dirs.logFile)}`,
      );
    }
    await sleep(100);
  }
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

function redisDirs(root: string, port: number) {
  const dir = path.join(root, '.cache', 'redis', String(port));
  return { dir, pidFile: path.join(dir, 'redis.pid'), logFile: path.join(dir, 'redis.log') };
}

function ownedRedisPid(root: string, port: number): number | undefined {
  const pid = readPid(redisDirs(root, port).pidFile);
  if (pid === undefined || !isAlive(pid)) return undefined;
  const cmd = commandLine(pid);
  return cmd === undefined || cmd.some((a) => a.includes('redis-server')) ? pid : undefined;
}

async function redisPing(url: string): Promise<Redis | undefined> {
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

async function redisPolicy(client: Redis): Promise<string | undefined> {
  try {
    const reply = (await client.config('GET', 'maxmemory-policy')) as string[];
    return reply[1];
  } catch {
    // Managed Redis often forbids CONFIG; nothing to check then.
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Kafka

interface BrokerPlan {
  host: string;
  port: number;
  controllerPort: number;
  address: string;
  local: boolean;
  kafkaDir: string;
  dataDir: string;
  propsFile: string;
  pidFile: string;
  logFile: string;
}

function brokerPlan(root: string, brokers: readonly string[]): BrokerPlan {
  const first = brokers[0] ?? '127.0.0.1:19092';
  const sep = first.lastIndexOf(':');
  const host = first.slice(0, sep);
  const port = Number(first.slice(sep + 1));
  if (!Number.isInteger(port) || port < 1 || port > 65534) {
    throw new StackError(
      `kafka: KAFKA_BROKERS' first entry ${first} needs a port from 1 to 65534 (port+1 is the controller's)`,
    );
  }
  const kafkaDir = path.join(root, '.cache', 'kafka');
  return {
    host,
    port,
    // Derived, not searched for: the same port every run, so the broker's config never changes under it.
    controllerPort: port + 1,
    address: `${host}:${port}`,
    local: LOCAL_HOSTS.has(host),
    kafkaDir,
    dataDir: path.join(kafkaDir, `data-${port}`),
    propsFile: path.join(kafkaDir, `server-${port}.properties`),
    pidFile: path.join(kafkaDir, `kafka-${port}.pid`),
    logFile: path.join(kafkaDir, 'kafka.log'),
  };
}

/**
 * Makes the first of KAFKA_BROKERS answer metadata. A local address with nothing on it gets a broker of
 * our own: jars resolved once, storage formatted once, `java kafka.Kafka` started detached, waited for.
 */
export async function ensureKafka(config: StackConfig, options: StackOptions = {}): Promise<KafkaResult> {
  const out = options.out ?? stdoutLine;
  const root = options.root ?? findRoot();
  const plan = brokerPlan(root, config.KAFKA_BROKERS);
  const owned = ownedBrokerPids(root, plan);

  if (await probeKafka([plan.address])) {
    out(
      `kafka: ${plan.address} answers` +
        (owned[0] ? ` (pid ${owned[0]})` : ' (a broker stack:up does not own)'),
    );
    return { address: plan.address, started: false, pid: owned[0] };
  }
  if (!plan.local) {
    throw new StackError(`kafka: ${plan.address} does not answer, and stack:up only starts a local broker`);
  }
  if (owned[0] !== undefined) {
    // Ours, alive, not answering yet: a start still in progress (or a broker that hangs; the wait says so).
    out(`kafka: broker pid ${owned[0]} is running but not answering yet; waiting`);
    await waitForBroker(
      plan,
      { pid: owned[0], logOffset: Math.max(0, fileSize(plan.logFile) - 65_536) },
      options,
      Date.now(),
    );
    return { address: plan.address, started: false, pid: owned[0] };
  }
  fs.rmSync(plan.pidFile, { force: true });
  for (const p of [plan.port, plan.controllerPort]) {
    if (await portAnswers(plan.host, p)) {
      throw new StackError(
        `kafka: port ${p} on ${plan.host} is taken by something that is not our broker; ` +
          `free it or point KAFKA_BROKERS at another port (the controller uses port+1)`,
      );
    }
  }

  requireJava();
  const version = await ensureKafkaJars(root, options);
  fs.mkdirSync(plan.dataDir, { recursive: true });
  fs.writeFileSync(plan.propsFile, serverProperties(plan, config.KAFKA_PARTITIONS));
  formatStorage(root, plan);

  const t0 = Date.now();
  out(`kafka: starting Kafka ${version} on ${plan.address} (log: ${rel(root, plan.logFile)})`);
  const child = startBroker(root, plan);
  await waitForBroker(plan, child, options, t0);
  out(`kafka: up on ${plan.address} (pid ${child.pid}, ${seconds(Date.now() - t0)})`);
  return { address: plan.address, started: true, pid: child.pid };
}

/** The broker config. Single combined node, loopback only, replication factor 1 everywhere. */
function serverProperties(plan: BrokerPlan, partitions: number): string {
  const lines = [
    '# Written by infra/stack.ts on every start; edits here are lost.',
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@${plan.host}:${plan.controllerPort}`,
    `listeners=PLAINTEXT://${plan.host}:${plan.port},CONTROLLER://${plan.host}:${plan.controllerPort}`,
    `advertised.listeners=PLAINTEXT://${plan.host}:${plan.port}`,
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    `log.dirs=${plan.dataDir}`,
    'offsets.topic.replication.factor=1',
    // 50 by default: the first consumer group would wait for 50 leaders on a 2-core machine.
    'offsets.topic.num.partitions=10',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=10',
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=false',
    `num.partitions=${partitions}`,
    'log.retention.hours=24',
  ];
  return `${lines.join('\n')}\n`;
}

/** Formats the KRaft storage once; a formatted data dir (meta.properties) is left as it is. */
function formatStorage(root: string, plan: BrokerPlan): void {
  if (fs.existsSync(path.join(plan.dataDir, 'meta.properties'))) return;
  const clusterId = kafkaUuid();
  fs.appendFileSync(plan.logFile, `\n# ${new Date().toISOString()} stack: format ${plan.dataDir}\n`);
  const res = spawnSync(
    'java',
    [
      ...jvmBase(root),
      'kafka.tools.StorageTool',
      'format',
      '-t',
      clusterId,
      '-c',
      plan.propsFile,
      '--ignore-formatted',
    ],
    { cwd: root, encoding: 'utf8' },
  );
  fs.appendFileSync(plan.logFile, `${res.stdout}${res.stderr}`);
  if (res.status !== 0) {
    throw new StackError(
      `kafka: formatting ${rel(root, plan.dataDir)} failed (exit ${res.status}): ` +
        `${lastLine(res.stderr || res.stdout)}; log: ${KAFKA_LOG_HINT}`,
    );
  }
}

/** A Kafka Uuid: 16 random bytes in URL-safe base64; Kafka refuses ids that start with '-'. */
function kafkaUuid(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function jvmBase(root: string): string[] {
  return [
    `-Dlog4j.configuration=file:${path.join(root, 'infra', 'kafka', 'log4j.properties')}`,
    '-Djava.awt.headless=true',
    '-cp',
    `${path.join(root, '.cache', 'kafka', 'libs')}${path.sep}*`,
  ];
}

interface StartedBroker {
  pid: number;
  /** Resolves with the exit code if the JVM exits while this process still runs. */
  exited: Promise<number | null>;
  /** Where this start's lines begin in the log. */
  logOffset: number;
}

function startBroker(root: string, plan: BrokerPlan): StartedBroker {
  // WARN and up only, so it grows slowly; still, one old generation is enough.
  if (fileSize(plan.logFile) > 10 * 1024 * 1024) fs.renameSync(plan.logFile, `${plan.logFile}.1`);
  const logOffset = fileSize(plan.logFile);
  fs.appendFileSync(plan.logFile, `\n# ${new Date().toISOString()} stack: start broker ${plan.address}\n`);
  const fd = fs.openSync(plan.logFile, 'a');
  try {
    const child = spawn(
      'java',
      [
        '-Xms256m',
        '-Xmx768m',
        '-XX:+UseG1GC',
        '-XX:MaxGCPauseMillis=20',
        '-XX:+ExitOnOutOfMemoryError',
        `-Dkafka.logs.dir=${plan.kafkaDir}`,
        ...jvmBase(root),
        'kafka.Kafka',
        plan.propsFile,
      ],
      // Its own process group and session: the broker outlives `npm run stack:up` and a Ctrl-C in it.
      { cwd: root, detached: true, stdio: ['ignore', fd, fd] },
    );
    if (child.pid === undefined) {
      throw new StackError(`kafka: could not start java; log: ${KAFKA_LOG_HINT}`);
    }
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.unref();
    fs.writeFileSync(plan.pidFile, `${child.pid}\n`);
    return { pid: child.pid, exited, logOffset };
  } finally {
    fs.closeSync(fd);
  }
}

async function waitForBroker(
  plan: BrokerPlan,
  broker: { pid: number; exited?: Promise<number | null>; logOffset: number },
  options: StackOptions,
  t0: number,
): Promise<void> {
  const { pid, exited } = broker;
  const out = options.out ?? stdoutLine;
  const timeoutMs = options.kafkaStartTimeoutMs ?? 90_000;
  let exitCode: number | null | undefined;
  void exited?.then((code) => (exitCode = code));
  let nextReport = t0 + 10_000;
  for (;;) {
    if (exitCode !== undefined || !isAlive(pid)) {
      fs.rmSync(plan.pidFile, { force: true });
      const why = errorLine(plan.logFile, broker.logOffset);
      throw new StackError(
        `kafka: the broker (pid ${pid}) exited while starting` +
          (exitCode !== undefined ? ` with code ${exitCode}` : '') +
          (why ? `: ${why}` : '') +
          `; log: ${KAFKA_LOG_HINT}`,
      );
    }
    if (await probeKafka([plan.address])) return;
    const now = Date.now();
    if (now - t0 > timeoutMs) {
      // Not left half-started: a JVM nobody waits for would hold the ports and the data dir's lock.
      await stopProcess(pid, options.stopTimeoutMs ?? 30_000);
      fs.rmSync(plan.pidFile, { force: true });
      throw new StackError(
        `kafka: the broker did not answer on ${plan.address} within ${seconds(timeoutMs)}; stopped it; ` +
          `log: ${KAFKA_LOG_HINT}`,
      );
    }
    if (now >= nextReport) {
      out(`kafka: still waiting for ${plan.address} (${seconds(now - t0)})`);
      nextReport += 10_000;
    }
    await sleep(250);
  }
}

/** Stops every broker stack:up started from this checkout: SIGTERM, then SIGKILL after the stop timeout. */
export async function stopKafka(options: StackOptions = {}): Promise<void> {
  const out = options.out ?? stdoutLine;
  const root = options.root ?? findRoot();
  const kafkaDir = path.join(root, '.cache', 'kafka');
  const pids = ownedBrokerPids(root);
  if (pids.length === 0) out('kafka: no broker of stack:up runs');
  for (const pid of pids) {
    const t0 = Date.now();
    out(`kafka: stopping broker pid ${pid}`);
    const how = await stopProcess(pid, options.stopTimeoutMs ?? 30_000);
    out(`kafka: broker pid ${pid} stopped (${how}, ${seconds(Date.now() - t0)})`);
  }
  if (fs.existsSync(kafkaDir)) {
    for (const f of fs.readdirSync(kafkaDir)) {
      if (/^kafka-\d+\.pid$/.test(f)) fs.rmSync(path.join(kafkaDir, f), { force: true });
    }
  }
}

/**
 * Pids of the brokers stack:up started from this checkout: those in a pid file whose command line is still
 * a Kafka JVM, and (on Linux) any JVM running kafka.Kafka on a server-*.properties under .cache/kafka, so a
 * lost pid file never leaves a stray JVM. `only` narrows it to one broker.
 */
function ownedBrokerPids(root: string, only?: Pick<BrokerPlan, 'propsFile' | 'pidFile'>): number[] {
  const kafkaDir = path.join(root, '.cache', 'kafka');
  const isOurs = (args: string[]) =>
    args.includes('kafka.Kafka') &&
    args.some((a) =>
      only ? a === only.propsFile : a.startsWith(kafkaDir + path.sep) && a.endsWith('.properties'),
    );
  const pids = new Set<number>();
  const pidFiles = fs.existsSync(kafkaDir)
    ? fs
        .readdirSync(kafkaDir)
        .filter((f) => /^kafka-\d+\.pid$/.test(f))
        .map((f) => path.join(kafkaDir, f))
    : [];
  for (const file of pidFiles) {
    if (only && file !== only.pidFile) continue;
    const pid = readPid(file);
    if (pid === undefined || !isAlive(pid)) continue;
    const args = commandLine(pid);
    // Without /proc the pid file is all there is to go by.
    if (args === undefined || isOurs(args)) pids.add(pid);
  }
  if (fs.existsSync('/proc')) {
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const pid = Number(entry);
      const args = commandLine(pid);
      if (args && isOurs(args) && isAlive(pid)) pids.add(pid);
    }
  }
  return [...pids].sort((a, b) => a - b);
}

/** Metadata answers from a broker; undefined when none answers. */
async function describeKafka(
  brokers: readonly string[],
): Promise<{ brokers: number; topics: Set<string> } | undefined> {
  const admin = createAdmin(brokers, 'herald-stack-probe', { retries: 0, requestTimeoutMs: 5_000 });
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    if (cluster.brokers.length === 0) return undefined;
    const topics = new Set(await admin.listTopics());
    return { brokers: cluster.brokers.length, topics };
  } catch {
    return undefined;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

async function probeKafka(brokers: readonly string[]): Promise<boolean> {
  return (await describeKafka(brokers)) !== undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Jars and tools

/**
 * Resolves the broker's jars into .cache/kafka/libs with Maven, once: the folder carries the hash of the pom
 * it came from, so a second run does not call Maven and a changed pom (a new version) resolves afresh.
 * Returns the Kafka version found in the jars.
 */
export async function ensureKafkaJars(root: string, options: StackOptions = {}): Promise<string> {
  const out = options.out ?? stdoutLine;
  const pom = path.join(root, 'infra', 'kafka', 'pom.xml');
  const libs = path.join(root, '.cache', 'kafka', 'libs');
  const marker = path.join(libs, '.pom.sha256');
  const hash = createHash('sha256').update(fs.readFileSync(pom)).digest('hex');
  const cached = fs.existsSync(marker) && fs.readFileSync(marker, 'utf8').trim() === hash;
  if (cached) {
    const version = kafkaVersion(libs);
    if (version) return version;
  }

  requireTool('mvn', ['-v'], 'install Maven 3.6+ (apt-get install maven); it fetches the Kafka jars once');
  const mavenLog = path.join(root, '.cache', 'kafka', 'maven.log');
  const staging = `${libs}.partial`;
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(libs), { recursive: true });
  out(`kafka: resolving Kafka jars from Maven Central (once; cached in ${rel(root, libs)})...`);
  const t0 = Date.now();
  const logOffset = fileSize(mavenLog);
  const code = await run(
    'mvn',
    ['-q', '-B', '-f', pom, 'dependency:copy-dependencies', `-Dkafka.libs.dir=${staging}`],
    root,
    mavenLog,
  );
  if (code !== 0) {
    throw new StackError(
      `kafka: resolving the jars with Maven failed (exit ${code}): ${errorLine(mavenLog, logOffset, true) ?? '?'}; ` +
        `log: ${rel(root, mavenLog)}`,
    );
  }
  const version = kafkaVersion(staging);
  if (!version)
    throw new StackError(`kafka: Maven ran but no kafka_2.13 jar came; log: ${rel(root, mavenLog)}`);
  fs.writeFileSync(path.join(staging, '.pom.sha256'), `${hash}\n`);
  fs.rmSync(libs, { recursive: true, force: true });
  fs.renameSync(staging, libs);
  const count = fs.readdirSync(libs).filter((f) => f.endsWith('.jar')).length;
  out(`kafka: ${count} jars of Kafka ${version} resolved in ${seconds(Date.now() - t0)}`);
  return version;
}

function kafkaVersion(libs: string): string | undefined {
  if (!fs.existsSync(libs)) return undefined;
  for (const f of fs.readdirSync(libs)) {
    const m = /^kafka_2\.13-(\d+\.\d+\.\d+)\.jar$/.exec(f);
    if (m) return m[1];
  }
  return undefined;
}

function requireJava(): void {
  const res = spawnSync('java', ['-version'], { encoding: 'utf8' });
  const hint = 'install Java 17 (apt-get install openjdk-17-jre-headless)';
  if (res.error) throw new StackError(`kafka: java not found; the local broker needs it: ${hint}`);
  const m = /version "(\d+)(?:\.(\d+))?/.exec(`${res.stderr}${res.stdout}`);
  const major = m ? (m[1] === '1' ? Number(m[2]) : Number(m[1])) : NaN;
  if (major < 11) throw new StackError(`kafka: Kafka 3.9 needs Java 11 or newer, found ${m?.[0]}; ${hint}`);
}

function requireTool(cmd: string, args: string[], hint: string): void {
  const res = spawnSync(cmd, args, { stdio: 'ignore' });
  if (res.error) throw new StackError(`${cmd} not found: ${hint}`);
}

/** Runs a command to completion with its output appended to a log file; resolves with its exit code. */
function run(cmd: string, args: string[], cwd: string, logFile: string): Promise<number> {
  fs.appendFileSync(logFile, `\n# ${new Date().toISOString()} ${cmd} ${args.join(' ')}\n`);
  const fd = fs.openSync(logFile, 'a');
  return new Promise<number>((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', fd, fd] });
    child.once('error', reject);
    child.once('exit', (code) => resolve(code ?? 1));
  }).finally(() => fs.closeSync(fd));
}

// ---------------------------------------------------------------------------------------------------------
// Processes

/** SIGTERM, wait, SIGKILL after `timeoutMs` as a last resort. Resolves once the process is gone. */
async function stopProcess(pid: number, timeoutMs: number): Promise<'SIGTERM' | 'SIGKILL'> {
  if (!signal(pid, 'SIGTERM')) return 'SIGTERM';
  if (await waitForExit(pid, timeoutMs)) return 'SIGTERM';
  signal(pid, 'SIGKILL');
  if (await waitForExit(pid, 10_000)) return 'SIGKILL';
  throw new StackError(`process ${pid} survived SIGKILL`);
}

function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  // Dead already; give init a moment to reap it (some reap every couple of seconds), so `pgrep java` right
  // after `down` shows nothing.
  const reaped = Date.now() + 3_000;
  while (fs.existsSync(`/proc/${pid}`) && Date.now() < reaped) await sleep(50);
  return true;
}

/** Alive and not a zombie (a zombie answers signal 0 until its parent reaps it). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** The process's argv on Linux; undefined where /proc is not there or not readable. */
function commandLine(pid: number): string[] | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function portAnswers(host: string, port: number): Promise<boolean> {
  if (!Number.isInteger(port) || port < 1 || port > 65535) return Promise.resolve(false);
  return new Promise((resolve) => {
    const socket = net.connect({ host: host.replace(/^\[|\]$/g, ''), port });
    const done = (answers: boolean) => {
      socket.destroy();
      resolve(answers);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

// ---------------------------------------------------------------------------------------------------------
// Small things

/** The repository root: the nearest folder upward holding infra/kafka/pom.xml (works from dist/ and src). */
export function findRoot(start: string = __dirname): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'infra', 'kafka', 'pom.xml'))) return dir;
    if (path.dirname(dir) === dir) return process.cwd();
  }
}

/**
 * The line that best says what went wrong in `file`, looking only past byte `from` (this run's part):
 * the last error-looking line, or with `first` the first one (Maven's first [ERROR] names the cause).
 */
function errorLine(file: string, from = 0, first = false): string | undefined {
  try {
    const lines = fs
      .readFileSync(file)
      .subarray(from)
      .toString('utf8')
      // eslint-disable-next-line no-control-regex
      .replace(/\x1b\[[0-9;]*m/g, '')
      .split('\n')
      .filter((l) => /ERROR|Exception|Error:|FATAL/.test(l));
    const hit = first ? lines[0] : lines[lines.length - 1];
    return hit?.trim().slice(0, 300);
  } catch {
    return undefined;
  }
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

function lastLine(text: string): string {
  return (
    text
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .pop() ?? '(no output)'
  );
}

function redactUrl(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString().replace(/\/$/, '');
}

function rel(root: string, p: string): string {
  return path.relative(root, p) || '.';
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function stdoutLine(line: string): void {
  process.stdout.write(`${line}\n`);
}

function stderrLine(line: string): void {
  process.stderr.write(`${line}\n`);
}

// ---------------------------------------------------------------------------------------------------------
// CLI

const USAGE = 'usage: node dist/infra/stack.js up|down|status|topics';

export async function main(argv: readonly string[]): Promise<number> {
  const command = argv[0];
  if (command === undefined || !['up', 'down', 'status', 'topics'].includes(command)) {
    stderrLine(USAGE);
    return 64;
  }
  const config = bootConfig();
  try {
    switch (command) {
      case 'up':
        await stackUp(config);
        return 0;
      case 'down':
        await stackDown(config);
        return 0;
      case 'topics': {
        const { created, existing } = await createStackTopics(config);
        stdoutLine(`topics: ${created.length} created, ${existing.length} already there`);
        return 0;
      }
      default: {
        const status = await stackStatus(config);
        return status.redis.answers && status.kafka.answers ? 0 : 3;
      }
    }
  } catch (err) {
    stderrLine(
      `stack ${command}: ${err instanceof StackError ? err.message : ((err as Error).stack ?? String(err))}`,
    );
    return 1;
  }
}

if (require.main === module) {
  // `stack.js status | head -1` closes the pipe early; that is no reason to die half-way through `up`.
  process.stdout.on('error', () => undefined);
  void main(process.argv.slice(2)).then((code) => process.exit(code));
}
