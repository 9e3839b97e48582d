/**
 * @jest-environment ./test/helpers/onnx-environment.js
 */
/**
 * The learning loop on real Kafka and Redis, every worker its own process: a campaign scored by the
 * heuristic sends pushes that carry the feature vectors they were scored with; feedback comes back on
 * Kafka; the trainer joins push.sent with feedback into labelled examples, trains, exports, and the gate
 * promotes the model in the registry; the running score worker picks it up without a restart and scores
 * the next campaign with it.
 */
import type { Job } from 'bullmq';
import { Redis } from 'ioredis';
import { startCampaign } from '../../services/campaigns/campaigns';
import { FEATURE_COUNT, FEATURE_SCHEMA_HASH } from '../../services/ranking/features';
import { exportOnnx } from '../../services/ranking/onnx-export';
import { readKafkaPushLog } from '../../services/ranking/push-log';
import { registerAndGate } from '../../services/ranking/registry';
import { metadataOf } from '../../services/ranking/train';
import { splitByTime, train } from '../../services/ranking/trainer';
import { createModelsStore } from '../../services/state/models.store';
import { stateKeys } from '../../shared/keys';
import { profile, purchase, sale } from '../helpers/fixtures';
import { produce } from '../helpers/kafka';
import { startPipeline, type RunningPipeline } from '../helpers/running-pipeline';
import { waitFor } from '../helpers/wait';

const USERS = 300;
const id = (i: number) => `l${String(i).padStart(4, '0')}`;
/** Heavy buyers (4 purchases) open most pushes; light buyers (1 purchase) rarely do. */
const heavy = (i: number) => i % 3 === 0;
const opens = (i: number) => (heavy(i) ? i % 5 !== 0 : i % 10 === 1);
const DAY = 86_400_000;

describe('the learning loop: log, train, promote, serve', () => {
  let pipeline: RunningPipeline;
  let redis: Redis;

  beforeAll(async () => {
    pipeline = await startPipeline(
      {
        STRATEGIES: 'daily-sale',
        DAILY_SALE_POLICY: 'personal',
        MODEL_POLL_MS: '200',
        LOG_LEVEL: 'info',
        // A second campaign the next day must reach the same users again.
        CONTACT_WINDOW_HOURS: '0.001',
      },
      async (e) => {
        await produce(e.config, 'sales', [sale('books-30', 'books', 30)]);
        await produce(
          e.config,
          'profiles',
          Array.from({ length: USERS }, (_, i) => profile(id(i))),
        );
        await produce(
          e.config,
          'purchases',
          Array.from({ length: USERS }, (_, i) =>
            Array.from({ length: heavy(i) ? 4 : 1 }, () => purchase(id(i), 'books')),
          ).flat(),
        );
      },
    );
    redis = new Redis(pipeline.env.config.REDIS_URL);
  }, 180_000);

  afterAll(async () => {
    await redis?.quit();
    await pipeline?.stop();
  });

  it('learns from its own pushes and serves what it learned', async () => {
    const { env, probe, sent, workers } = pipeline;
    const at1 = Date.now();
    await startCampaign(probe.queues, 'daily-sale', at1, 'UTC');
    await waitFor(() => sent.messages.length >= USERS || null, `${USERS} pushes on push.sent`, 120_000, 250);
    const round1 = sent.messages.map((m) => m.value);
    for (const p of round1) {
      expect(p.features?.schema).toBe(FEATURE_SCHEMA_HASH);
      expect(p.features?.values).toHaveLength(FEATURE_COUNT);
    }
    // The world answers: delivered for every push, opened for the users the rule picks.
    const feedback = round1.flatMap((p) => {
      const i = Number(p.userId.slice(1));
      const base = {
        v: 1,
        pushId: p.pushId,
        userId: p.userId,
        strategy: p.strategy,
        candidateId: p.candidate.id,
      };
      const at = new Date(Date.parse(p.sentAt) + 60_000).toISOString();
      return [
        { ...base, eventId: `d-${p.pushId}`, type: 'delivered', at },
        ...(opens(i) ? [{ ...base, eventId: `o-${p.pushId}`, type: 'opened', at }] : []),
      ];
    });
    await produce(env.config, 'feedback', feedback);

    const log = await readKafkaPushLog(env.config, 60_000);
    expect(log.n).toBe(USERS);
    expect(log.skipped).toBe(0);
    const expectedOpens = Array.from({ length: USERS }, (_, i) => i).filter(opens).length;
    expect(log.opened.reduce((a, b) => a + b, 0)).toBe(expectedOpens);

    const trained = train(log, { seed: 1, maxEpochs: 60, patience: 10 });
    const meta = metadataOf(trained, new Date().toISOString());
    const models = createModelsStore(redis, stateKeys(env.config.HERALD_PREFIX));
    const result = await registerAndGate({
      models,
      bytes: exportOnnx(trained.model, meta),
      meta,
      test: splitByTime(log, 1, 1).test,
      margin: 0.05,
      now: Date.now(),
    });
    expect(result.decision.promote).toBe(true);
    expect(await models.promoted()).toBe(result.version);
    await waitFor(
      () => workers.logs().includes(`score model ${result.version} in service`) || null,
      'the score worker to serve the promoted model',
      20_000,
    );

    // The next day's campaign is scored by the model: heavy buyers rank above light ones.
    const keys = stateKeys(env.config.HERALD_PREFIX);
    await waitFor(
      async () =>
        (await redis.exists(...Array.from({ length: USERS }, (_, i) => keys.ledger(id(i))))) === 0 || null,
      'the first contact windows to close',
      30_000,
    );
    const at2 = at1 + DAY;
    const day2 = new Date(at2).toISOString().slice(0, 10);
    await startCampaign(probe.queues, 'daily-sale', at2, 'UTC');
    const picksOf = async () =>
      ((await probe.queues.conciliate.getJobs(['completed', 'waiting', 'active'], 0, -1)) as Job[])
        .flatMap(
          (j) =>
            (j.data as { picks: Array<{ targetId: string; userIds: string[]; scores: number[] }> }).picks,
        )
        .filter((p) => p.targetId === `ds-${day2}`);
    const picks = await waitFor(
      async () => {
        const p = await picksOf();
        return p.reduce((n, x) => n + x.userIds.length, 0) >= USERS ? p : null;
      },
      'the second campaign scored',
      60_000,
      250,
    ).catch(async (e: unknown) => {
      const drops = await probe.drops();
      const failed = await Promise.all(
        Object.values(probe.queues).map(async (q) =>
          (await q.getJobs(['failed'])).map((j) => j.failedReason),
        ),
      );
      throw new Error(
        `${String(e)}; jobs ${JSON.stringify(await probe.completedJobs())}; drops ${JSON.stringify(
          drops.reduce<Record<string, number>>((m, d) => ({ ...m, [d.reason]: (m[d.reason] ?? 0) + 1 }), {}),
        )}; failed ${JSON.stringify(failed.flat())}; picks ${(await picksOf()).length}`,
      );
    });
    const score = new Map(picks.flatMap((p) => p.userIds.map((u, k) => [u, p.scores[k] as number] as const)));
    const mean = (f: (i: number) => boolean) => {
      const v = Array.from({ length: USERS }, (_, i) => i)
        .filter(f)
        .map((i) => score.get(id(i)) as number);
      return v.reduce((a, b) => a + b, 0) / v.length;
    };
    const heuristic = 0.5 * 1 + 0.2 * 0.3;
    expect([...score.values()].some((s) => Math.abs(s - heuristic) < 1e-6)).toBe(false);
    expect(mean(heavy)).toBeGreaterThan(mean((i) => !heavy(i)) + 0.1);
  }, 300_000);
});
