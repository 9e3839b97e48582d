/**
 * Topic administration shared by `stack:up` (which creates the registry's topics) and the integration tests
 * (which create their own prefixed topics). Creating is idempotent: what exists is left alone.
 */
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { waitFor } from '../wait';

export interface EnsureTopicsOptions {
  /** Replication factor of created topics. Default 1 (the single local broker). */
  replicationFactor?: number;
  /** How long the broker may take to create them and elect their leaders, in ms. Default 30000. */
  timeoutMs?: number;
}

export interface EnsureTopicsResult {
  /** Topics this call created. When another client races this one, the topics it made count as existing. */
  created: string[];
  /** Topics that were already there (their partition count is left as it is). */
  existing: string[];
}

/**
 * Creates each of `names` that does not exist yet with `partitions` partitions, and returns once their
 * partitions have leaders (so a producer can write at once). Pass a connected Admin to reuse it, or the
 * bootstrap brokers to let this function connect and disconnect one of its own.
 */
export async function ensureTopics(
  target: Admin | readonly string[],
  names: readonly string[],
  partitions: number,
  options: EnsureTopicsOptions = {},
): Promise<EnsureTopicsResult> {
  if (isBrokerList(target)) {
    const admin = createAdmin(target, 'herald-admin');
    await admin.connect();
    try {
      return await ensureTopics(admin, names, partitions, options);
    } finally {
      await admin.disconnect();
    }
  }
  const admin = target;
  const wanted = [...new Set(names)];
  const present = new Set(await admin.listTopics());
  const missing = wanted.filter((name) => !present.has(name));
  const existing = wanted.filter((name) => present.has(name));
  if (missing.length === 0) return { created: [], existing };

  const timeout = options.timeoutMs ?? 30_000;
  // false: another client created some of them first (kafkajs then skips its wait for leaders).
  const createdAll = await admin.createTopics({
    topics: missing.map((topic) => ({
      topic,
      numPartitions: partitions,
      replicationFactor: options.replicationFactor ?? 1,
    })),
    waitForLeaders: true,
    timeout,
  });
  await waitForLeaders(admin, missing, timeout);
  return createdAll ? { created: missing, existing } : { created: [], existing: wanted };
}

export interface AdminOptions {
  /** kafkajs retries of a failed request. Default 3; a probe passes 0 to learn at once. */
  retries?: number;
  /** Time a request may take, in ms. Default 30000. */
  requestTimeoutMs?: number;
}

/**
 * An Admin client for one-shot administration and probes. It does not log: the callers report failures
 * themselves, and a probe of a broker that is still starting would fill the screen with retries.
 */
export function createAdmin(brokers: readonly string[], clientId: string, options: AdminOptions = {}): Admin {
  return new Kafka({
    clientId,
    brokers: [...brokers],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3_000,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    retry: { retries: options.retries ?? 3, initialRetryTime: 200 },
  }).admin();
}

async function waitForLeaders(admin: Admin, topics: string[], timeoutMs: number): Promise<void> {
  await waitFor(
    async () => {
      const leaderless = await topicsWithoutLeaders(admin, topics);
      if (leaderless.length > 0) throw new Error(`no partition leader yet: ${leaderless.join(', ')}`);
      return true;
    },
    `kafka: partition leaders of ${topics.length} new topic(s)`,
    { timeoutMs, intervalMs: 100 },
  );
}

async function topicsWithoutLeaders(admin: Admin, topics: string[]): Promise<string[]> {
  try {
    const { topics: described } = await admin.fetchTopicMetadata({ topics });
    const ready = new Set(
      described
        .filter((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))
        .map((t) => t.name),
    );
    return topics.filter((t) => !ready.has(t));
  } catch {
    // UNKNOWN_TOPIC_OR_PARTITION / LEADER_NOT_AVAILABLE while the metadata propagates.
    return topics;
  }
}

function isBrokerList(target: Admin | readonly string[]): target is readonly string[] {
  return Array.isArray(target);
}
