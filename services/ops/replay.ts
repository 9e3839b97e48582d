/**
 * What a replay of failed jobs would do, judged under today's rules before anything moves: which users each
 * job concerns, and for each whether they would get a push now (or after their quiet hours), or why not:
 * no profile, opted out, no device, the candidates expired, this very push already went out, or the contact
 * window is taken. The replay itself puts the job back on its queue, where it runs through every stage
 * again: filter re-checks, and the contact ledger admits at most one push per user per window and never a
 * push id that was sent. The judgement is the operator's preview; the ledger is the guarantee.
 */
import type { Candidate, Winner } from '../../shared/schemas/jobs.schema';
import type { QueueKey } from '../../shared/queue-catalog';
import { validatePayload } from '../../shared/queue-factory';
import { dropReason } from '../pipeline/filter';
import { decisionId } from '../pipeline/conciliate';
import type { UserState } from '../state';
import { slots, type QuietHours } from '../timing/plan';
import type { ReplayDrop } from './api';

/** One user a job concerns, with the candidates it offers them (unknown before target runs). */
export interface JobUser {
  userId: string;
  strategy?: string;
  targetId?: string;
  candidates?: readonly Candidate[];
}

export interface JobUsers {
  users: JobUser[];
  strategies: string[];
  /** Set when the job's users are not known before it runs (a campaign page, a campaign tick). */
  note?: string;
}

/** Pure: the users a failed job concerns, read from its payload. A payload that fails its schema throws. */
export function usersOfJob(queue: QueueKey, data: unknown, where: string): JobUsers {
  const strategies = new Set<string>();
  const users: JobUser[] = [];
  const notes: string[] = [];
  switch (queue) {
    case 'target': {
      for (const t of validatePayload('target', data, where).triggers) {
        strategies.add(t.strategy);
        if (t.userId) users.push({ userId: t.userId, strategy: t.strategy, targetId: t.triggerId });
        else notes.push(`a ${t.strategy} campaign trigger: its audience is every user, known when it runs`);
      }
      break;
    }
    case 'audience': {
      for (const t of validatePayload('audience', data, where).targets) {
        strategies.add(t.strategy);
        if (t.audience.kind === 'user') {
          users.push({
            userId: t.audience.userId,
            strategy: t.strategy,
            targetId: t.targetId,
            candidates: t.candidates,
          });
        } else {
          notes.push(
            `a ${t.strategy} campaign page after ${JSON.stringify(t.audience.after)}: known when it runs`,
          );
        }
      }
      break;
    }
    case 'filter':
    case 'score': {
      for (const g of validatePayload(queue, data, where).groups) {
        strategies.add(g.strategy);
        for (const userId of g.userIds) {
          users.push({ userId, strategy: g.strategy, targetId: g.targetId, candidates: g.candidates });
        }
      }
      break;
    }
    case 'conciliate': {
      for (const p of validatePayload('conciliate', data, where).picks) {
        strategies.add(p.strategy);
        for (const userId of p.userIds) {
          users.push({ userId, strategy: p.strategy, targetId: p.targetId, candidates: [p.candidate] });
        }
      }
      break;
    }
    case 'sendTime': {
      // The winner is read at delivery (late binding): the judge takes it from state.
      for (const userId of validatePayload('sendTime', data, where).userIds) users.push({ userId });
      break;
    }
    case 'campaigns': {
      const c = validatePayload('campaigns', data, where);
      strategies.add(c.campaign);
      notes.push(
        `a ${c.campaign} campaign tick at ${new Date(c.at).toISOString()}: it starts the day's campaign`,
      );
      break;
    }
  }
  return { users, strategies: [...strategies], ...(notes.length ? { note: notes.join('; ') } : {}) };
}

export type Verdict = 'push' | 'deferred' | ReplayDrop;

export interface JudgeInput {
  now: number;
  user: UserState | undefined;
  /** The candidates the job offers; undefined when target has yet to find them. */
  candidates?: readonly Candidate[];
  /** This job's push for the user was already sent. */
  alreadySent: boolean;
  /** When the user's open contact window ends, if one is open. */
  windowEnd?: number;
  /** A window that ends within this long still lets the user through (predicted send times). */
  cooldownGraceMs: number;
  /** Quiet hours, when send times honour them (SEND_MODE=predicted). */
  quiet?: QuietHours;
  /** The job's strategy sends only to users who opted in to location-based pushes. */
  needsLocationOptIn?: boolean;
}

/** Pure: what today's rules do with one user of a replayed job, in the order the pipeline checks them. */
export function judge(i: JudgeInput): Verdict {
  const reason = dropReason(i.user, false, i.needsLocationOptIn);
  if (reason) return reason;
  const live = i.candidates?.filter((c) => c.deadline === undefined || c.deadline > i.now);
  if (live && live.length === 0) return 'expired';
  if (i.alreadySent) return 'already_sent';
  if (i.windowEnd !== undefined && i.windowEnd > i.now + i.cooldownGraceMs) return 'cooldown';
  if (i.quiet && i.user) {
    const deadlines = (live ?? []).map((c) => c.deadline ?? Infinity);
    const latest = Math.min(deadlines.length ? Math.max(...deadlines) : Infinity, i.now + 86_400_000);
    const open = slots(i.now, i.user.timeZone, latest, i.quiet);
    if (open.length === 0) return 'quiet_hours';
    if (open[0]!.start > i.now) return 'deferred';
  }
  return 'push';
}

/** The push id a job's decision for this user becomes (the ledger's key for "already sent"). */
export function pushIdOf(u: JobUser, winner: Winner | undefined): string | undefined {
  if (u.strategy && u.targetId) return decisionId(u.strategy, u.targetId, u.userId);
  return winner?.decisionId;
}

/** Tallies verdicts of distinct users: a user with any push verdict counts as one push. */
export function tally(verdicts: ReadonlyMap<string, Verdict[]>): {
  users: number;
  pushes: number;
  deferred: number;
  dropped: Partial<Record<ReplayDrop, number>>;
} {
  let pushes = 0;
  let deferred = 0;
  const dropped: Partial<Record<ReplayDrop, number>> = {};
  for (const list of verdicts.values()) {
    if (list.includes('push')) pushes++;
    else if (list.includes('deferred')) {
      pushes++;
      deferred++;
    } else {
      const r = list[0] as ReplayDrop | undefined;
      if (r) dropped[r] = (dropped[r] ?? 0) + 1;
    }
  }
  return { users: verdicts.size, pushes, deferred, dropped };
}
