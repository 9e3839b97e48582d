/**
 * Delivery as the send-time process runs it: the dispatcher loop (due users -> sink -> outbox) and the
 * outbox publisher loop (outbox -> push.sent on Kafka), side by side. Delivery does not wait on Kafka: a
 * broker outage holds push.sent back in the outbox, and it flows again within seconds of the broker's return.
 */
import type { Producer } from 'kafkajs';
import { startLoop } from '../../shared/loop';
import type { DeadLetter, Decision, PushSent } from '../../shared/schemas/events.schema';
import { topicName } from '../../shared/topics';
import { createDispatcher, type DispatcherDeps } from './dispatcher';
import { createOutboxPublisher } from './outbox';

export interface DeliveryOptions extends Omit<DispatcherDeps, 'leaseRealMs'> {
  producer: Producer;
  topicPrefix: string;
  /** Real ms between looks for due users when none were due. */
  pollMs: number;
  /** Real ms a claimed batch (and an unacknowledged outbox entry) stays with this process. */
  leaseMs: number;
}

/** Publishes pushes on push.sent, keyed by user, with the push id in a header for readers that dedupe. */
export function pushSentPublisher(producer: Producer, topicPrefix: string) {
  const topic = topicName(topicPrefix, 'pushSent');
  return async (pushes: readonly PushSent[]): Promise<void> => {
    await producer.send({
      topic,
      acks: -1,
      messages: pushes.map((p) => ({
        key: p.userId,
        value: JSON.stringify(p),
        headers: { pushId: p.pushId },
      })),
    });
  };
}

/** Publishes logged decisions on push.decisions, keyed by user. */
export function decisionPublisher(producer: Producer, topicPrefix: string) {
  const topic = topicName(topicPrefix, 'decisions');
  return async (decisions: readonly Decision[]): Promise<void> => {
    await producer.send({
      topic,
      acks: -1,
      messages: decisions.map((d) => ({ key: d.userId, value: JSON.stringify(d) })),
    });
  };
}

/**
 * Publishes dead pushes on the dead-letter topic. Their source is `<prefix>push.delivery`, a name no topic
 * has: the operators' re-drive refuses it (re-sending a push is a decision, not a replay), while listing and
 * showing work as for any letter.
 */
export function deadPushPublisher(producer: Producer, topicPrefix: string, now: () => number) {
  const topic = topicName(topicPrefix, 'deadLetters');
  return async (dead: ReadonlyArray<{ push: PushSent; reason: string }>): Promise<void> => {
    const at = new Date(now()).toISOString();
    await producer.send({
      topic,
      acks: -1,
      messages: dead.map(({ push, reason }) => {
        const letter: DeadLetter = {
          v: 1,
          reason: `push ${push.pushId} not delivered: ${reason}`,
          source: { topic: `${topicPrefix}push.delivery`, partition: -1, offset: '-1' },
          key: Buffer.from(push.userId).toString('base64'),
          value: Buffer.from(JSON.stringify(push)).toString('base64'),
          worker: 'send-time',
          at,
        };
        return {
          key: `push-${push.pushId}`,
          value: JSON.stringify(letter),
          headers: { pushId: push.pushId },
        };
      }),
    });
  };
}

export function startDelivery(o: DeliveryOptions) {
  const dispatcher = createDispatcher({
    state: o.state,
    strategies: o.strategies,
    ...(o.sink ? { sink: o.sink } : {}),
    ...(o.sender ? { sender: o.sender } : {}),
    ...(o.retry ? { retry: o.retry } : {}),
    ...(o.templates ? { templates: o.templates } : {}),
    clock: o.clock,
    batchSize: o.batchSize,
    leaseRealMs: o.leaseMs,
    logger: o.logger,
    ...(o.trace ? { trace: o.trace } : {}),
    ...(o.quiet ? { quiet: o.quiet } : {}),
    ...(o.caps ? { caps: o.caps } : {}),
  });
  const outbox = createOutboxPublisher({
    delivery: o.state.delivery,
    publish: pushSentPublisher(o.producer, o.topicPrefix),
    publishDead: deadPushPublisher(o.producer, o.topicPrefix, () => o.clock.now()),
    publishDecisions: decisionPublisher(o.producer, o.topicPrefix),
    batchSize: o.batchSize,
    staleMs: o.leaseMs,
    logger: o.logger,
  });
  const publishing = startLoop({
    name: 'push.sent publisher',
    round: outbox.round,
    idleMs: o.pollMs,
    logger: o.logger,
  });
  const delivering = startLoop({
    name: 'delivery',
    round: async () => {
      const r = await dispatcher.tick();
      if (r.sent > 0 || (r.dead ?? 0) > 0) publishing.wake();
      return r.claimed;
    },
    idleMs: o.pollMs,
    logger: o.logger,
  });
  void outbox.tidy().catch((err: unknown) => o.logger.warn({ err }, 'could not tidy outbox publishers'));
  return {
    /** Work was booked: look for due users now. */
    wake: () => delivering.wake(),
    /** Stops delivering, then publishes what is left (while Kafka answers) and stops publishing. */
    async stop(): Promise<void> {
      await delivering.stop();
      await publishing.stop();
      await o.sender?.close();
      // What delivery confirmed last goes out now if Kafka answers; what stays is taken over by another
      // publisher (or this one's successor) after the lease.
      for (let rounds = 0; rounds < 20; rounds++) {
        if ((await outbox.round().catch(() => 0)) === 0) break;
      }
    },
  };
}
