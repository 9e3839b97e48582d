/**
 * Stage workers killed with SIGKILL in the middle of their work and started again: the batch completes and
 * every user gets the push. Kills score (a BullMQ stage: its job stalls and is retried once its lock runs
 * out) and send-time (its leased delivery batch is taken again after the lease).
 *
 * The file sink remembers nothing, as a real provider: a send-time killed after the sink accepted a batch
 * and before its confirm reached Redis resends that batch (the one documented window). So the test asserts
 * what the ledger guarantees: anyone who got a push twice was in the batch in flight at the kill, got the
 * same push id both times, and push.sent and the sent record hold each push once.
 */
import { Redis } from 'ioredis';
import type { PushSent } from '../../shared/schemas/events.schema';
import { systemClock } from '../../shared/clock';
import { stateKeys } from '../../shared/keys';
import { startCampaign } from '../../services/campaigns/campaigns';
import { DAILY_SALE } from '../../services/strategies/daily-sale/daily-sale.strategy';
import type { TestEnv } from '../helpers/env';
import { profile, sale } from '../helpers/fixtures';
import { produce, type Collected } from '../helpers/kafka';
import { readSink, type PipelineProbe } from '../helpers/pipeline';
import { startPipeline, type RunningPipeline } from '../helpers/running-pipeline';
import { waitFor } from '../helpers/wait';
import type { Workers } from '../helpers/workers';

const USERS = 12_000;
const id = (i: number) => `k${String(i).padStart(6, '0')}`;

describe('crash recovery', () => {
  let pipeline: RunningPipeline;
  let env: TestEnv;
  let workers: Workers;
  let probe: PipelineProbe;
  let sent: Collected<PushSent>;
  let redis: Redis;

  beforeAll(async () => {
    pipeline = await startPipeline(
      { BATCH_SIZE: '250', STAGE_LOCK_MS: '2000', SEND_LEASE_MS: '2000' },
      async (e) => {
        await produce(e.config, 'sales', [sale('crash-sale', 'toys', 25)]);
        await produce(
          e.config,
          'profiles',
          Array.from({ length: USERS }, (_, i) => profile(id(i))),
        );
      },
    );
    ({ env, workers, probe, sent } = pipeline);
    redis = new Redis(env.config.REDIS_URL);
  });

  afterAll(async () => {
    await redis?.quit();
    await pipeline?.stop();
  });

  it('completes the batch of a killed worker; a second push only in the documented window', async () => {
    const keys = stateKeys(env.config.HERALD_PREFIX);
    await startCampaign(probe.queues, DAILY_SALE, systemClock.now(), 'UTC');

    // Kill score while it holds a job; a job that finished just before the kill leaves nothing orphaned,
    // so try again with the next one.
    let orphanedJobs: string[] = [];
    let killedAt = 0;
    for (let i = 0; i < 20 && orphanedJobs.length === 0; i++) {
      await waitFor(
        async () => ((await probe.queues.score.getJobCounts('active')).active ?? 0) > 0,
        'a score job in progress',
        60_000,
        5,
      );
      await workers.kill('score');
      killedAt = Date.now();
      orphanedJobs = (await probe.queues.score.getJobs(['active'])).map((j) => j.id!);
      workers.start(['score']);
    }
    expect(orphanedJobs.length).toBeGreaterThan(0);
    // Recovery: the orphaned job completes once its lock (STAGE_LOCK_MS) has run out and a stalled check ran.
    await waitFor(
      async () =>
        (await Promise.all(orphanedJobs.map((j) => probe.queues.score.getJobState(j)))).every(
          (s) => s === 'completed',
        ),
      'the orphaned score job to complete',
      60_000,
      50,
    );
    const recoveryMs = Date.now() - killedAt;
    expect(recoveryMs).toBeGreaterThan(2000); // not before its lock ran out: no double work

    // Kill send-time while it holds a leased delivery batch.
    await waitFor(() => readSink(env.sinkFile).length > 0, 'first deliveries', 60_000, 5);
    let inFlight: string[] = [];
    for (let i = 0; i < 20 && inFlight.length === 0; i++) {
      await waitFor(
        async () => (await probe.state.delivery.backlog(Date.now())).inflight > 0,
        'a delivery batch in flight',
        60_000,
        2,
      );
      await workers.kill('send-time');
      inFlight = await redis.zrange(keys.inflight, 0, -1);
      workers.start(['send-time']);
    }
    expect(inFlight.length).toBeGreaterThan(0);

    await waitFor(
      () => new Set(readSink(env.sinkFile).map((p) => p.userId)).size >= USERS,
      `${USERS} users reached`,
      120_000,
      250,
    );
    await probe.settle();

    const pushes = readSink(env.sinkFile);
    expect(new Set(pushes.map((p) => p.userId)).size).toBe(USERS);
    const byUser = new Map<string, PushSent[]>();
    for (const p of pushes) byUser.set(p.userId, [...(byUser.get(p.userId) ?? []), p]);
    const twice = [...byUser].filter(([, ps]) => ps.length > 1);
    const leased = new Set(inFlight);
    for (const [userId, ps] of twice) {
      expect(leased.has(userId)).toBe(true);
      expect(new Set(ps.map((p) => p.pushId)).size).toBe(1);
      expect(ps).toHaveLength(2);
    }
    await waitFor(
      () => new Set(sent.messages.map((m) => m.value.userId)).size >= USERS,
      'push.sent to catch up',
    );
    expect(new Set(sent.messages.map((m) => m.value.pushId)).size).toBe(USERS);
    const p = redis.pipeline();
    for (let i = 0; i < USERS; i++) p.zcard(keys.sent(id(i)));
    const records = ((await p.exec()) ?? []).map(([, n]) => n as number);
    expect(records.filter((n) => n !== 1)).toEqual([]);
    process.stderr.write(
      `crash: score job recovered ${recoveryMs} ms after SIGKILL (STAGE_LOCK_MS 2000); ${inFlight.length} users in flight at the send-time kill, ${twice.length} sent twice\n`,
    );
  });
});
