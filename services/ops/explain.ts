/**
 * Explain a user: the decision trace the stages recorded (trigger, candidates and scores, filter drops with
 * reasons, the winner and why, the planned send time and why, the delivery, feedback), with what state holds
 * for them now, and one line per step for people.
 */
import type { State, TraceEntry } from '../state';
import type { Explanation } from './api';

const fmt = (v: unknown): string =>
  typeof v === 'string' ? v : typeof v === 'number' ? String(Math.round(v * 1e4) / 1e4) : JSON.stringify(v);

/** Pure: one line for a trace entry. */
export function describeEntry(e: TraceEntry): string {
  const d = e.detail;
  const when = new Date(e.at).toISOString();
  const who = e.strategy ? ` [${e.strategy}${e.targetId ? ` ${e.targetId}` : ''}]` : '';
  let what: string;
  switch (`${e.stage}/${e.what}`) {
    case 'trigger/targeted':
      what = `triggered: ${fmt(d.candidates)} candidate(s), first ${fmt(d.first)}`;
      break;
    case 'trigger/no_candidates':
      what = 'triggered, but the strategy found no candidate';
      break;
    case 'filter/dropped':
      what = `filter dropped the user: ${fmt(d.reason)}`;
      break;
    case 'score/picked':
      what = `score picked ${fmt(d.candidate)} (${fmt(d.category)}) at ${fmt(d.score)}, best of ${fmt(d.of)}`;
      break;
    case 'conciliate/won':
      what = `won the contact window: push ${fmt(d.pushId)} with ${fmt(d.candidate)} at ${fmt(d.score)}${d.arms ? `; arms ${arms(d)}` : ''}`;
      break;
    case 'conciliate/suppressed':
      what = `conciliation sent nothing: ${fmt(d.why)}; arms ${arms(d)}`;
      break;
    case 'conciliate/lost':
      what = `lost: ${fmt(d.candidate)} at ${fmt(d.score)}; ${fmt(d.why)}`;
      break;
    case 'send-time/planned':
      what = `send-time planned it for ${fmt(d.local)} (${fmt(d.mode)}${d.plan ? `, plan ${fmt(d.plan)}` : ''})`;
      break;
    case 'send-time/dropped':
      what = `send-time dropped it: ${fmt(d.reason)}`;
      break;
    case 'send-time/skipped':
      what = `send-time had nothing to book: ${fmt(d.why)}`;
      break;
    case 'delivery/sent':
      what = `sent push ${fmt(d.pushId)}: ${fmt(d.title)}`;
      break;
    case 'delivery/withdrawn':
      what = `not sent: ${fmt(d.why)}`;
      break;
    case 'delivery/deferred':
      what = `delivery deferred: ${fmt(d.why)}`;
      break;
    case 'delivery/dropped':
      what = `delivery dropped it: ${fmt(d.reason)}`;
      break;
    default:
      what = `${e.stage} ${e.what} ${fmt(d)}`;
  }
  if (e.stage === 'feedback') what = `the user's device reported ${e.what} for push ${fmt(d.pushId)}`;
  return `${when}${who} ${what}`;
}

/** A value decision's arms as `strategy p=0.42, ..., none p=0.58` (anticipated arms marked). */
function arms(d: Record<string, unknown>): string {
  const list = Array.isArray(d.arms) ? (d.arms as Array<Record<string, unknown>>) : [];
  const p = (x: unknown) => (typeof x === 'number' ? x.toFixed(2) : '?');
  return [
    ...list.map((a) => `${fmt(a.strategy)}${a.anticipated ? ' (campaign to come)' : ''} p=${p(a.prob)}`),
    `none p=${p(d.none)}`,
  ].join(', ');
}

export async function explainUser(
  state: Pick<State, 'trace' | 'decisions' | 'delivery'>,
  userId: string,
  range: { from?: number; to?: number },
  now: number,
): Promise<Explanation> {
  const from = range.from ?? now - 7 * 86_400_000;
  const to = range.to ?? now;
  const [trace, winners, booking, sent] = await Promise.all([
    state.trace.read(userId, from, to),
    state.decisions.getWinners([userId]),
    state.delivery.bookingOf(userId),
    state.delivery.sentOf(userId),
  ]);
  const traced = state.trace.traced(userId, 'bulk');
  const summary = trace.map(describeEntry);
  if (trace.length === 0) {
    summary.push(
      traced
        ? 'no decision about this user in the range'
        : 'no trace in the range: campaign decisions are traced for a sample of users (TRACE_CAMPAIGN_SHARE), and this user is not in it; real-time ones always are',
    );
  }
  return {
    userId,
    from,
    to,
    traced,
    trace,
    now: {
      winner: winners.get(userId) ?? null,
      plan: booking?.plan ? (JSON.parse(booking.plan) as unknown) : null,
      booked: booking ? { due: booking.due, lane: booking.lane, inflightUntil: booking.inflightUntil } : null,
      sent,
    },
    summary,
  };
}
