/**
 * scheduler: fires each scheduled strategy's campaign ticks on Herald's clock (services/campaigns), and runs
 * the campaigns stage that turns a tick into its strategy's trigger. `--now` also starts every scheduled
 * campaign at once.
 */
import { startLoop } from '../../shared/loop';
import { basketRebuildRound } from '../../services/affinity/basket-miner';
import {
  createCampaignStage,
  createScheduler,
  lastTick,
  startCampaignsNow,
} from '../../services/campaigns/campaigns';
import { retrainRound, spawnTrainer } from '../../services/ranking/retrain';
import { spawnRecsTrainer } from '../../services/recs/train';
import { fatal } from '../boot';
import { stageMain } from '../stage-main';

const rt = stageMain('scheduler', 'campaigns', (r) => createCampaignStage({ strategies: r.strategies }));
const { config, logger, clock } = rt;
let scheduler: ReturnType<typeof createScheduler>;
try {
  scheduler = createScheduler({
    strategies: rt.strategies,
    schedule: rt.state.schedule,
    queues: rt.queues,
    now: () => clock.now(),
    catchupMs: config.CAMPAIGN_CATCHUP_MINUTES * 60_000,
    logger,
  });
} catch (err) {
  fatal(logger, err, 78);
}
const loop = startLoop({
  name: 'scheduler',
  round: scheduler.round,
  idleMs: config.SCHEDULER_POLL_MS,
  logger,
});
rt.closers.unshift(() => loop.stop());
// The mined market-basket table, rebuilt from the streamed counts every BASKET_REBUILD_MINUTES of the clock.
const basketLoop = startLoop({
  name: 'basket-rebuild',
  round: basketRebuildRound({
    basket: rt.state.basket,
    now: () => clock.now(),
    periodMs: config.BASKET_REBUILD_MINUTES * 60_000,
    build: { top: config.BASKET_TOP, windowDays: config.BASKET_WINDOW_DAYS },
  }),
  idleMs: config.SCHEDULER_POLL_MS,
  logger,
});
rt.closers.unshift(() => basketLoop.stop());
if (config.RETRAIN_CRON) {
  try {
    lastTick(config.RETRAIN_CRON, config.RETRAIN_TZ, clock.now());
  } catch (err) {
    fatal(logger, err, 78);
  }
  const retrain = startLoop({
    name: 'retrain',
    round: () =>
      retrainRound({
        cron: config.RETRAIN_CRON,
        tz: config.RETRAIN_TZ,
        now: () => clock.now(),
        catchupMs: config.CAMPAIGN_CATCHUP_MINUTES * 60_000,
        schedule: rt.state.schedule,
        run: spawnTrainer(config.MODEL_DIR),
        logger,
      }),
    idleMs: config.SCHEDULER_POLL_MS,
    logger,
  });
  rt.closers.unshift(() => retrain.stop());
}
// Product recommendations, trained on Spark by a child process on each tick of PRODUCT_RECS_TRAIN_CRON.
if (config.PRODUCT_RECS_TRAIN_CRON) {
  try {
    lastTick(config.PRODUCT_RECS_TRAIN_CRON, config.PRODUCT_RECS_TRAIN_TZ, clock.now());
  } catch (err) {
    fatal(logger, err, 78);
  }
  const recsTrain = startLoop({
    name: 'recs-train',
    round: () =>
      retrainRound({
        name: 'recs-train',
        what: 'the product recommendations',
        cron: config.PRODUCT_RECS_TRAIN_CRON,
        tz: config.PRODUCT_RECS_TRAIN_TZ,
        now: () => clock.now(),
        catchupMs: config.CAMPAIGN_CATCHUP_MINUTES * 60_000,
        schedule: rt.state.schedule,
        run: spawnRecsTrainer(),
        logger,
      }),
    idleMs: config.SCHEDULER_POLL_MS,
    logger,
  });
  rt.closers.unshift(() => recsTrain.stop());
}
logger.info({ campaigns: scheduler.scheduled }, 'schedule');
if (process.argv.includes('--now')) {
  void startCampaignsNow(rt.queues, rt.strategies, clock.now()).then(
    (ids) => logger.info({ ids }, 'campaigns started now'),
    (err: unknown) => logger.error({ err }, 'could not start the campaigns now'),
  );
}
