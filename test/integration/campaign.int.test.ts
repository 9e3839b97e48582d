/**
 * The batch path on real Kafka and Redis: a daily campaign over 10,000 users, one push per eligible user,
 * and a number of jobs per stage that follows the batches, not the users.
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

const USERS = 10_000;
const BATCH = 500;
const id = (i: number) => `c${String(i).padStart(6, '0')}`;
const optedOut = (i: number) => i % 20 === 0;
const noDevice = (i: number) => i % 33 === 1;

describe('batch: the daily-sale campaign', () => {
  let pipeline: RunningPipeline;
  let env: TestEnv;
  let probe: PipelineProbe;
  let sent: Collected<PushSent>;

  beforeAll(async () => {
    pipeline = await startPipeline(
      { BATCH_SIZE: String(BATCH), DAILY_SALE_TZ: 'Europe/Madrid' },
      async (e) => {
        await produce(e.config, 'sales', [sale('shoes-20', 'shoes', 20), sale('books-35', 'books', 35)]);
        const profiles = Array.from({ length: USERS }, (_, i) =>
          profile(id(i), { pushOptIn: !optedOut(i), ...(noDevice(i) ? { devices: [] } : {}) }),
        );
        await produce(e.config, 'profiles', profiles);
      },
    );
    ({ env, probe, sent } = pipeline);
  });

  afterAll(() => pipeline?.stop());

  it('the scheduler registers the cron in its zone', async () => {
    const schedulers = await waitFor(async () => {
      const s = await probe.queues.campaigns.getJobSchedulers();
      return s.length ? s : null;
    }, 'the job scheduler');
    expect(schedulers[0]).toMatchObject({ key: 'daily-sale', pattern: '0 9 * * *', tz: 'Europe/Madrid' });
  });

  it('sends one push per eligible user, the baseline sale, in as many jobs per stage as batches', async () => {
    const eligible = new Set(
      Array.from({ length: USERS }, (_, i) => i)
        .filter((i) => !optedOut(i) && !noDevice(i))
        .map(id),
    );
    await startDailySale(probe.queues, systemClock, 'Europe/Madrid');
    await waitFor(
      () => readSink(env.sinkFile).length >= eligible.size,
      `${eligible.size} pushes`,
      120_000,
      250,
    );
    await probe.settle();

    const pushes = readSink(env.sinkFile);
    expect(pushes).toHaveLength(eligible.size);
    expect(new Set(pushes.map((p) => p.userId))).toEqual(eligible);
    // No clicks yet: the baseline's tie-break is the larger discount.
    expect(new Set(pushes.map((p) => p.candidate.id))).toEqual(new Set(['books-35']));
    await waitFor(() => sent.messages.length >= eligible.size, 'push.sent to catch up');
    expect(new Set(sent.messages.map((m) => m.value.pushId)).size).toBe(eligible.size);

    const drops = await probe.drops();
    expect(drops.filter((d) => d.reason === 'opted_out')).toHaveLength(USERS / 20);
    expect(drops.filter((d) => d.reason === 'no_device').length).toBeGreaterThan(250);

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
    const before = readSink(env.sinkFile).length;
    await startDailySale(probe.queues, systemClock, 'Europe/Madrid');
    await probe.settle();
    expect(readSink(env.sinkFile)).toHaveLength(before);
  });
});
