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
 *
 * This file is the CLI and the four commands; the parts are under infra/stack/: redis.ts, kafka.ts (the
 * broker), jars.ts (Maven, Java, tools), processes.ts (by pid) and util.ts (options, error, messages).
 */
import { bootConfig } from '../shared/config';
import { ensureTopics, type EnsureTopicsResult } from '../shared/kafka/admin';
import { allTopicNames } from '../shared/topics';
import { waitFor } from '../shared/wait';
import {
  brokerPlan,
  describeKafka,
  ensureKafka,
  ownedBrokerPids,
  probeKafka,
  stopKafka,
  type KafkaResult,
} from './stack/kafka';
import {
  ensureRedis,
  ownedRedisPid,
  redisPing,
  redisPolicy,
  stopRedis,
  type RedisResult,
} from './stack/redis';
import {
  StackError,
  findRoot,
  message,
  redactUrl,
  seconds,
  stderrLine,
  stdoutLine,
  type StackConfig,
  type StackOptions,
} from './stack/util';

export { ensureKafkaJars } from './stack/jars';
export { ensureKafka, stopKafka, type KafkaResult } from './stack/kafka';
export { ensureRedis, stopRedis, type RedisResult } from './stack/redis';
export { StackError, findRoot, type StackConfig, type StackOptions } from './stack/util';

export interface StackUpResult {
  redis: RedisResult;
  kafka: KafkaResult;
  topics: EnsureTopicsResult;
}

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
  let waited = false;
  await waitFor(
    async () => {
      if (await probeKafka(brokers)) return true;
      if (!waited) out(`kafka: waiting for a broker at ${brokers.join(',')}`);
      waited = true;
      return false;
    },
    `a broker at ${brokers.join(',')}`,
    { timeoutMs: options.kafkaStartTimeoutMs ?? 90_000, intervalMs: 1_000 },
  ).catch((err: unknown) => {
    throw new StackError(`kafka: no broker answers at ${brokers.join(',')}`, err);
  });
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
