/**
 * Send-time optimization on real Kafka and Redis, every worker its own process, on a clock that runs twenty
 * minutes per real second: a user whose opens cluster at 20:00 local gets the campaign's push at about
 * 20:00, nobody is sent to in quiet hours, and the exploration share holds over many users, each push carrying
 * the probability of its hour.
 */
import { DateTime } from 'luxon';
import type { PushSent } from '../../shared/schemas/events.schema';
import { acceleratedClock } from '../../shared/clock';
import { groupCaughtUp } from '../../services/operations/probe';
import { nextTick, startCampaign } from '../../services/campaigns/campaigns';
import { DAILY_SALE } from '../../services/strategies/daily-sale/daily-sale.strategy';
import { isQuiet } from '../../services/timing/plan';
import { profile, sale } from '../helpers/fixtures';
import { produce } from '../helpers/kafka';
import { startPipeline, type RunningPipeline } from '../helpers/running-pipeline';
import { waitFor } from '../helpers/wait';

const TZ = 'Europe/Madrid';
const USERS = 2000;
const EXPLORE = 0.2;
// Twenty simulated minutes per real second: the day from 08:00 to the quiet hours takes under a minute, and a
// delivery late by a second on a busy machine is still 20 minutes, not an hour, after its planned minute.
const SPEED = 1200;
const id = (i: number) => `p${String(i).padStart(5, '0')}`;

describe('send-time: the predicted engagement hour', () => {
  let pipeline: RunningPipeline;
  // Herald's clock starts at the next 08:00 in Madrid and runs twenty minutes per real second.
  const epoch = Date.now() + 5_000;
  const simStart = nextTick('0 8 * * *', TZ, Date.now());
  const clock = acceleratedClock(simStart, SPEED, epoch);
  const localAt = (day: number, hour: number) =>
    DateTime.fromMillis(simStart, { zone: TZ })
      .minus({ days: day })
      .set({ hour, minute: 5 })
      .toUTC()
      .toISO()!;
  const opens = (userId: string, hour: number) =>
    Array.from({ length: 6 }, (_, d) => ({
      v: 1,
      eventId: `open-${userId}-${d}`,
      pushId: `old-${userId}-${d}`,
      userId,
      strategy: DAILY_SALE,
      type: 'opened',
      at: localAt(d + 1, hour),
    }));

  beforeAll(async () => {
    pipeline = await startPipeline(
      {
        SEND_MODE: 'predicted',
        SEND_EXPLORE: String(EXPLORE),
        QUIET_HOURS: '22-8',
        CLOCK: `accelerated:${new Date(simStart).toISOString()}:${SPEED}`,
        CLOCK_EPOCH_MS: String(epoch),
        SEND_LEASE_MS: '3000',
      },
      async (e) => {
        await produce(e.config, 'sales', [sale('evening-sale', 'shoes', 30)]);
        await produce(
          e.config,
          'profiles',
          Array.from({ length: USERS }, (_, i) => profile(id(i), { timeZone: TZ })),
        );
      },
    );
    const { env } = pipeline;
    await produce(env.config, 'feedback', [...opens(id(1), 20), ...opens(id(2), 23)]);
    await waitFor(
      () => groupCaughtUp(env.config, `${env.config.KAFKA_GROUP_PREFIX}-feedback`, ['feedback']),
      'the feedback worker to learn the opens',
    );
  });

  afterAll(() => pipeline?.stop());

  it('sends each user at their hour, never in quiet hours, exploring the share it is given', async () => {
    const { probe, sent } = pipeline;
    await waitFor(() => clock.now() >= simStart, 'the simulated morning', 30_000);
    await startCampaign(probe.queues, DAILY_SALE, clock.now(), TZ);
    await waitFor(
      () => new Set(sent.messages.map((m) => m.value.userId)).size >= USERS,
      `${USERS} pushes`,
      120_000,
      250,
    );
    const pushes = new Map<string, PushSent>(sent.messages.map((m) => [m.value.userId, m.value]));
    const hourOf = (p: PushSent) => DateTime.fromISO(p.sentAt, { zone: TZ }).hour;

    // The night owl's opens cluster at 20:00: the push goes at about 20:00 local, though booked at 08:00.
    const owl = pushes.get(id(1))!;
    expect(owl.timing?.bestHour).toBe(20);
    if (!owl.timing?.explored) expect([20, 21]).toContain(hourOf(owl));

    // The late user likes 23:00 best, which is quiet: nothing in quiet hours, for anyone.
    expect(pushes.get(id(2))!.timing?.bestHour).not.toBe(23);
    const quiet = [...pushes.values()].filter((p) => isQuiet(hourOf(p), { start: 22, end: 8 }));
    expect(quiet.map((p) => [p.userId, p.sentAt])).toEqual([]);

    // Exploration: the share within four standard deviations, and every push logs its propensity.
    const explored = [...pushes.values()].filter((p) => p.timing?.explored).length / USERS;
    const sd = Math.sqrt((EXPLORE * (1 - EXPLORE)) / USERS);
    expect(Math.abs(explored - EXPLORE)).toBeLessThan(4 * sd);
    for (const p of pushes.values()) {
      expect(p.timing!.propensity).toBeGreaterThan(0);
      expect(p.timing!.propensity).toBeLessThanOrEqual(1);
    }
  });
});
