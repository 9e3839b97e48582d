/** ops: the operator API (services/ops/http) as its own process, on OPS_HOST:OPS_PORT. */
import { Redis } from 'ioredis';
import { systemClock } from '../../shared/clock';
import { startLoop } from '../../shared/loop';
import { closeQueues, createQueues } from '../../shared/queue-factory';
import { onShutdown } from '../../shared/shutdown';
import { createAuditLog } from '../../services/ops/audit';
import { bootOpsConfig } from '../../services/ops/config';
import { queueBoard } from '../../services/ops/dashboard/queue-board';
import { createFigures } from '../../services/ops/figures';
import { buildServer } from '../../services/ops/http/server';
import { createOpsMetrics } from '../../services/ops/metrics';
import { createRateLimiter } from '../../services/ops/rate-limit';
import { createOpsService } from '../../services/ops/service';
import { createTokenStore } from '../../services/ops/tokens';
import { boot, fatal } from '../boot';

async function main() {
  const opsConfig = bootOpsConfig();
  // The operator API serves its /metrics behind its own auth, not on a worker's METRICS_PORT.
  const rt = boot('ops', { metrics: false });
  const { config, logger, clock } = rt;
  const prefix = config.HERALD_PREFIX;
  // The API's own connection fails a command after a short retry instead of queueing it until Redis is
  // back, so a request answers 500 rather than hanging while Redis is away.
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 2, connectionName: 'herald-ops-api' });
  redis.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
  const ops = createOpsService({
    config,
    logger,
    clock,
    redis: rt.redis,
    // The process's own queues and stores: the service builds no second set.
    queues: rt.queues,
    state: rt.state,
    maxReplay: opsConfig.OPS_MAX_REPLAY,
  });
  // The figures and bull-board read the queues and counters on the workers' connection.
  const queues = createQueues(rt.redis, prefix, logger);
  const figures = createFigures({ redis: rt.redis, queues, config, clock });
  const sampler =
    opsConfig.OPS_SAMPLE_MS > 0
      ? startLoop({
          name: 'figures sampler',
          round: async () => {
            await figures.sample();
            return 0;
          },
          idleMs: opsConfig.OPS_SAMPLE_MS,
          logger,
        })
      : undefined;
  const app = buildServer({
    ops,
    tokens: createTokenStore({ redis, prefix, clock, bootstrapToken: opsConfig.HERALD_OPS_BOOTSTRAP_TOKEN }),
    audit: createAuditLog({ redis, prefix, clock }),
    // The rate limit protects the running system from calls in real time, also under the simulator's
    // accelerated clock, whose minute would be a few real milliseconds.
    limiter: createRateLimiter({
      redis,
      prefix,
      clock: systemClock,
      limit: opsConfig.OPS_RATE_LIMIT,
      windowMs: opsConfig.OPS_RATE_WINDOW_MS,
    }),
    logger,
    metrics: createOpsMetrics(figures),
    dashboard: { figures, queueBoard: queueBoard(Object.values(queues)) },
  });
  onShutdown(logger, [
    () => app.close(),
    async () => sampler?.stop(),
    () => figures.close(),
    () => closeQueues(queues),
    () => ops.close(),
    () => redis.quit(),
    () => rt.close(),
  ]);
  const address = await app
    .listen({ port: opsConfig.OPS_PORT, host: opsConfig.OPS_HOST })
    .catch((err: unknown) => fatal(logger, err));
  logger.info(
    { address, bootstrap: opsConfig.HERALD_OPS_BOOTSTRAP_TOKEN !== undefined },
    'operator API listening',
  );
}

void main();
