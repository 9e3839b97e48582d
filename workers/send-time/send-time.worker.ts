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
import { openFileSink } from '../../services/delivery/sink';
import { createSendTimeStage } from '../../services/pipeline/send-time';
import { boot, fatal } from '../boot';

async function main() {
  const rt = boot('send-time');
  const { config, logger, clock } = rt;
  const kafka = createKafka(config.KAFKA_BROKERS, 'herald-send-time', logger);
  const producer = await createProducer(kafka).catch((err: unknown) => fatal(logger, err));
  const delivery = startDelivery({
    state: rt.state,
    strategies: rt.strategies,
    sink: openFileSink(config.SINK_FILE, { console: config.SINK_CONSOLE }),
    producer,
    topicPrefix: config.KAFKA_TOPIC_PREFIX,
    clock,
    batchSize: config.BATCH_SIZE,
    pollMs: config.SEND_POLL_MS,
    leaseMs: config.SEND_LEASE_MS,
    logger,
    trace: rt.state.trace,
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
  logger.info({ mode: config.SEND_MODE, sink: config.SINK_FILE }, 'started');
}

void main();
