/**
 * The dispatcher delivers the users whose time has come, a batch per tick: it claims them from the due set
 * (with a lease, so a process that dies mid-batch hands them on), reads each winner at delivery time (late
 * binding), re-checks that the user can still be reached, reserves the contact ledger atomically, sends
 * through the sink, publishes push.sent and confirms.
 *
 * Exactly once: the ledger admits one push id per user per window, and a push reserved before a crash is
 * resent as it was (not re-decided), which the sink drops if it already went out. push.sent is
 * at-least-once across a crash between publishing and confirming; its key and pushId let readers dedupe.
 */
import type { Clock } from '../../shared/clock';
import type { Logger } from '../../shared/logger';
import { PushSentV1, type PushSent } from '../../shared/schemas/events.schema';
import type { StrategyPlugin } from '../strategies';
import type { StateStore } from '../state/state-store';
import { dropReason } from '../pipeline/filter';
import type { PushSink } from './sink';

export interface DispatcherDeps {
  store: Pick<
    StateStore,
    'claimDue' | 'getWinners' | 'getUsers' | 'reserveContacts' | 'confirmSent' | 'recordDrops'
  >;
  strategies: Map<string, StrategyPlugin>;
  sink: PushSink;
  publish: (pushes: readonly PushSent[]) => Promise<void>;
  clock: Clock;
  /** The contact window as a Redis TTL (real ms: see ttlMs). */
  contactWindowMs: number;
  /** Users per tick. */
  batchSize: number;
  /** Real milliseconds a claimed batch stays leased to this process. Default 30000. */
  leaseRealMs?: number;
  logger: Logger;
}

export function createDispatcher(deps: DispatcherDeps) {
  const leaseMs = (deps.leaseRealMs ?? 30_000) * deps.clock.speed;

  /** Delivers one batch of due users; returns how many users it handled (0: nothing was due). */
  async function tick(): Promise<number> {
    const now = deps.clock.now();
    const ids = await deps.store.claimDue(now, deps.batchSize, now + leaseMs);
    if (ids.length === 0) return 0;
    const [winners, users] = await Promise.all([deps.store.getWinners(ids), deps.store.getUsers(ids)]);
    const sentAt = new Date(now).toISOString();
    const candidates: PushSent[] = [];
    const drops: Array<{ userId: string; reason: string; strategy: string; targetId: string }> = [];
    for (const userId of ids) {
      const w = winners.get(userId);
      if (!w) continue; // the window closed before delivery; nothing to send
      const user = users.get(userId);
      const reason =
        w.candidate.deadline !== undefined && w.candidate.deadline <= now
          ? 'expired'
          : dropReason(user, false);
      const strategy = deps.strategies.get(w.strategy);
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
      candidates.push({
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
      });
    }
    const states = await deps.store.reserveContacts(
      candidates.map((p) => ({ userId: p.userId, json: JSON.stringify(p) })),
      deps.contactWindowMs,
    );
    const toSend: PushSent[] = [];
    states.forEach((s, i) => {
      if (s.state === 'new') toSend.push(candidates[i]!);
      else if (s.state === 'pending') toSend.push(PushSentV1.parse(JSON.parse(s.json)));
    });
    if (toSend.length > 0) {
      await deps.sink.deliver(toSend);
      await deps.publish(toSend);
    }
    await deps.store.recordDrops(drops);
    await deps.store.confirmSent(toSend, ids);
    if (toSend.length > 0) deps.logger.debug({ sent: toSend.length, claimed: ids.length }, 'delivered');
    return ids.length;
  }

  return { tick };
}
