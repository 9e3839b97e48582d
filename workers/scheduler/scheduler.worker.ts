/**
 * scheduler: owns the campaign schedule (a BullMQ job scheduler on the campaigns queue) and turns each
 * tick into the day's trigger. `--now` also starts today's campaign at once.
 */
import { Worker } from 'bullmq';
import { bullPrefix, queueName } from '../../shared/queue';
import { onShutdown } from '../../shared/shutdown';
import { validatePayload } from '../../shared/queue';
import { scheduleDailySale, startDailySale } from '../../services/campaigns/campaigns';
import { boot, fatal } from '../boot';

async function main() {
  const rt = boot('scheduler');
  const { config, logger, clock, queues } = rt;
  await scheduleDailySale(queues.campaigns, config.DAILY_SALE_CRON, config.DAILY_SALE_TZ).catch(
    (err: unknown) => fatal(logger, err),
  );
  const worker = new Worker(
    queueName('campaigns'),
    async (job) => {
      const { tz } = validatePayload('campaigns', job.data, `job campaigns/${job.id}`);
      const triggerId = await startDailySale(queues, clock, tz);
      logger.info({ triggerId }, 'campaign started');
      return { triggerId };
    },
    { connection: rt.redis, prefix: bullPrefix(config.HERALD_PREFIX), concurrency: 1 },
  );
  worker.on('error', (err) => logger.error({ err }, 'worker error'));
  if (process.argv.includes('--now')) {
    logger.info(
      { triggerId: await startDailySale(queues, clock, config.DAILY_SALE_TZ) },
      'campaign started now',
    );
  }
  onShutdown(logger, [() => worker.close(), () => rt.close()]);
  logger.info({ cron: config.DAILY_SALE_CRON, tz: config.DAILY_SALE_TZ }, 'started');
}

void main();
