/**
 * A stage worker killed with SIGKILL in the middle of a batch and started again: the batch completes and
 * nobody gets two pushes. Kills score (a BullMQ stage: its job stalls and is retried) and send-time (its
 * leased delivery batch is taken again after the lease), each while it holds work.
 */
import type { PushSent } from '../../shared/schemas/events.schema';
import { systemClock } from '../../shared/clock';
import { startDailySale } from '../../services/campaigns/campaigns';
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
  });

  afterAll(() => pipeline?.stop());

  it('completes the batch of a killed worker without a second push to anyone', async () => {
    await startDailySale(probe.queues, systemClock, 'UTC');

    // Kill score while it holds a job: the job stays active until its lock runs out, then is retried.
    const scoreActive = await waitFor(
      async () => ((await probe.queues.score.getJobCounts('active')).active ?? 0) > 0,
      'a score job in progress',
      60_000,
      2,
    );
    await workers.kill('score');
    const orphanedJobs = (await probe.queues.score.getJobCounts('active')).active ?? 0;
    workers.start(['score']);

    // Kill send-time while it holds a leased delivery batch.
    await waitFor(() => readSink(env.sinkFile).length > 0, 'first deliveries', 60_000, 5);
    let orphanedUsers = 0;
    await waitFor(
      async () => {
        if ((await probe.redis.zcard(probe.keys.inflight)) === 0) return false;
        await workers.kill('send-time');
        orphanedUsers = await probe.redis.zcard(probe.keys.inflight);
        workers.start(['send-time']);
        return orphanedUsers > 0;
      },
      'a delivery batch in flight',
      60_000,
      2,
    );

    await waitFor(() => readSink(env.sinkFile).length >= USERS, `${USERS} pushes`, 120_000, 250);
    await probe.settle();

    expect(scoreActive).toBe(true);
    expect(orphanedJobs).toBeGreaterThan(0);
    expect(orphanedUsers).toBeGreaterThan(0);
    const pushes = readSink(env.sinkFile);
    expect(pushes).toHaveLength(USERS);
    expect(new Set(pushes.map((p) => p.userId)).size).toBe(USERS);
    await waitFor(
      () => new Set(sent.messages.map((m) => m.value.userId)).size >= USERS,
      'push.sent to catch up',
    );
    expect(new Set(sent.messages.map((m) => m.value.pushId)).size).toBe(USERS);
  });
});
