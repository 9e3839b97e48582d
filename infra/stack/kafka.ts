/**
 * The local Kafka broker: a single KRaft node on this machine's Java, its config written on every start,
 * its storage formatted once, started detached (it outlives `stack:up`), and stopped only when its pid
 * file or command line says stack:up started it from this checkout.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createAdmin } from '../../shared/kafka/admin';
import { sleep } from '../../shared/wait';
import { ensureKafkaJars, requireJava } from './jars';
import { commandLine, isAlive, portAnswers, readPid, stopProcess } from './processes';
import {
  KAFKA_LOG_HINT,
  LOCAL_HOSTS,
  StackError,
  errorLine,
  fileSize,
  findRoot,
  lastLine,
  rel,
  seconds,
  stdoutLine,
  type StackConfig,
  type StackOptions,
} from './util';

export interface KafkaResult {
  /** The bootstrap address, host:port. */
  address: string;
  /** True when this call started a broker. */
  started: boolean;
  /** Pid of the broker stack:up started (now or earlier); undefined for a broker it does not own. */
  pid?: number;
}

export interface BrokerPlan {
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

export function brokerPlan(root: string, brokers: readonly string[]): BrokerPlan {
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
export function ownedBrokerPids(root: string, only?: Pick<BrokerPlan, 'propsFile' | 'pidFile'>): number[] {
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
export async function describeKafka(
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

export async function probeKafka(brokers: readonly string[]): Promise<boolean> {
  return (await describeKafka(brokers)) !== undefined;
}
