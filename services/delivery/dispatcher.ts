/**
 * The dispatcher delivers the users whose time has come, a batch per tick: it claims them from the due sets
 * (with a lease, so a process that dies mid-batch hands them on), reads each winner at delivery time (late
 * binding), re-checks that the user can still be reached, reserves the contact ledger, sends through the
 * sink, and confirms (which queues push.sent in the outbox).
 *
 * Exactly once holds at the ledger, not at the sink: a user is claimed by one delivery at a time, a push id
 * that was sent is never reserved again (for the push-record retention, longer than any replay), and a
 * reservation held by a live delivery is left alone. A push reserved by a process that died is resent as
 * it was (not re-decided). The one window left is a process dying after the sink accepted a batch and before
 * its confirm reached Redis: that batch is sent again once its lease runs out. See delivery.store.ts.
 */
import type { Clock } from '../../shared/clock';
import type { Logger } from '../../shared/logger';
import { PushSentV1, type PushSent } from '../../shared/schemas/events.schema';
import type { Winner } from '../../shared/schemas/jobs.schema';
import type { StrategyPlugin } from '../strategies';
import type { DropRecord, Reservation, State, UserState } from '../state';
import { dropReason } from '../pipeline/filter';
import type { PushSink } from './sink';

export interface DispatcherDeps {
  state: Pick<State, 'users' | 'decisions' | 'delivery' | 'telemetry'>;
  strategies: Map<string, StrategyPlugin>;
  sink: PushSink;
  clock: Clock;
  /** Users per tick. */
  batchSize: number;
  /** Real milliseconds a claimed batch stays leased to this process. Default 30000. */
  leaseRealMs?: number;
  logger: Logger;
}

export interface TickResult {
  /** Users claimed (0: nothing was due). */
  claimed: number;
  /** Pushes handed to the sink (new ones and ones resent after a crash). */
  sent: number;
}

const FeaturesOnPush = PushSentV1.shape.features.unwrap();

/** A recorded feature vector, or undefined when absent or not one (a push never fails for its log). */
function featuresOf(json: string | undefined): PushSent['features'] {
  if (!json) return undefined;
  try {
    const r = FeaturesOnPush.safeParse(JSON.parse(json));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Pure: the push each claimed user would get now (the winner at delivery time, rendered), or why not.
 * A user claimed twice counts once.
 */
export function planPushes(
  claimed: readonly string[],
  winners: ReadonlyMap<string, Winner>,
  users: ReadonlyMap<string, UserState>,
  strategies: ReadonlyMap<string, Pick<StrategyPlugin, 'render'>>,
  now: number,
  plans: ReadonlyMap<string, string> = new Map(),
  /** The feature vector (JSON { schema, values }) each user's winning candidate was scored with. */
  features: ReadonlyMap<string, string> = new Map(),
): { pushes: PushSent[]; drops: DropRecord[] } {
  const sentAt = new Date(now).toISOString();
  const pushes: PushSent[] = [];
  const drops: DropRecord[] = [];
  for (const userId of new Set(claimed)) {
    const w = winners.get(userId);
    if (!w) continue; // the window closed before delivery; nothing to send
    const user = users.get(userId);
    const reason =
      w.candidate.deadline !== undefined && w.candidate.deadline <= now ? 'expired' : dropReason(user, false);
    const strategy = strategies.get(w.strategy);
    if (reason || !user || !strategy) {
      drops.push({
        userId,
        reason: reason ?? 'unknown_strategy',
        strategy: w.strategy,
        targetId: w.targetId,
      });
      continue;
    }
    const r = strategy.render(w.candidate, user.locale);
    const plan = plans.get(userId);
    const f = featuresOf(features.get(userId));
    pushes.push({
      v: 1,
      pushId: w.decisionId,
      userId,
      strategy: w.strategy,
      targetId: w.targetId,
      candidate: { id: w.candidate.id, kind: w.candidate.kind, category: w.candidate.category },
      title: r.title,
      body: r.body,
      deepLink: r.deepLink,
      devices: user.devices,
      score: w.score,
      sentAt,
      ...(plan ? { timing: JSON.parse(plan) as PushSent['timing'] } : {}),
      ...(f ? { features: f } : {}),
    });
  }
  return { pushes, drops };
}

/**
 * Pure: what goes to the provider given the ledger's answers. A new reservation sends the push just
 * decided; a pending one (left by a dead delivery) resends the push reserved then, as it was; a push id
 * already sent, a window another push took, and a reservation a live delivery holds send nothing.
 */
export function toSend(planned: readonly PushSent[], reservations: readonly Reservation[]): PushSent[] {
  const out: PushSent[] = [];
  reservations.forEach((r, i) => {
    if (r.state === 'new') out.push(planned[i]!);
    else if (r.state === 'pending') out.push(PushSentV1.parse(JSON.parse(r.json)));
  });
  return out;
}

export function createDispatcher(deps: DispatcherDeps) {
  const { users, decisions, delivery, telemetry } = deps.state;
  const leaseMs = (deps.leaseRealMs ?? 30_000) * deps.clock.speed;

  /** Delivers one batch of due users. */
  async function tick(): Promise<TickResult> {
    const now = deps.clock.now();
    const leaseUntil = now + leaseMs;
    const ids = await delivery.claimDue(now, deps.batchSize, leaseUntil);
    if (ids.length === 0) return { claimed: 0, sent: 0 };
    const [winners, profiles, plans] = await Promise.all([
      decisions.getWinners(ids),
      users.getUsers(ids),
      delivery.plans(ids),
    ]);
    const features = await decisions.getFeatures(
      [...winners].map(([userId, w]) => ({ userId, candidateId: w.candidate.id })),
    );
    const { pushes, drops } = planPushes(ids, winners, profiles, deps.strategies, now, plans, features);
    const reservations = await delivery.reserveContacts(
      pushes.map((p) => ({ userId: p.userId, pushId: p.pushId, json: JSON.stringify(p) })),
      now,
      leaseUntil,
    );
    const out = toSend(pushes, reservations);
    await deps.sink.deliver(out);
    // Confirm at once: between the provider's accept and this round trip lies the one window in which a
    // crash resends the batch. Bookkeeping that can wait comes after.
    await delivery.confirmSent(
      out.map((p) => ({ userId: p.userId, pushId: p.pushId, strategy: p.strategy, json: JSON.stringify(p) })),
      ids,
    );
    await telemetry.recordDrops(drops);
    await decisions.dropWinners(
      pushes
        .filter((_, i) => reservations[i]?.state === 'sent')
        .map((p) => ({ userId: p.userId, decisionId: p.pushId })),
    );
    if (out.length > 0) deps.logger.debug({ sent: out.length, claimed: ids.length }, 'delivered');
    return { claimed: ids.length, sent: out.length };
  }

  return { tick };
}

export type Dispatcher = ReturnType<typeof createDispatcher>;
