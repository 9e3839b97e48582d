/**
 * send-time: books winners into the due sets (a BullMQ stage) and, in the same process, runs delivery
 * (services/delivery/delivery.ts): due users to the sink, and the outbox to push.sent.
 */
import { deliveryWindows } from '../../shared/config';
import { createKafka, createProducer } from '../../shared/kafka/client';
import { dueGauges } from '../../shared/metrics';
import { onShutdown } from '../../shared/shutdown';
import { runStage } from '../../shared/stage';
import { startDelivery } from '../../services/delivery/delivery';
import { createRateLimiter, limitsFrom } from '../../services/delivery/limiter';
import { createRoutes, sendBudgetMs } from '../../services/delivery/providers';
import { createProviderSender } from '../../services/delivery/router';
import { openFileSink } from '../../services/delivery/sink';
import { loadTemplates, type Templates } from '../../services/delivery/templates';
import { ConfigError } from '../../shared/errors';
import { createSendTimeStage } from '../../services/pipeline/send-time';
import { conciliationSettings } from '../../services/conciliation/settings';
import { boot, fatal } from '../boot';

async function main() {
  const rt = boot('send-time');
  const { config, logger, clock } = rt;
  const kafka = createKafka(config.KAFKA_BROKERS, 'herald-send-time', logger);
  let routes: ReturnType<typeof createRoutes>;
  let templates: Templates | undefined;
  try {
    routes = createRoutes(config);
    if (config.TEMPLATES_FILE)
      templates = loadTemplates(config.TEMPLATES_FILE, new Set(rt.strategies.keys()));
  } catch (err) {
    fatal(logger, err, err instanceof ConfigError ? 78 : 1);
  }
  const producer = await createProducer(kafka).catch((err: unknown) => fatal(logger, err));
  // The caps of value conciliation, one set of rules for planning and for the moment of sending.
  const caps =
    config.CONCILIATION === 'value'
      ? {
          rules: conciliationSettings(config, rt.strategies).rules,
          contacts: (ids: readonly string[], now: number) => rt.state.conciliation.contacts(ids, now),
        }
      : undefined;
  const delivery = startDelivery({
    state: rt.state,
    strategies: rt.strategies,
    ...(routes
      ? {
          sender: createProviderSender({
            routes,
            concurrency: config.PUSH_CONCURRENCY,
            budgetMs: sendBudgetMs(config),
            limiter: createRateLimiter({
              store: rt.state.rateLimits,
              limits: limitsFrom(config.PUSH_RATE_LIMITS, config.PUSH_RATE_BURST_S),
              logger,
            }),
          }),
          retry: {
            maxAttempts: config.PUSH_MAX_ATTEMPTS,
            baseMs: config.PUSH_RETRY_BASE_MS,
            maxMs: config.PUSH_RETRY_MAX_MS,
          },
        }
      : { sink: openFileSink(config.SINK_FILE, { console: config.SINK_CONSOLE }) }),
    ...(templates ? { templates } : {}),
    producer,
    topicPrefix: config.KAFKA_TOPIC_PREFIX,
    clock,
    batchSize: config.BATCH_SIZE,
    pollMs: config.SEND_POLL_MS,
    leaseMs: config.SEND_LEASE_MS,
    logger,
    trace: rt.state.trace,
    // Predicted send times never go out in quiet hours, not even when delivery lags behind the plan.
    ...(config.SEND_MODE === 'predicted' ? { quiet: config.QUIET_HOURS } : {}),
    // Value conciliation's caps hold at the moment of sending too.
    ...(caps ? { caps } : {}),
  });
  const worker = runStage({
    stage: 'sendTime',
    connection: rt.redis,
    queues: rt.queues,
    prefix: config.HERALD_PREFIX,
    handle: createSendTimeStage({
      onBooked: () => delivery.wake(),
      trace: rt.state.trace,
      state: rt.state,
      now: () => clock.now(),
      mode: config.SEND_MODE,
      localHour: config.SEND_LOCAL_HOUR,
      predicted: {
        quiet: config.QUIET_HOURS,
        explore: config.SEND_EXPLORE,
        waitMargin: config.SEND_WAIT_MARGIN,
        halfLifeDays: config.ENGAGEMENT_HALF_LIFE_DAYS,
        priorStrength: config.ENGAGEMENT_PRIOR_STRENGTH,
        contactWindowMs: deliveryWindows(config).contactWindowMs,
      },
      ...(caps ? { caps } : {}),
    }),
    logger,
    concurrency: config.STAGE_CONCURRENCY,
    lockMs: config.STAGE_LOCK_MS,
  });
  dueGauges(() => rt.state.delivery.dueStats(clock.now()));
  onShutdown(logger, [
    () => worker.close(),
    () => delivery.stop(),
    () => producer.disconnect(),
    () => rt.close(),
  ]);
  logger.info(
    {
      mode: config.SEND_MODE,
      ...(routes
        ? { providers: { android: config.PUSH_ANDROID, ios: config.PUSH_IOS, web: config.PUSH_WEB } }
        : { sink: config.SINK_FILE }),
    },
    'started',
  );
}

void main();
