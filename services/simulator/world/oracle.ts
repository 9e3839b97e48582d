/**
 * The oracle: the best push and hour per user under the ground truth, the ceiling every policy is measured
 * against. The response model factors into a candidate part (category, discount, distance) and a time part
 * (hour, fatigue, reachability), and the open-probability cap is monotone, so for each candidate its best
 * hour is the best-scoring hour inside its validity window; no (candidate x hour) product is evaluated.
 */
import {
  DEFAULT_RESPONSE_MODEL,
  NO_FATIGUE,
  pushFactors,
  timeFactors,
  type FatigueState,
  type PushSpec,
  type ResponseModel,
} from './response';
import { WEEK_HOURS } from './calendar';
import { userIndex, type UserRef } from './truth';
import type { World } from './world';

// Local bindings: inside jest's vm context every Math.* lookup is ~40x slower than a call through one.
const { min } = Math;

/** The instant (ms) the user's most active local hour of the local date `day` begins (earliest on ties). */
export function bestHourUtc(world: World, user: UserRef, day: number): number {
  const i = userIndex(world, user);
  const { starts, weekIndex } = world.calendar.localDay(world.users.zone[i] as number, day);
  let best = 0;
  let bestW = -1;
  for (let h = 0; h < starts.length; h++) {
    const w = world.users.activeHours[i * WEEK_HOURS + (weekIndex[h] as number)] as number;
    if (w > bestW) {
      bestW = w;
      best = h;
    }
  }
  return starts[best] as number;
}

export interface OracleCandidate extends PushSpec {
  id: string;
  /** The candidate may be sent from this instant (ms). Default: no bound. */
  validFrom?: number;
  /** ... and before this one. Default: no bound. */
  validTo?: number;
}

export interface OracleOptions {
  /** Maximize expected opens (default) or expected clicks (open and click). */
  objective?: 'open' | 'click';
  /** The user's recent pushes. Default none. */
  fatigue?: FatigueState;
  /** Hours starting before this instant are not considered (e.g. now). Default: the whole day. */
  notBefore?: number;
  model?: Partial<ResponseModel>;
}

export interface OracleChoice<C extends OracleCandidate> {
  candidate: C;
  /** When to send: the start of a local hour of the day. */
  atMs: number;
  pOpen: number;
  /** Click probability given an open. */
  pClick: number;
  /** pOpen, or pOpen * pClick for the click objective. */
  expected: number;
}

/**
 * The (candidate, hour of the user's local date `day`) with the highest expected opens (or clicks).
 * Undefined when there is no candidate, no allowed hour, or the user cannot be reached that day.
 */
export function oraclePush<C extends OracleCandidate>(
  world: World,
  user: UserRef,
  day: number,
  candidates: readonly C[],
  options: OracleOptions = {},
): OracleChoice<C> | undefined {
  const m = { ...DEFAULT_RESPONSE_MODEL, ...options.model };
  const i = userIndex(world, user);
  const fatigue = options.fatigue ?? NO_FATIGUE;
  const { starts } = world.calendar.localDay(world.users.zone[i] as number, day);
  const hours: Array<{ at: number; g: number }> = [];
  for (const at of starts) {
    if (options.notBefore !== undefined && at < options.notBefore) continue;
    const t = timeFactors(world, i, at, fatigue, m);
    if (t.reachable) hours.push({ at, g: t.hour * t.fatigue });
  }
  if (hours.length === 0) return undefined;
  hours.sort((a, b) => b.g - a.g || a.at - b.at);
  const responsiveness = world.users.responsiveness[i] as number;
  let best: OracleChoice<C> | undefined;
  for (const candidate of candidates) {
    const hour = hours.find(
      (h) =>
        (candidate.validFrom === undefined || h.at >= candidate.validFrom) &&
        (candidate.validTo === undefined || h.at < candidate.validTo),
    );
    if (!hour) continue;
    const p = pushFactors(world, i, candidate, m);
    const pOpen = min(m.maxPOpen, responsiveness * p.category * p.discount * p.distance * hour.g);
    const expected = options.objective === 'click' ? pOpen * p.click : pOpen;
    if (!best || expected > best.expected)
      best = { candidate, atMs: hour.at, pOpen, pClick: p.click, expected };
  }
  return best;
}
