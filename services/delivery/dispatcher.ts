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
 *
 * With providers (a sender instead of the sink), each push settles device by device (outcomes.ts): delivered
 * pushes are confirmed as above, with their receipts; a push that waits for a retry stays reserved in the
 * ledger with its receipts (only the devices still waiting are sent to next time) and its user is booked
 * again; a push no device accepted is dead-lettered through the outbox; dead tokens leave the user's devices.
 */
import type { Clock } from '../../shared/clock';
import type { Logger } from '../../shared/logger';
import { metrics } from '../../shared/metrics';
import { PushSentV1, type PushSent } from '../../shared/schemas/events.schema';
import type { Winner } from '../../shared/schemas/jobs.schema';
import type { StrategyPlugin } from '../strategies';
import type { DropRecord, Reservation, State, Tracer, TraceInput, UserState } from '../state';
import { dropReason } from '../pipeline/filter';
import { localHour } from '../timing/engagement';
import { isQuiet, slots, type QuietHours } from '../timing/plan';
import { capReason, type CapsCheck, type Contact, type ContactRules } from '../conciliation/contact-rules';
import type { PushSink } from './sink';
import { settle, type RetryPolicy } from './outcomes';
import type { PushSender } from './router';
import type { RenderedPush, Templates } from './templates';

export interface DispatcherDeps {
  state: Pick<State, 'users' | 'decisions' | 'delivery' | 'telemetry'>;
  strategies: Map<string, StrategyPlugin>;
  /** Where pushes go when no providers are configured: the whole push, accepted or thrown. */
  sink?: PushSink;
  /** The providers, device by device, with receipts, retries and dead tokens. Takes precedence over `sink`. */
  sender?: PushSender;
  /** Retries of a push whose devices answered 5xx, timed out or were throttled. */
  retry?: RetryPolicy;
  /** Jitter's source. Default Math.random. */
  random?: () => number;
  /** Templates per strategy and locale (checked at start); without, each strategy's own render. */
  templates?: Templates;
  clock: Clock;
  /** Users per tick. */
  batchSize: number;
  /** Real milliseconds a claimed batch stays leased to this process. Default 30000. */
  leaseRealMs?: number;
  logger: Logger;
  /** Records each traced user's delivery (sent, withdrawn, dropped) for `explain`. */
  trace?: Tracer;
  /**
   * Quiet hours (SEND_MODE=predicted): a push that comes due in them (a delivery that lagged past the
   * planned minute) waits for them to end, or is dropped when its candidate ends first.
   */
  quiet?: QuietHours;
  /**
   * The caps (services/conciliation/contact-rules.ts), checked again at the moment of sending: a push that
   * would break one (a race with another delivery) is dropped with the cap as its reason.
   */
  caps?: CapsCheck;
}

/** Pure: the pushes split into those no cap refuses and the drops of those one does. */
export function holdCapped(
  pushes: readonly PushSent[],
  users: ReadonlyMap<string, UserState>,
  contacts: ReadonlyMap<string, readonly Contact[]>,
  now: number,
  rules: Pick<ContactRules, 'all' | 'strategy'>,
): { now: PushSent[]; drops: DropRecord[] } {
  const out = { now: [] as PushSent[], drops: [] as DropRecord[] };
  for (const p of pushes) {
    const tz = users.get(p.userId)?.timeZone ?? 'UTC';
    const why = capReason(contacts.get(p.userId) ?? [], p.strategy, now, tz, rules);
    if (why) out.drops.push({ userId: p.userId, reason: why, strategy: p.strategy, targetId: p.targetId });
    else out.now.push(p);
  }
  return out;
}

export interface TickResult {
  /** Users claimed (0: nothing was due). */
  claimed: number;
  /** Pushes delivered (new ones and ones resent after a crash or a retry). */
  sent: number;
  /** Pushes that wait for another attempt. */
  retried?: number;
  /** Pushes dead-lettered: no device accepted them. */
  dead?: number;
}

/** Default retries: 6 sends per device, backoff from 1 s doubling to at most 5 min. */
export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 6, baseMs: 1000, maxMs: 300_000 };

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
  strategies: ReadonlyMap<string, Pick<StrategyPlugin, 'render' | 'needsLocationOptIn'>>,
  now: number,
  plans: ReadonlyMap<string, string> = new Map(),
  templates?: Templates,
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
    const strategy = strategies.get(w.strategy);
    // Re-checked at delivery: an opt-out (push or location) that arrived after filter still holds.
    const reason =
      w.candidate.deadline !== undefined && w.candidate.deadline <= now
        ? 'expired'
        : dropReason(user, false, strategy?.needsLocationOptIn === true);
    if (reason || !user || !strategy) {
      drops.push({
        userId,
        reason: reason ?? 'unknown_strategy',
        strategy: w.strategy,
        targetId: w.targetId,
      });
      continue;
    }
    const r: RenderedPush = templates
      ? templates.render(w.strategy, strategy, w.candidate, user)
      : strategy.render(w.candidate, user.locale);
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
      ...(r.image ? { image: r.image } : {}),
      devices: user.devices,
      score: w.score,
      sentAt,
      ...(plan ? { timing: JSON.parse(plan) as PushSent['timing'] } : {}),
      ...(f ? { features: f } : {}),
      ...(w.decision ? { decision: w.decision } : {}),
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

const WITHDRAWN: Record<string, string> = {
  sent: 'this push id was already sent (a replay or a duplicate decided it again)',
  taken: 'another push took the contact window',
  busy: 'a live delivery holds this user',
};

/** Pure: the trace entries of one delivery batch, for users traced in their winner's lane. */
export function deliveryTrace(
  tracer: Pick<Tracer, 'traced'>,
  winners: ReadonlyMap<string, Winner>,
  pushes: readonly PushSent[],
  reservations: readonly Reservation[],
  out: readonly PushSent[],
  drops: readonly DropRecord[],
): Array<{ userId: string; entry: TraceInput }> {
  const traced = (userId: string) => tracer.traced(userId, winners.get(userId)?.lane ?? 'bulk');
  const entries: Array<{ userId: string; entry: TraceInput }> = [];
  for (const p of out) {
    if (!traced(p.userId)) continue;
    entries.push({
      userId: p.userId,
      entry: {
        stage: 'delivery',
        what: 'sent',
        strategy: p.strategy,
        targetId: p.targetId,
        detail: { pushId: p.pushId, candidate: `${p.candidate.kind}:${p.candidate.id}`, title: p.title },
      },
    });
  }
  pushes.forEach((p, i) => {
    const state = reservations[i]?.state;
    if (!state || state === 'new' || state === 'pending' || !traced(p.userId)) return;
    entries.push({
      userId: p.userId,
      entry: {
        stage: 'delivery',
        what: state === 'busy' ? 'deferred' : 'withdrawn',
        strategy: p.strategy,
        targetId: p.targetId,
        detail: { pushId: p.pushId, why: WITHDRAWN[state] ?? state },
      },
    });
  });
  for (const d of drops) {
    if (!traced(d.userId)) continue;
    entries.push({
      userId: d.userId,
      entry: {
        stage: 'delivery',
        what: 'dropped',
        strategy: d.strategy,
        targetId: d.targetId,
        detail: { reason: d.reason },
      },
    });
  }
  return entries;
}

/**
 * Pure: the planned pushes split into those that go now, those that wait for the end of the user's quiet
 * hours (when it comes before the candidate's end), and those dropped because it does not.
 */
export function holdQuiet(
  pushes: readonly PushSent[],
  users: ReadonlyMap<string, UserState>,
  winners: ReadonlyMap<string, Winner>,
  now: number,
  quiet: QuietHours,
): { now: PushSent[]; later: Array<{ userId: string; at: number }>; drops: DropRecord[] } {
  const out = {
    now: [] as PushSent[],
    later: [] as Array<{ userId: string; at: number }>,
    drops: [] as DropRecord[],
  };
  for (const p of pushes) {
    const tz = users.get(p.userId)?.timeZone;
    if (!tz || !isQuiet(localHour(now, tz), quiet)) {
      out.now.push(p);
      continue;
    }
    const deadline = winners.get(p.userId)?.candidate.deadline ?? now + 86_400_000;
    const next = slots(now, tz, deadline, quiet)[0];
    if (next) out.later.push({ userId: p.userId, at: next.start });
    else
      out.drops.push({ userId: p.userId, reason: 'quiet_hours', strategy: p.strategy, targetId: p.targetId });
  }
  return out;
}

export function createDispatcher(deps: DispatcherDeps) {
  const { users, decisions, delivery, telemetry } = deps.state;
  const leaseMs = (deps.leaseRealMs ?? 30_000) * deps.clock.speed;
  const policy = deps.retry ?? DEFAULT_RETRY;
  const random = deps.random ?? Math.random;
  const sink = deps.sink;
  if (!deps.sender && !sink) throw new Error('createDispatcher: give a sink or a sender');

  /**
   * Sends through the providers and settles each push: delivered, retried later (booked again, its
   * receipts kept in the ledger) or dead-lettered; dead tokens leave their users' devices. Retries and dead
   * letters are written before the caller's confirm takes the users out of inflight.
   */
  async function viaProviders(sender: PushSender, out: readonly PushSent[]) {
    const answers = await sender.send(out);
    const now = deps.clock.now();
    const delivered: PushSent[] = [];
    const retries: Array<{ userId: string; pushId: string; json: string; retryAt: number }> = [];
    const dead: Array<{ userId: string; pushId: string; json: string; reason: string }> = [];
    const deadTokens: Array<{ userId: string; token: string }> = [];
    out.forEach((p, i) => {
      const { verdict: v, deadTokens: dt } = settle(p, answers[i] ?? [], policy, random);
      for (const d of dt) deadTokens.push({ userId: p.userId, token: d.token });
      const json = JSON.stringify(v.push);
      if (v.kind === 'delivered') delivered.push(v.push);
      else if (v.kind === 'retry')
        retries.push({
          userId: p.userId,
          pushId: p.pushId,
          json,
          retryAt: now + Math.max(1, v.afterMs) * deps.clock.speed,
        });
      else dead.push({ userId: p.userId, pushId: p.pushId, json, reason: v.reason });
    });
    await delivery.retryLater(retries);
    await delivery.deadLetter(dead);
    if (dead.length > 0)
      deps.logger.warn(
        { dead: dead.map((d) => ({ pushId: d.pushId, reason: d.reason })) },
        'pushes dead-lettered',
      );
    return { delivered, retries, dead, deadTokens };
  }

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
    const { pushes: planned, drops } = planPushes(
      ids,
      winners,
      profiles,
      deps.strategies,
      now,
      plans,
      deps.templates,
      features,
    );
    // A lagging delivery never sends into quiet hours: those pushes wait for them to end (or drop).
    const held = deps.quiet ? holdQuiet(planned, profiles, winners, now, deps.quiet) : undefined;
    let pushes = held ? held.now : planned;
    if (held) {
      drops.push(...held.drops);
      await delivery.rebook(held.later);
    }
    if (deps.caps && pushes.length > 0) {
      const history = await deps.caps.contacts(
        pushes.map((p) => p.userId),
        now,
      );
      const capped = holdCapped(pushes, profiles, history, now, deps.caps.rules);
      pushes = capped.now;
      drops.push(...capped.drops);
    }
    const reservations = await delivery.reserveContacts(
      pushes.map((p) => ({ userId: p.userId, pushId: p.pushId, json: JSON.stringify(p) })),
      now,
      leaseUntil,
    );
    const out = toSend(pushes, reservations);
    let settled: Awaited<ReturnType<typeof viaProviders>> | undefined;
    if (deps.sender) settled = await viaProviders(deps.sender, out);
    else await sink!.deliver(out);
    const delivered = settled?.delivered ?? out;
    // Confirm at once: between the provider's accept and this round trip lies the one window in which a
    // crash resends the batch. Bookkeeping that can wait comes after.
    await delivery.confirmSent(
      delivered.map((p) => ({
        userId: p.userId,
        pushId: p.pushId,
        strategy: p.strategy,
        json: JSON.stringify(p),
      })),
      ids,
    );
    for (const p of delivered) metrics.pushes.inc({ strategy: p.strategy });
    // A user whose reservation a retry (or a live delivery) holds comes back when it lapses.
    await delivery.rebook(
      pushes.flatMap((p, i) => {
        const r = reservations[i];
        return r?.state === 'busy' ? [{ userId: p.userId, at: r.until }] : [];
      }),
    );
    if (settled && settled.deadTokens.length > 0) {
      const removed = await users.removeTokens(settled.deadTokens);
      deps.logger.info({ removed }, 'removed device tokens the providers called dead');
    }
    await telemetry.recordDrops(drops);
    await decisions.dropWinners([
      ...pushes
        .filter((_, i) => reservations[i]?.state === 'sent')
        .map((p) => ({ userId: p.userId, decisionId: p.pushId })),
      ...(settled?.dead ?? []).map((d) => ({ userId: d.userId, decisionId: d.pushId })),
    ]);
    if (deps.trace)
      await deps.trace.record(deliveryTrace(deps.trace, winners, pushes, reservations, delivered, drops));
    if (out.length > 0)
      deps.logger.debug(
        {
          sent: delivered.length,
          retried: settled?.retries.length,
          dead: settled?.dead.length,
          claimed: ids.length,
        },
        'delivered',
      );
    return {
      claimed: ids.length,
      sent: delivered.length,
      ...(settled ? { retried: settled.retries.length, dead: settled.dead.length } : {}),
    };
  }

  return { tick };
}

export type Dispatcher = ReturnType<typeof createDispatcher>;
