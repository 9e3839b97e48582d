/**
 * The push.sent publisher: drains the outbox that delivery confirms into (services/state/delivery.store.ts)
 * to Kafka (with the decisions conciliation logs, to push.decisions), so delivery never waits on the broker. An entry leaves the outbox only after Kafka acknowledged
 * it (acks=all); entries left by a publisher that died are taken over after `staleMs`. push.sent is
 * therefore at-least-once: a publisher that dies between Kafka's ack and its own may publish an entry again,
 * and readers dedupe by pushId. Pushes that no device accepted go to the dead-letter topic instead, with
 * their reason.
 */
import { hostname } from 'node:os';
import type { Logger } from '../../shared/logger';
import { DecisionV1, PushSentV1, type Decision, type PushSent } from '../../shared/schemas/events.schema';
import type { DeliveryStore } from '../state';

export interface OutboxPublisherDeps {
  delivery: Pick<DeliveryStore, 'readOutbox' | 'ackOutbox' | 'forgetIdlePublishers'>;
  publish: (pushes: readonly PushSent[]) => Promise<void>;
  /** Publishes pushes no device accepted, with the reason, as dead letters. */
  publishDead?: (dead: ReadonlyArray<{ push: PushSent; reason: string }>) => Promise<void>;
  /** Publishes logged conciliation decisions that sent nothing on push.decisions. */
  publishDecisions?: (decisions: readonly Decision[]) => Promise<void>;
  /** Entries per round. */
  batchSize: number;
  /** Real ms after which another publisher's unacknowledged entries are taken over. Default 30000. */
  staleMs?: number;
  logger: Logger;
  /** This publisher's name in the consumer group. Default host-pid. */
  consumer?: string;
}

function parseDecision(json: string): { ok: true; decision: Decision } | { ok: false; error: string } {
  try {
    const r = DecisionV1.safeParse(JSON.parse(json));
    return r.success
      ? { ok: true, decision: r.data }
      : { ok: false, error: r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') };
  } catch (err) {
    return { ok: false, error: String(err) };
  }
}

export function createOutboxPublisher(deps: OutboxPublisherDeps) {
  const consumer = deps.consumer ?? `${hostname()}-${process.pid}`;
  const staleMs = deps.staleMs ?? 30_000;
  return {
    /** Publishes one batch of the outbox; returns how many entries it published. */
    round: async (): Promise<number> => {
      const entries = await deps.delivery.readOutbox(consumer, deps.batchSize, staleMs);
      if (entries.length === 0) return 0;
      const sent = entries.filter((e) => e.dead === undefined && !e.decision);
      const dead = entries.filter((e) => e.dead !== undefined);
      // A decision record is the log of a choice, not a push: one that does not parse is reported and
      // left behind, never allowed to hold up the pushes behind it.
      const decisions: Decision[] = [];
      for (const e of entries.filter((x) => x.decision)) {
        const r = parseDecision(e.json);
        if (r.ok) decisions.push(r.decision);
        else
          deps.logger.error({ entry: e.id, err: r.error }, 'outbox: a logged decision is malformed; skipped');
      }
      if (decisions.length > 0) {
        if (!deps.publishDecisions) throw new Error('the outbox holds decisions and no decision publisher');
        await deps.publishDecisions(decisions);
      }
      if (sent.length > 0) await deps.publish(sent.map((e) => PushSentV1.parse(JSON.parse(e.json))));
      if (dead.length > 0) {
        if (!deps.publishDead) throw new Error('the outbox holds dead pushes and no dead-letter publisher');
        await deps.publishDead(
          dead.map((e) => ({ push: PushSentV1.parse(JSON.parse(e.json)), reason: e.dead ?? 'dead' })),
        );
      }
      await deps.delivery.ackOutbox(entries.map((e) => e.id));
      return entries.length;
    },
    /** Forgets publishers of processes that are gone (idle a day, holding nothing). */
    async tidy(): Promise<void> {
      const n = await deps.delivery.forgetIdlePublishers(86_400_000);
      if (n > 0) deps.logger.info({ removed: n }, 'forgot idle outbox publishers');
    },
  };
}
