/**
 * The batch path on real Kafka and Redis: Herald's scheduler fires the daily campaign at 09:00 in its zone on
 * Herald's clock, over 10,000 users: one push per eligible user, and a number of jobs per stage that follows
 * the batches, not the users. Starting the same day's campaign again runs through the pipeline and sends
 * nothing more.
 */
import type { PushSent } from '../../shared/schemas/events.schema';
import { acceleratedClock, type Clock } from '../../shared/clock';
import { nextTick, startCampaign } from '../../services/campaigns/campaigns';
import { DAILY_SALE } from '../../services/strategies/daily-sale/daily-sale.strategy';
import type { TestEnv } from '../helpers/env';
import { profile, sale } from '../helpers/fixtures';
import { produce, type Collected } from '../helpers/kafka';
import { readSink, type PipelineProbe } from '../helpers/pipeline';
import { startPipeline, type RunningPipeline } from '../helpers/running-pipeline';
import { waitFor } from '../helpers/wait';
import type { Workers } from '../helpers/workers';

const USERS = 10_000;
const BATCH = 500;
const TZ = 'Europe/Madrid';
const id = (i: number) => `c${String(i).padStart(6, '0')}`;
const optedOut = (i: number) => i % 20 === 0;
const noDevice = (i: number) => i % 33 === 1;

describe('batch: the daily-sale campaign', () => {
  let pipeline: RunningPipeline;
  let env: TestEnv;
  let probe: PipelineProbe;
  let sent: Collected<PushSent>;
  let workers: Workers;
  // Herald's clock reads one second before the next 09:00 in Madrid when the workers start, so the tick
  // passes while the scheduler is not running yet; it fires when the scheduler starts (catch-up).
  const epoch = Date.now();
  const tick = nextTick('0 9 * * *', TZ, epoch);
  const clock: Clock = acceleratedClock(tick - 1000, 1, epoch);
  const eligible = new Set(
    Array.from({ length: USERS }, (_, i) => i)
      .filter((i) => !optedOut(i) && !noDevice(i))
      .map(id),
  );

  beforeAll(async () => {
    pipeline = await startPipeline(
      {
        BATCH_SIZE: String(BATCH),
        CLOCK: `accelerated:${new Date(tick - 1000).toISOString()}:1`,
        CLOCK_EPOCH_MS: String(epoch),
        DAILY_SALE_CRON: '0 9 * * *',
        DAILY_SALE_TZ: TZ,
        CAMPAIGN_CATCHUP_MINUTES: '60',
      },
      async (e) => {
        await produce(e.config, 'sales', [sale('shoes-20', 'shoes', 20), sale('books-35', 'books', 35)]);
        const profiles = Array.from({ length: USERS }, (_, i) =>
          profile(id(i), { pushOptIn: !optedOut(i), ...(noDevice(i) ? { devices: [] } : {}) }),
        );
        await produce(e.config, 'profiles', profiles);
      },
      { without: ['scheduler'] },
    );
    ({ env, probe, sent, workers } = pipeline);
  });

  afterAll(() => pipeline?.stop());

  it('the scheduler fires the 09:00 tick of its zone on Herald’s clock, once, and one push reaches each eligible user', async () => {
    workers.start(['scheduler']);
    await waitFor(
      () => readSink(env.sinkFile).length >= eligible.size,
      `${eligible.size} pushes`,
      120_000,
      250,
    );
    await probe.settle(120_000, () => clock.now());

    const campaigns = await probe.queues.campaigns.getJobs(['completed']);
    expect(campaigns.map((j) => j.data as unknown)).toEqual([{ campaign: 'daily-sale', tz: TZ, at: tick }]);
    const pushes = readSink(env.sinkFile);
    expect(pushes).toHaveLength(eligible.size);
    expect(new Set(pushes.map((p) => p.userId))).toEqual(eligible);
    // No clicks yet, one candidate each: the personal policy's tie-break is the larger discount.
    expect(new Set(pushes.map((p) => p.candidate.id))).toEqual(new Set(['books-35']));
    await waitFor(() => sent.messages.length >= eligible.size, 'push.sent to catch up');
    expect(new Set(sent.messages.map((m) => m.value.pushId)).size).toBe(eligible.size);

    const drops = await probe.drops();
    expect(drops.filter((d) => d.reason === 'opted_out')).toHaveLength(USERS / 20);
    // i % 33 === 1 and not a multiple of 20 (those count as opted out first).
    const noDevices = Array.from({ length: USERS }, (_, i) => i).filter(
      (i) => noDevice(i) && !optedOut(i),
    ).length;
    expect(drops.filter((d) => d.reason === 'no_device')).toHaveLength(noDevices);

    const batches = Math.ceil(USERS / BATCH);
    const jobs = await probe.completedJobs();
    expect(jobs.target).toBe(1);
    expect(jobs.audience).toBeLessThanOrEqual(Math.ceil(batches / 10) + 1);
    expect(jobs.filter).toBe(batches);
    expect(jobs.score).toBe(batches);
    expect(jobs.conciliate).toBe(batches);
    expect(jobs.sendTime).toBe(batches);
  });

  it('starting the same day’s campaign again sends nothing more', async () => {
    const linesBefore = readSink(env.sinkFile).length;
    const messagesBefore = sent.messages.length;
    await startCampaign(probe.queues, DAILY_SALE, clock.now(), TZ);
    await waitFor(async () => (await probe.completedJobs()).target === 2, 'the second campaign’s target');
    await probe.settle(120_000, () => clock.now());

    // The sink remembers nothing: what it holds is what a provider was asked to send.
    const { stats } = await probe.counters();
    expect(readSink(env.sinkFile)).toHaveLength(linesBefore);
    expect(sent.messages).toHaveLength(messagesBefore);
    expect(stats['sent:daily-sale']).toBe(eligible.size);
  });
});
