/**
 * The feedback worker on real Kafka and Redis: opens and clicks become per-user and per-strategy counters
 * and the day's clicks per sale (which the daily-sale baseline ranks by); an event delivered twice counts once.
 */
import { Redis } from 'ioredis';
import { stateKeys, type StateKeys } from '../../shared/keys';
import { createTestEnv, type TestEnv } from '../helpers/env';
import { produce } from '../helpers/kafka';
import { groupCaughtUp } from '../../services/operations/probe';
import { PipelineProbe } from '../helpers/pipeline';
import { waitFor } from '../helpers/wait';
import { Workers } from '../helpers/workers';

const at = new Date(Date.now() - 60_000).toISOString();
const fb = (eventId: string, userId: string, type: string, candidateId = 'sale-1') => ({
  v: 1,
  eventId,
  pushId: `push-${userId}`,
  userId,
  strategy: 'daily-sale',
  candidateId,
  type,
  at,
});

describe('feedback', () => {
  let env: TestEnv;
  let workers: Workers;
  let probe: PipelineProbe;
  let redis: Redis;
  let keys: StateKeys;

  beforeAll(async () => {
    env = await createTestEnv();
    probe = new PipelineProbe(env.config);
    redis = new Redis(env.config.REDIS_URL);
    keys = stateKeys(env.config.HERALD_PREFIX);
    workers = new Workers(env.vars).start(['feedback']);
  });
  afterAll(async () => {
    await workers?.stop();
    await probe?.close();
    await redis?.quit();
    await env?.cleanup();
  });

  it('counts opens and clicks per user, per strategy and per sale, each event once', async () => {
    const events = [
      fb('e1', 'ann', 'delivered'),
      fb('e2', 'ann', 'opened'),
      fb('e3', 'ann', 'clicked'),
      fb('e4', 'ben', 'delivered'),
      fb('e5', 'ben', 'opened'),
      fb('e6', 'cat', 'clicked', 'sale-2'),
    ];
    await produce(env.config, 'feedback', events);
    await produce(env.config, 'feedback', [fb('e3', 'ann', 'clicked')]); // redelivered: must not count again
    await produce(env.config, 'feedback', ['{"not":"feedback"}']);
    await waitFor(
      async () => (await redis.hget(keys.strategyStats, 'daily-sale:clicked')) === '2',
      'two clicks counted',
    );
    await waitFor(
      () => groupCaughtUp(env.config, `${env.config.KAFKA_GROUP_PREFIX}-feedback`, ['feedback']),
      'the feedback worker to commit everything',
    );
    expect(await redis.hgetall(keys.strategyStats)).toEqual({
      'daily-sale:delivered': '2',
      'daily-sale:opened': '2',
      'daily-sale:clicked': '2',
    });
    // An opened push takes back the fatigue its delivery added.
    const fatAt = String(Date.parse(at));
    expect(await redis.hgetall(keys.engagement('ann'))).toEqual({
      delivered: '1',
      opened: '1',
      clicked: '1',
      fl: '0.0000',
      fat: fatAt,
    });
    expect(await redis.hgetall(keys.engagement('ben'))).toEqual({
      delivered: '1',
      opened: '1',
      fl: '0.0000',
      fat: fatAt,
    });
    // The bandit's posteriors: every user here is new (fewer than 3 pushes before the one answered).
    expect(await redis.hgetall(keys.bandit)).toEqual({
      'daily-sale|new|delivered': '2',
      'daily-sale|new|opened': '2',
      'daily-sale|new|clicked': '2',
    });
    const day = at.slice(0, 10);
    expect(await redis.zrange(keys.saleClicks(day), 0, -1, 'WITHSCORES')).toEqual([
      'sale-1',
      '1',
      'sale-2',
      '1',
    ]);
    // The malformed one is dead-lettered and counted with ingest's (the summary read only ingest's before).
    expect((await probe.counters()).stats.dead).toBe(1);
  });
});
