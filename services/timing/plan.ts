/**
 * Planning a send: the instant within [now, latest) at which a booked push goes out, in the user's IANA zone,
 * never in their quiet hours, at the hour the engagement model scores best (its probability of activity with
 * its neighbours', see hourScores).
 *
 * The slots are the starts of the next local hours, stepped in absolute time, so DST gaps (an hour that does
 * not exist) and repeats (an hour that happens twice) come out as the zone has them, and half-hour and
 * 45-minute zones keep their own hour starts. The current hour is a slot that starts now.
 *
 * Exploration: with probability `explore` the hour is drawn from the posterior predictive (the posterior mean,
 * restricted to the allowed slots) instead of taken at its argmax. The probability of the choice is exact:
 * (1 - explore) for the best slot plus explore x its share. Pure; the caller passes the random draw.
 */
import { DateTime } from 'luxon';
import { hourScores } from './engagement';

export interface QuietHours {
  /** Local hour quiet time starts (inclusive), 0-23. */
  start: number;
  /** Local hour it ends (exclusive), 0-23; start > end wraps midnight (22-8). start == end: none. */
  end: number;
}

export function isQuiet(hour: number, q: QuietHours): boolean {
  if (q.start === q.end) return false;
  return q.start < q.end ? hour >= q.start && hour < q.end : hour >= q.start || hour < q.end;
}

export interface PlanInput {
  now: number;
  tz: string;
  /** Nothing at or after this instant (the candidate's deadline, the end of the contact window). */
  latest: number;
  /** Nothing before this instant (the end of the user's current contact window). Default now. */
  notBefore?: number;
  /** Probability of activity per local hour (the posterior mean). */
  probs: readonly number[];
  quiet: QuietHours;
  /** 'now-if-good': go now unless a later hour is better by more than `waitMargin` (real time). */
  urgency: 'best' | 'now-if-good';
  /** A later hour must beat now by this factor (0.2 = 20%) for a real-time push to wait. */
  waitMargin: number;
  /** Share of plans that explore. */
  explore: number;
  /** Two uniform draws in [0, 1): whether to explore, and which hour. */
  draws: readonly [number, number];
  /** Minutes into the slot (spreads a campaign's load over the hour). */
  minuteOffset: number;
}

export interface Plan {
  due: number;
  /** Local hour of the chosen slot. */
  hour: number;
  /** Local hour the model likes best among the allowed slots. */
  bestHour: number;
  /** Probability that this plan chose `hour`. */
  propensity: number;
  explored: boolean;
}

interface Slot {
  start: number;
  hour: number;
}

/**
 * The allowed slots: local hours in [from, latest), outside quiet hours, each starting at its hour's start
 * or at `from` for the hour `from` falls in.
 */
export function slots(from: number, tz: string, latest: number, quiet: QuietHours): Slot[] {
  // A batch's users share `from` and `latest` (a campaign's now and deadline) and a few zones; luxon is
  // the costliest step of planning, so each combination is looked up once, and the local hours after the
  // one `from` falls in are stepped through once per zone and hour, whatever the batch.
  // Users of one zone in a batch nearly always share all four: a per-zone last answer, checked by number,
  // spares building the memo's string key per user (a third of a campaign plan's cost).
  const last = lastOfZone.get(tz);
  if (
    last &&
    last.from === from &&
    last.latest === latest &&
    last.quietStart === quiet.start &&
    last.quietEnd === quiet.end
  )
    return last.out;
  const key = `${from}|${tz}|${latest}|${quiet.start}-${quiet.end}`;
  const hit = memo.get(key);
  if (hit) {
    remember(tz, from, latest, quiet, hit);
    return hit;
  }
  if (memo.size > 10_000) memo.clear();
  const hourStart = DateTime.fromMillis(from, { zone: tz }).startOf('hour').toMillis();
  const baseKey = `${tz}|${hourStart}|${quiet.start}-${quiet.end}`;
  let base = hours.get(baseKey);
  if (!base) {
    if (hours.size > 10_000) hours.clear();
    base = stepSlots(hourStart, tz, quiet);
    hours.set(baseKey, base);
  }
  const out: Slot[] = [];
  for (const s of base) {
    // The hour `from` falls in starts at `from`.
    const start = s.start === hourStart ? from : s.start;
    if (start >= latest) break;
    out.push(start === s.start ? s : { start, hour: s.hour });
  }
  memo.set(key, out);
  remember(tz, from, latest, quiet, out);
  return out;
}

const memo = new Map<string, Slot[]>();
const lastOfZone = new Map<
  string,
  { from: number; latest: number; quietStart: number; quietEnd: number; out: Slot[] }
>();

function remember(tz: string, from: number, latest: number, quiet: QuietHours, out: Slot[]): void {
  if (lastOfZone.size > 1_000) lastOfZone.clear();
  lastOfZone.set(tz, { from, latest, quietStart: quiet.start, quietEnd: quiet.end, out });
}
const hours = new Map<string, Slot[]>();

/** The starts of the 26 local hours from `hourStart` (a local hour's start), outside quiet hours. */
function stepSlots(hourStart: number, tz: string, quiet: QuietHours): Slot[] {
  const out: Slot[] = [];
  const first = DateTime.fromMillis(hourStart, { zone: tz });
  for (let i = 0; i < 26; i++) {
    const dt = first.plus({ hours: i });
    // A repeated hour (fall back) comes twice; the first is enough.
    if (out.length > 0 && out[out.length - 1]!.hour === dt.hour) continue;
    if (!isQuiet(dt.hour, quiet)) out.push({ start: dt.toMillis(), hour: dt.hour });
  }
  return out;
}

/** The plan, or null when no allowed slot is left before `latest` (all of it is quiet). */
export function planSend(p: PlanInput): Plan | null {
  const from = Math.max(p.now, p.notBefore ?? p.now);
  const allowed = slots(from, p.tz, p.latest, p.quiet);
  if (allowed.length === 0) return null;
  const scores = hourScores(p.probs);
  const score = (s: Slot) => scores[s.hour] ?? 0;
  let best = allowed[0]!;
  for (const s of allowed) if (score(s) > score(best)) best = s;
  let greedy = best;
  if (p.urgency === 'now-if-good') {
    const current = allowed[0]!;
    if (current.start === p.now && score(best) <= score(current) * (1 + p.waitMargin)) greedy = current;
  }
  // Exploration draws from the posterior predictive itself, each allowed hour by its own probability.
  const prob = (s: Slot) => p.probs[s.hour] ?? 0;
  const total = allowed.reduce((a, s) => a + prob(s), 0);
  const shareOf = (s: Slot) => (total > 0 ? prob(s) / total : 1 / allowed.length);
  let chosen = greedy;
  const explored = p.draws[0] < p.explore;
  if (explored) {
    let u = p.draws[1];
    for (const s of allowed) {
      chosen = s;
      u -= shareOf(s);
      if (u < 0) break;
    }
  }
  const propensity = (chosen === greedy ? 1 - p.explore : 0) + p.explore * shareOf(chosen);
  const due =
    chosen.start === from ? from : Math.min(chosen.start + p.minuteOffset * 60_000, p.latest - 60_000);
  return { due: Math.max(p.now, due), hour: chosen.hour, bestHour: best.hour, propensity, explored };
}
