/**
 * The operator service on real Kafka and Redis, every stage its own process: a campaign's filter batch fails
 * on a poisoned profile, the operator fixes it and replays the batch, and every user gets exactly one push,
 * except those opted out or contacted meanwhile, which the dry run names; a dead letter is re-driven with a
 * fix, once; explain shows the path a push really took; a time range of purchases is copied into a
 * backtest namespace.
 */
import { createKafka } from '../../shared/kafka/client';
import { readRange, wholeTopic } from '../../shared/kafka/read-range';
import { createLogger } from '../../shared/logger';
import { createRedis } from '../../shared/redis';
import { stateKeys } from '../../shared/keys';
import { topicName } from '../../shared/topics';
import { startCampaign } from '../../services/campaigns/campaigns';
import type { OpsService } from '../../services/ops/api';
import { createOpsService } from '../../services/ops/service';
import { createAuditLog } from '../../services/ops/audit';
import { buildServer } from '../../services/ops/http/server';
import { createRateLimiter } from '../../services/ops/rate-limit';
import { createTokenStore } from '../../services/ops/tokens';
import { systemClock } from '../../shared/clock';
import { DAILY_SALE } from '../../services/strategies/daily-sale/daily-sale.strategy';
import type { TestEnv } from '../helpers/env';
import { profile, purchase, sale, store } from '../helpers/fixtures';
import { produce } from '../helpers/kafka';
import { readSink, type PipelineProbe } from '../helpers/pipeline';
import { startPipeline, type RunningPipeline } from '../helpers/running-pipeline';
import { waitFor } from '../helpers/wait';
import type { Workers } from '../helpers/workers';

const CAMPAIGN = ['o1', 'o2', 'o3', 'o4', 'o5', 'o6'];
const POISONED = 'o3';
const OPTS_OUT = 'o4';
const CAPPED = 'o5';

describe('operators: replay, re-drive, explain', () => {
  let pipeline: RunningPipeline;
  let env: TestEnv;
  let workers: Workers;
  let probe: PipelineProbe;
  let ops: OpsService;
  const startedAt = Date.now();
  const pushesOf = (userId: string) => readSink(env.sinkFile).filter((p) => p.userId === userId);

  beforeAll(async () => {
    pipeline = await startPipeline({ TRACE_CAMPAIGN_SHARE: '1' }, async (e) => {
      await produce(e.config, 'stores', [
        store('wine-1', 'wine', { discount: 20 }),
        store('bakery-1', 'bakery'),
      ]);
      await produce(e.config, 'sales', [sale('shoes-20', 'shoes', 20)]);
      await produce(
        e.config,
        'profiles',
        CAMPAIGN.map((u) => profile(u)),
      );
    });
    ({ env, workers, probe } = pipeline);
    ops = createOpsService({ config: env.config, logger: createLogger('ops-test', 'warn'), maxReplay: 100 });
  });

  afterAll(async () => {
    await ops?.close();
    await pipeline?.stop();
  });

  afterEach(() => {
    const failed = expect.getState().assertionCalls !== expect.getState().numPassingAsserts;
    if (failed) process.stderr.write(workers.logs());
  });

  it('a batch that failed on a poisoned profile is replayed after the fix: one push each, none to the opted out or capped', async () => {
    // The poison: a profile whose devices field is not JSON. Reading it fails the whole filter batch.
    const redis = createRedis(env.config.REDIS_URL, 'ops-test');
    const userKey = stateKeys(env.config.HERALD_PREFIX).user(POISONED);
    await redis.hset(userKey, 'devices', '{not json');
    await startCampaign(probe.queues, DAILY_SALE, Date.now(), 'Europe/Madrid');
    await waitFor(
      async () => (await probe.queues.filter.getFailed()).length === 1,
      'the filter batch to fail its 5 attempts',
      60_000,
      250,
    );
    expect(CAMPAIGN.flatMap(pushesOf)).toEqual([]);

    const [failed] = (await ops.listFailed({ queue: 'filter' }, {})).items;
    expect(failed).toMatchObject({ queue: 'filter', users: CAMPAIGN.length, strategies: [DAILY_SALE] });
    expect(failed!.reason).toMatch(/JSON/);
    expect((await ops.listFailed({ userId: 'nobody' }, {})).items).toEqual([]);

    // Meanwhile one user opts out and another gets a market-basket push, which takes their contact window.
    await produce(env.config, 'profiles', [profile(OPTS_OUT, { pushOptIn: false })]);
    await produce(env.config, 'purchases', [purchase(CAPPED, 'groceries')]);
    await waitFor(() => pushesOf(CAPPED).length === 1, 'the capped user’s market-basket push');
    // The fix: the user's profile arrives again and rewrites the broken field.
    await produce(env.config, 'profiles', [profile(POISONED)]);
    await waitFor(async () => (await redis.hget(userKey, 'devices'))?.startsWith('[') === true, 'the fix');
    await waitFor(
      async () => (await redis.hget(stateKeys(env.config.HERALD_PREFIX).user(OPTS_OUT), 'optIn')) === '0',
      'the opt-out',
    );
    await redis.quit();

    const dry = await ops.replay({ filter: { queue: 'filter', strategy: DAILY_SALE } });
    expect(dry).toMatchObject({
      dryRun: true,
      jobs: 1,
      replayed: 0,
      users: 6,
      pushes: 4,
      dropped: { opted_out: 1, cooldown: 1 },
    });
    expect(await probe.queues.filter.getFailedCount()).toBe(1);

    const done = await ops.replay({ jobs: [{ queue: 'filter', id: failed!.id }], dryRun: false });
    expect(done).toMatchObject({ dryRun: false, jobs: 1, replayed: 1, pushes: 4 });
    const expected = ['o1', 'o2', 'o3', 'o6'];
    await waitFor(() => expected.every((u) => pushesOf(u).length === 1), 'the replayed pushes');
    await probe.settle();
    for (const u of expected) expect(pushesOf(u).map((p) => p.strategy)).toEqual([DAILY_SALE]);
    expect(pushesOf(OPTS_OUT)).toEqual([]);
    expect(pushesOf(CAPPED).map((p) => p.strategy)).toEqual(['market-basket']);

    // The job is no longer failed: a second replay finds nothing and sends nothing.
    await expect(ops.replay({ jobs: [{ queue: 'filter', id: failed!.id }], dryRun: false })).rejects.toThrow(
      /not failed/,
    );
    expect((await ops.replay({ filter: { queue: 'filter' }, dryRun: false })).jobs).toBe(0);
  });

  it('explain shows the real path of a push, and why a user got none', async () => {
    const [push] = pushesOf('o1');
    const o1 = await ops.explain('o1', {});
    const steps = o1.trace.map((e) => `${e.stage}/${e.what}`);
    expect(steps).toEqual(
      expect.arrayContaining(['score/picked', 'conciliate/won', 'send-time/planned', 'delivery/sent']),
    );
    const sentStep = o1.trace.find((e) => e.stage === 'delivery' && e.what === 'sent')!;
    expect(sentStep.detail.pushId).toBe(push!.pushId);
    expect(o1.now.sent.map((s) => s.pushId)).toEqual([push!.pushId]);
    expect(o1.summary.join('\n')).toContain(push!.pushId);

    const optedOut = await ops.explain(OPTS_OUT, {});
    expect(optedOut.trace).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ stage: 'filter', what: 'dropped', detail: { reason: 'opted_out' } }),
      ]),
    );
    expect(optedOut.now.sent).toEqual([]);

    const capped = (await ops.explain(CAPPED, {})).trace.map((e) => `${e.stage}/${e.what}/${e.strategy}`);
    expect(capped).toEqual(
      expect.arrayContaining([
        'trigger/targeted/market-basket',
        'delivery/sent/market-basket',
        'filter/dropped/daily-sale',
      ]),
    );
  });

  it('a dead letter is re-driven with its fix, once', async () => {
    // A user who joins after the campaign, so the campaign did not take their contact window.
    await produce(env.config, 'profiles', [profile('d1')]);
    const redis = createRedis(env.config.REDIS_URL, 'ops-test');
    const key = stateKeys(env.config.HERALD_PREFIX).user('d1');
    await waitFor(async () => (await redis.hexists(key, 'timeZone')) === 1, 'd1’s profile');
    await redis.quit();
    await produce(env.config, 'purchases', [purchase('d1', 'groceries', { amount: -5 })]);
    const letter = await waitFor(async () => {
      const page = await ops.listDeadLetters({ topic: 'purchases' }, {});
      return page.items.find((l) => l.reason.startsWith('amount'));
    }, 'the dead letter');
    const shown = (await ops.getDeadLetter(letter.id))!;
    expect(shown.source.topic).toBe(topicName(env.config.KAFKA_TOPIC_PREFIX, 'purchases'));
    const original = JSON.parse(shown.value!) as Record<string, unknown>;
    expect(original).toMatchObject({ userId: 'd1', amount: -5 });

    // As it is, it still fails: nothing would go back.
    const asIs = await ops.redrive({ ids: [letter.id] });
    expect(asIs).toMatchObject({ dryRun: true, selected: 1, valid: 0, redriven: 0 });
    expect(asIs.invalid[0]!.reason).toMatch(/^amount/);

    const fix = { id: letter.id, value: { ...original, amount: 5 } };
    expect(await ops.redrive({ fix })).toMatchObject({ dryRun: true, valid: 1, redriven: 0 });
    expect(await ops.redrive({ fix, dryRun: false })).toMatchObject({
      valid: 1,
      redriven: 1,
      byTopic: { purchases: 1 },
    });
    await waitFor(() => pushesOf('d1').length === 1, 'the re-driven purchase’s push');

    expect(await ops.redrive({ fix, dryRun: false })).toMatchObject({ alreadyRedriven: 1, redriven: 0 });
    expect((await ops.getDeadLetter(letter.id))!.redrivenAt).toBeGreaterThan(0);
    await probe.settle();
    expect(pushesOf('d1')).toHaveLength(1);
  });

  it('copies a time range of purchases into a backtest namespace, leaving production alone', async () => {
    const namespace = `${env.config.HERALD_PREFIX}-bt`;
    const req = { topic: 'purchases', from: startedAt, to: Date.now(), namespace };
    const dry = await ops.replayTopic(req);
    expect(dry).toMatchObject({ dryRun: true, copied: 0, target: `${namespace}.purchases` });
    // The capped user's purchase, the dead-lettered one and its re-drive.
    expect(dry.messages).toBe(3);
    await expect(
      ops.replayTopic({ ...req, namespace: env.config.KAFKA_TOPIC_PREFIX.slice(0, -1) }),
    ).rejects.toThrow(/production/);

    const done = await ops.replayTopic({ ...req, dryRun: false });
    expect(done.copied).toBe(3);
    const kafka = createKafka(env.config.KAFKA_BROKERS, 'ops-test-reader');
    const admin = kafka.admin();
    await admin.connect();
    try {
      const copied: string[] = [];
      await readRange(kafka, done.target, await wholeTopic(admin, done.target), (_, messages) => {
        for (const m of messages) copied.push(String(m.headers?.['herald-replay-of']));
      });
      expect(copied).toHaveLength(3);
      expect(copied.every((h) => h.startsWith(`${done.source}/`))).toBe(true);
      await admin.deleteTopics({ topics: [done.target] });
    } finally {
      await admin.disconnect();
    }
  });

  it('through the API: a viewer may explain but not re-drive; an operator’s dry run answers the real report and is audited', async () => {
    const redis = createRedis(env.config.REDIS_URL, 'ops-test-api');
    const bootstrap = 'bootstrap-token-for-the-ops-test-0123';
    const prefix = env.config.HERALD_PREFIX;
    const clock = systemClock;
    const app = buildServer({
      ops,
      tokens: createTokenStore({ redis, prefix, clock, bootstrapToken: bootstrap }),
      audit: createAuditLog({ redis, prefix, clock }),
      limiter: createRateLimiter({ redis, prefix, clock, limit: 5, windowMs: 60_000 }),
      logger: createLogger('ops-test-api', 'warn'),
    });
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const call = async (token: string, method: string, path: string, body?: object) => {
        const res = await fetch(base + path, {
          method,
          headers: {
            authorization: `Bearer ${token}`,
            ...(body ? { 'content-type': 'application/json' } : {}),
          },
          ...(body ? { body: JSON.stringify(body) } : {}),
        });
        return { status: res.status, json: (await res.json()) as Record<string, unknown> };
      };
      const mint = async (role: string) =>
        (await call(bootstrap, 'POST', '/api/v1/tokens', { name: `${role}-1`, role })).json.secret as string;
      const viewer = await mint('viewer');
      const operator = await mint('operator');

      const explained = await call(viewer, 'GET', `/api/v1/users/${CAPPED}/explain`);
      expect(explained.status).toBe(200);
      expect((explained.json.summary as string[]).join('\n')).toContain('sent push');
      expect((await call(viewer, 'POST', '/api/v1/dead-letters/redrive', { filter: {} })).status).toBe(403);
      expect((await call('hrld_not-a-token', 'GET', '/api/v1/jobs/failed')).status).toBe(401);

      const dry = await call(operator, 'POST', '/api/v1/dead-letters/redrive', {
        filter: { topic: 'purchases' },
      });
      expect(dry.status).toBe(200);
      expect(dry.json).toMatchObject({ dryRun: true, selected: 1, alreadyRedriven: 1, redriven: 0 });
      const audit = await call(viewer, 'GET', '/api/v1/audit');
      const [record] = audit.json.items as Array<{ result: Record<string, unknown> }>;
      expect(record).toMatchObject({
        action: 'dead-letters.redrive',
        dryRun: true,
        actor: { name: 'operator-1', role: 'operator' },
      });
      expect(record!.result.selected).toBe(1);
    } finally {
      await app.close();
      await redis.quit();
    }
  });
});
