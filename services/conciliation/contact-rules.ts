/**
 * The contact rules, in one place: caps per local day and week (all strategies and per strategy) and quiet
 * hours. Conciliation drops a capped candidate, send-time planning starts from the first instant the caps
 * allow (so it never books a push a cap will refuse), and delivery checks both again at the moment of
 * sending. Days and weeks are the user's own, in their IANA zone (luxon: a DST day is 23 or 25 hours long,
 * and a week starts on Monday at local midnight).
 */
import { DateTime } from 'luxon';
import { isQuiet, type QuietHours } from '../timing/plan';

export interface Cap {
  /** Pushes per local day; 0: no cap. */
  day: number;
  /** Pushes per local week; 0: no cap. */
  week: number;
}

export interface ContactRules {
  /** All strategies together. */
  all: Cap;
  /** Per strategy, on top of `all`. */
  strategy: Readonly<Record<string, Cap>>;
  /** Quiet hours, when they apply (SEND_MODE=predicted). */
  quiet?: QuietHours;
}

/** The caps and where to read each user's pushes, for a stage that checks them (planning, delivery). */
export interface CapsCheck {
  rules: Pick<ContactRules, 'all' | 'strategy'>;
  contacts: (userIds: readonly string[], now: number) => Promise<Map<string, Contact[]>>;
}

/** A push the user got: its strategy and when (clock ms). */
export interface Contact {
  strategy: string;
  at: number;
  /** The push's id, when known. */
  pushId?: string;
}

type Bounds = { day: [number, number]; week: [number, number] };

/**
 * The local day and week `at` falls in. Luxon is the dearest step of conciliation, and every zone's offset
 * is a multiple of 15 minutes, so a local day and week start on a quarter hour: the bounds are memoised per
 * zone and quarter hour.
 */
function bounds(at: number, tz: string): Bounds {
  const key = `${tz}|${Math.floor(at / 900_000)}`;
  const hit = memo.get(key);
  if (hit) return hit;
  if (memo.size > 10_000) memo.clear();
  const local = DateTime.fromMillis(at, { zone: tz });
  const d0 = local.startOf('day');
  const w0 = local.startOf('week');
  const b: Bounds = {
    day: [d0.toMillis(), d0.plus({ days: 1 }).toMillis()],
    week: [w0.toMillis(), w0.plus({ weeks: 1 }).toMillis()],
  };
  memo.set(key, b);
  return b;
}

const memo = new Map<string, Bounds>();

function count(history: readonly Contact[], [from, to]: [number, number], strategy?: string): number {
  let n = 0;
  for (const c of history) if (c.at >= from && c.at < to && (!strategy || c.strategy === strategy)) n++;
  return n;
}

/**
 * Why a push of `strategy` at `at` would break a cap (`cap_day`, `cap_week`, `cap_day:<strategy>`,
 * `cap_week:<strategy>`), or null when it breaks none.
 */
export function capReason(
  history: readonly Contact[],
  strategy: string,
  at: number,
  tz: string,
  rules: Pick<ContactRules, 'all' | 'strategy'>,
): string | null {
  const own = rules.strategy[strategy];
  if (history.length === 0 || (!rules.all.day && !rules.all.week && !own?.day && !own?.week)) return null;
  const b = bounds(at, tz);
  if (rules.all.day && count(history, b.day) >= rules.all.day) return 'cap_day';
  if (rules.all.week && count(history, b.week) >= rules.all.week) return 'cap_week';
  if (own?.day && count(history, b.day, strategy) >= own.day) return `cap_day:${strategy}`;
  if (own?.week && count(history, b.week, strategy) >= own.week) return `cap_week:${strategy}`;
  return null;
}

/**
 * The first instant at or after `from` when a push of `strategy` breaks no cap: `from` itself, or the start
 * of a later local day or week. Null when none comes before `latest`.
 */
export function capsAllowFrom(
  history: readonly Contact[],
  strategy: string,
  from: number,
  latest: number,
  tz: string,
  rules: Pick<ContactRules, 'all' | 'strategy'>,
): number | null {
  let at = from;
  // A week at most: past it, every cap has reset.
  for (let i = 0; i < 9 && at < latest; i++) {
    const why = capReason(history, strategy, at, tz, rules);
    if (!why) return at;
    const b = bounds(at, tz);
    at = why.startsWith('cap_week') ? b.week[1] : b.day[1];
  }
  return null;
}

/** Why a push cannot go at `at` (a cap or a quiet hour), or null. What delivery checks at the last moment. */
export function refusal(
  history: readonly Contact[],
  strategy: string,
  at: number,
  tz: string,
  rules: ContactRules,
): string | null {
  if (rules.quiet && isQuiet(DateTime.fromMillis(at, { zone: tz }).hour, rules.quiet)) return 'quiet_hours';
  return capReason(history, strategy, at, tz, rules);
}

/** The rules from Herald's configuration. */
export function contactRules(config: {
  CAP_DAY: number;
  CAP_WEEK: number;
  CAP_STRATEGY: Record<string, Cap>;
  SEND_MODE: string;
  QUIET_HOURS: QuietHours;
}): ContactRules {
  return {
    all: { day: config.CAP_DAY, week: config.CAP_WEEK },
    strategy: config.CAP_STRATEGY,
    ...(config.SEND_MODE === 'predicted' ? { quiet: config.QUIET_HOURS } : {}),
  };
}
