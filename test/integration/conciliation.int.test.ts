/**
 * Value conciliation on real Kafka and Redis, every worker its own process: a weak real-time push waits for
 * the better daily sale still to come and does not take its window; a holdout user never gets a push and
 * what they would have got is logged; a capped user gets nothing and the cap is recorded as the reason.
 */
import { DateTime } from 'luxon';
import { createRedis } from '../../shared/redis';
import type { Decision, PushSent } from '../../shared/schemas/events.schema';
import { startCampaign } from '../../services/campaigns/campaigns';
import { holdoutOf } from '../../services/conciliation/decide';
import { createState } from '../../services/state';
import { DAILY_SALE } from '../../services/strategies/daily-sale/daily-sale.strategy';
import { feedback, profile, purchase, sale, store } from '../helpers/fixtures';
import { collect, produce, type Collected } from '../helpers/kafka';
import { readSink } from '../helpers/pipeline';
import { startPipeline, type RunningPipeline } from '../helpers/running-pipeline';
import { groupCaughtUp } from '../../services/operations/probe';
import { waitFor } from '../helpers/wait';

const SALT = 'conc-test';
const HOLDOUT = 0.3;
/** The first user ids (of a prefix) in and out of the global control group under the test's salt. */
function pick(prefix: string, control: boolean): string {
  const h = { share: HOLDOUT, strategyShare: 0, salt: SALT };
  for (let i = 0; ; i++) if (holdoutOf(`${prefix}${i}`, h, []).control === control) return `${prefix}${i}`;
}

describe('conciliation on value', () => {
  let pipeline: RunningPipeline;
  let decisions: Collected<Decision>;
  const alice = pick('alice', false);
  const bob = pick('bob', false);
  const held = pick('held', true);
  // The daily sale is scheduled ten hours from now (UTC): within the 20-hour window, so it is anticipated;
  // the test starts its campaign by hand long before the scheduler would.
  const cronHour = (DateTime.utc().hour + 10) % 24;
  const logged = (): Decision[] => decisions.messages.map((m) => m.value);
  const pushes = (userId: string): PushSent[] =>
    readSink(pipeline.env.sinkFile).filter((p) => p.userId === userId);

  beforeAll(async () => {
    pipeline = await startPipeline(
      {
        HOLDOUT_SHARE: String(HOLDOUT),
        HOLDOUT_SALT: SALT,
        CONCILIATE_MIN_VALUE: '0.001',
        DAILY_SALE_CRON: `0 ${cronHour} * * *`,
        DAILY_SALE_TZ: 'UTC',
      },
      async (e) => {
        await produce(e.config, 'stores', [
          store('bakery-1', 'bakery'),
          store('wine-1', 'wine', { discount: 5 }),
          store('groceries-1', 'groceries'),
        ]);
        await produce(e.config, 'sales', [sale('sale-1', 'shoes', 40)]);
        await produce(e.config, 'profiles', [profile(alice), profile(bob), profile(held)]);
      },
    );
    decisions = await collect<Decision>(pipeline.env.config, 'decisions');
    // What Herald learned before: the daily sale is opened by half of its new users, market basket by 1 in 100.
    const fb = (pushId: string, userId: string, strategy: string, type: string) =>
      feedback({ pushId, userId, strategy, candidate: { id: 'hist' } }, type);
    const history = Array.from({ length: 100 }, (_, i) => [
      fb(`ds-${i}`, `hist-ds-${i}`, DAILY_SALE, 'delivered'),
      ...(i % 2 === 0 ? [fb(`ds-${i}`, `hist-ds-${i}`, DAILY_SALE, 'opened')] : []),
      fb(`mb-${i}`, `hist-mb-${i}`, 'market-basket', 'delivered'),
      ...(i === 0 ? [fb(`mb-${i}`, `hist-mb-${i}`, 'market-basket', 'opened')] : []),
    ]).flat();
    await produce(pipeline.env.config, 'feedback', history);
    const { config } = pipeline.env;
    await waitFor(
      () => groupCaughtUp(config, `${config.KAFKA_GROUP_PREFIX}-feedback`, ['feedback']),
      'the feedback worker to learn the history',
    );
  });

  afterAll(async () => {
    await decisions?.stop();
    await pipeline?.stop();
  });

  afterEach(() => {
    const failed = expect.getState().assertionCalls !== expect.getState().numPassingAsserts;
    if (failed) process.stderr.write(pipeline.workers.logs());
  });

  it('keeps a weak real-time push from taking the window of the better daily sale to come', async () => {
    await produce(pipeline.env.config, 'purchases', [purchase(alice, 'groceries', { eventId: 'buy-a1' })]);
    await waitFor(() => logged().some((d) => d.userId === alice), 'the decision on alice’s real-time offer');
    await pipeline.probe.settle();
    const d = logged().find((m) => m.userId === alice)!;
    expect(d.outcome).toBe('suppressed');
    expect(d.reason).toBe(`waiting:${DAILY_SALE}`);
    expect(d.input.arms.map((a) => [a.strategy, a.anticipated === true])).toEqual([
      ['market-basket', false],
      [DAILY_SALE, true],
    ]);
    expect(pushes(alice)).toEqual([]);

    await startCampaign(pipeline.probe.queues, DAILY_SALE, Date.now(), 'UTC');
    await waitFor(
      () => pushes(alice).length > 0 && pushes(bob).length > 0,
      'the daily sale to alice and bob',
    );
    await pipeline.probe.settle();
    const [p] = pushes(alice);
    expect(pushes(alice)).toHaveLength(1);
    expect(p!.strategy).toBe(DAILY_SALE);
    // The push carries the decision: both offers weighed, the daily sale chosen, with its probability.
    const carried = pipeline.sent.messages.map((m) => m.value).find((m) => m.pushId === p!.pushId)!.decision!;
    expect(carried.input.arms.map((a) => a.strategy).sort()).toEqual([DAILY_SALE, 'market-basket'].sort());
    expect(carried.input.arms[carried.chosen]!.strategy).toBe(DAILY_SALE);
    expect(carried.probs[carried.chosen]).toBeGreaterThan(0.5);
  });

  it('never pushes a holdout user, and logs what they would have got', async () => {
    await waitFor(() => logged().some((d) => d.userId === held), 'the holdout decision');
    expect(pushes(held)).toEqual([]);
    const d = logged().find((m) => m.userId === held)!;
    expect(d.outcome).toBe('holdout');
    expect(d.input.arms[0]!.strategy).toBe(DAILY_SALE);
    expect(d.chosen).toBe(0);
  });
});

describe('conciliation on value: caps', () => {
  let pipeline: RunningPipeline;

  beforeAll(async () => {
    pipeline = await startPipeline(
      {
        CAP_DAY: '1',
        CAP_WEEK: '5',
        // A contact window of 12 s: the cap, not the window, must stop the second push of the day.
        CONTACT_WINDOW_HOURS: String(12 / 3600),
      },
      async (e) => {
        await produce(e.config, 'stores', [
          store('bakery-1', 'bakery'),
          store('wine-1', 'wine', { discount: 5 }),
          store('groceries-1', 'groceries'),
        ]);
        await produce(e.config, 'profiles', [profile('bob')]);
      },
    );
  });

  afterAll(() => pipeline?.stop());

  afterEach(() => {
    const failed = expect.getState().assertionCalls !== expect.getState().numPassingAsserts;
    if (failed) process.stderr.write(pipeline.workers.logs());
  });

  it('gives a capped user nothing and records the cap as the reason', async () => {
    const pushes = () => readSink(pipeline.env.sinkFile).filter((p) => p.userId === 'bob');
    await produce(pipeline.env.config, 'purchases', [purchase('bob', 'groceries', { eventId: 'buy-b0' })]);
    await waitFor(() => pushes().length === 1, 'bob’s first push of the day');
    // Past bob's 12-second window, still his local day: only the daily cap stands between him and a push.
    await new Promise((r) =>
      setTimeout(r, Math.max(0, Date.parse(pushes()[0]!.sentAt) + 13_000 - Date.now())),
    );
    await produce(pipeline.env.config, 'purchases', [purchase('bob', 'wine', { eventId: 'buy-b1' })]);
    const redis = createRedis(pipeline.env.config.REDIS_URL, 'conc-test');
    try {
      const state = createState(redis, pipeline.env.config.HERALD_PREFIX);
      await waitFor(
        async () => (await state.telemetry.drops()).some((d) => d.user === 'bob' && d.reason === 'cap_day'),
        'bob’s second offer dropped by the daily cap',
      );
      await pipeline.probe.settle();
      expect(pushes()).toHaveLength(1);
      expect((await pipeline.probe.counters()).drops.cap_day).toBe(1);
    } finally {
      await redis.quit();
    }
  });
});
