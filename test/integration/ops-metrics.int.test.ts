/**
 * The operator server's /metrics after a known small run on real Kafka and Redis, every worker its own
 * process: it refuses a scrape without a token, and the Herald-wide figures equal what happened (pushes per
 * strategy, feedback per strategy and type, drops by reason, dead letters, events in, jobs per queue and
 * state, the due sets, the consumer lag), under the pinned names and labels.
 */
import { systemClock } from '../../shared/clock';
import { createLogger } from '../../shared/logger';
import { closeQueues, createQueues } from '../../shared/queue-factory';
import { createRedis } from '../../shared/redis';
import { createAuditLog } from '../../services/ops/audit';
import { createFigures } from '../../services/ops/figures';
import { buildServer } from '../../services/ops/http/server';
import { createOpsMetrics } from '../../services/ops/metrics';
import { createRateLimiter } from '../../services/ops/rate-limit';
import { createOpsService } from '../../services/ops/service';
import { createTokenStore } from '../../services/ops/tokens';
import type { PushSent } from '../../shared/schemas/events.schema';
import { feedback, profile, purchase, store } from '../helpers/fixtures';
import { produce } from '../helpers/kafka';
import { readSink } from '../helpers/pipeline';
import { parseMetrics, valueOf, type Sample } from '../helpers/prometheus';
import { startPipeline, type RunningPipeline } from '../helpers/running-pipeline';
import { waitFor } from '../helpers/wait';

const BOOTSTRAP = 'bootstrap-token-for-the-metrics-test-0123';

describe('ops /metrics: Herald-wide figures read from Redis and Kafka', () => {
  let pipeline: RunningPipeline;
  const closers: Array<() => Promise<unknown>> = [];
  let base: string;

  beforeAll(async () => {
    pipeline = await startPipeline({}, async (e) => {
      await produce(e.config, 'stores', [store('wine-1', 'wine', { discount: 20 })]);
      await produce(e.config, 'profiles', [
        profile('alice'),
        profile('bob'),
        profile('dave', { pushOptIn: false }),
      ]);
    });
    const { config } = pipeline.env;
    const logger = createLogger('ops-metrics-test', 'warn');
    const redis = createRedis(config.REDIS_URL, 'ops-metrics-test');
    const queues = createQueues(redis, config.HERALD_PREFIX);
    const figures = createFigures({ redis, queues, config, clock: systemClock });
    const ops = createOpsService({ config, logger, maxReplay: 100, redis });
    const prefix = config.HERALD_PREFIX;
    const app = buildServer({
      ops,
      tokens: createTokenStore({ redis, prefix, clock: systemClock, bootstrapToken: BOOTSTRAP }),
      audit: createAuditLog({ redis, prefix, clock: systemClock }),
      limiter: createRateLimiter({ redis, prefix, clock: systemClock, limit: 5, windowMs: 60_000 }),
      logger,
      metrics: createOpsMetrics(figures),
    });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
    closers.push(
      () => app.close(),
      () => figures.close(),
      () => ops.close(),
      () => closeQueues(queues),
      () => redis.quit(),
    );
  });

  afterAll(async () => {
    for (const close of closers) await close();
    await pipeline?.stop();
  });

  afterEach(() => {
    const failed = expect.getState().assertionCalls !== expect.getState().numPassingAsserts;
    if (failed) process.stderr.write(pipeline.workers.logs());
  });

  const scrape = async (token: string): Promise<Sample[]> => {
    const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    return parseMetrics(await res.text());
  };

  it('refuses a scrape without a valid token, and serves any role', async () => {
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    const bad = await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer hrld_nope' } });
    expect(bad.status).toBe(401);
    const created = await fetch(`${base}/api/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${BOOTSTRAP}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'prometheus', role: 'viewer' }),
    });
    const { secret } = (await created.json()) as { secret: string };
    expect(valueOf(await scrape(secret), 'herald_ops_source_up', { source: 'redis' })).toBe(1);
  });

  it('counts the pushes, feedback, drops, dead letters, events and jobs that happened', async () => {
    const { env, probe } = pipeline;
    await produce(env.config, 'purchases', [
      purchase('alice', 'groceries'),
      purchase('bob', 'groceries'),
      purchase('dave', 'groceries'),
      purchase('erin', 'groceries', { amount: -1 }),
      '{"v":1,"userId":',
    ]);
    await waitFor(() => readSink(env.sinkFile).length === 2, 'two pushes');
    const pushes: PushSent[] = readSink(env.sinkFile);
    const alice = pushes.find((p) => p.userId === 'alice')!;
    const bob = pushes.find((p) => p.userId === 'bob')!;
    await produce(env.config, 'feedback', [
      feedback(alice, 'opened'),
      feedback(alice, 'clicked'),
      feedback(bob, 'opened'),
      feedback(bob, 'opened'), // delivered twice: counted once
    ]);
    await waitFor(
      async () => (await probe.counters()).feedback[`${alice.strategy}:opened`] === 2,
      'the feedback to be folded',
    );
    await probe.settle();

    const s = await scrape(BOOTSTRAP);
    // Names and labels: each metric's label names, pinned.
    const labelsOf = new Map<string, string>();
    for (const x of s) labelsOf.set(x.name, Object.keys(x.labels).sort().join(','));
    expect(Object.fromEntries(labelsOf)).toEqual({
      herald_pushes_recorded_total: 'strategy',
      herald_feedback_recorded_total: 'strategy,type',
      herald_drops_recorded_total: 'reason',
      herald_dead_letters_recorded_total: '',
      herald_events_in_recorded_total: 'topic',
      herald_queue_jobs: 'queue,state',
      herald_due_set_users: 'lane,state',
      herald_due_set_oldest_wait_seconds: 'lane',
      herald_kafka_consumer_lag: 'group,partition,topic',
      herald_ops_source_up: 'source',
    });

    const bySent = new Map<string, number>();
    for (const p of pushes) bySent.set(p.strategy, (bySent.get(p.strategy) ?? 0) + 1);
    for (const [strategy, n] of bySent) {
      expect(valueOf(s, 'herald_pushes_recorded_total', { strategy })).toBe(n);
    }
    expect(valueOf(s, 'herald_pushes_recorded_total')).toBe(2);
    expect(valueOf(s, 'herald_feedback_recorded_total', { strategy: alice.strategy, type: 'opened' })).toBe(
      2,
    );
    expect(valueOf(s, 'herald_feedback_recorded_total', { strategy: alice.strategy, type: 'clicked' })).toBe(
      1,
    );
    expect(valueOf(s, 'herald_drops_recorded_total', { reason: 'opted_out' })).toBe(1);
    expect(valueOf(s, 'herald_drops_recorded_total')).toBe(1);
    expect(valueOf(s, 'herald_dead_letters_recorded_total')).toBe(2);
    expect(valueOf(s, 'herald_events_in_recorded_total', { topic: 'purchases' })).toBe(3);
    expect(valueOf(s, 'herald_events_in_recorded_total', { topic: 'profiles' })).toBe(3);

    // Every stage queue, every state; the run left nothing waiting and nothing failed.
    const queues = new Set(s.filter((x) => x.name === 'herald_queue_jobs').map((x) => x.labels.queue));
    expect([...queues].sort()).toEqual(
      ['audience', 'campaigns', 'conciliate', 'filter', 'score', 'send-time', 'target'].sort(),
    );
    expect(valueOf(s, 'herald_queue_jobs', { queue: 'filter', state: 'completed' })).toBeGreaterThan(0);
    expect(valueOf(s, 'herald_queue_jobs', { state: 'failed' })).toBe(0);
    expect(valueOf(s, 'herald_queue_jobs', { state: 'waiting' })).toBe(0);
    expect(valueOf(s, 'herald_due_set_users', { lane: 'realtime', state: 'booked' })).toBe(0);

    // Lag per group, topic and partition: every input topic's two partitions, all read.
    const prefix = env.config.KAFKA_GROUP_PREFIX;
    const lag = s.filter((x) => x.name === 'herald_kafka_consumer_lag');
    expect(
      lag.filter((x) => x.labels.group === `${prefix}-ingest` && x.labels.topic === 'purchases'),
    ).toHaveLength(2);
    expect(lag.filter((x) => x.labels.group === `${prefix}-feedback`).map((x) => x.labels.topic)).toEqual([
      'feedback',
      'feedback',
    ]);
    expect(valueOf(s, 'herald_kafka_consumer_lag')).toBe(0);
    expect(valueOf(s, 'herald_ops_source_up', { source: 'kafka' })).toBe(1);
  });
});
