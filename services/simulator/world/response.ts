/**
 * How a user answers a delivered push, from the ground truth. The open probability is the user's
 * responsiveness times five factors in (0, 1]:
 *
 *   category  floor + (1 - floor) * (pref(c) / max pref) ^ exp  the push is about what they like
 *   discount  1 - sensitivity * 0.8 * (1 - min(1, d / sat))    a deep discount matters to price-sensitive users
 *   distance  floor + (1 - floor) * exp(-km / scaleKm)         stores only: nearest of home and work
 *   hour      floor + (1 - floor) * activeWeight(local hour)   in the user's zone at delivery (DST-correct)
 *   fatigue   exp(-fatigueSensitivity * load)                  load: recent pushes, ignored ones weigh more
 *
 * The click probability is conditional on the open. Opted-out users and users without devices are not
 * reachable: nothing is delivered.
 */
import type { GeoPoint } from '../../../shared/schemas/common';
import type { SimEvent } from './behaviour';
import { DAY_MS, WEEK_HOURS } from './calendar';
import { hashHex, type Rng } from './rng';
import { distanceKm, pushOptInAt, userId, userIndex, type UserRef } from './truth';
import type { World } from './world';

// Local bindings: inside jest's vm context every Math.* lookup is ~40x slower than a call through one.
const { exp, floor, max, min, pow, round } = Math;

/** What the user sees: enough of a push to decide. */
export interface PushSpec {
  category: string;
  /** Percent, 0..100. */
  discount: number;
  kind: 'store' | 'sale';
  /** For store pushes: where the store is. */
  storeLocation?: GeoPoint;
}

export interface ResponseModel {
  /** Pushes older than this no longer tire the user. Default 7. */
  fatigueWindowDays: number;
  /** Fatigue load of a push the user ignored. Default 1. */
  ignoredPushWeight: number;
  /** Fatigue load of a push the user opened (a welcome push tires less). Default 0.4. */
  openedPushWeight: number;
  /** Distance over which a store's appeal decays (e-folding), km. Default 5. */
  distanceScaleKm: number;
  /** Appeal of a store infinitely far away, relative to one next door. Default 0.2. */
  distanceFloor: number;
  /** Relative open rate at the user's least active hour. Default 0.25. */
  hourFloor: number;
  /** Relative open rate for a category the user never buys (people sometimes open anything). Default 0.1. */
  categoryFloor: number;
  /** Sharpness of the category match. Default 0.6. */
  categoryExponent: number;
  /** Discount (%) at which the discount factor saturates. Default 60. */
  discountSaturation: number;
  /** Cap on the open probability. Default 0.95. */
  maxPOpen: number;
  /** Click-given-open of a push in a category the user barely likes. Default 0.08. */
  clickBase: number;
  /** Added click-given-open for a perfect match. Default 0.55. */
  clickSpan: number;
}

export const DEFAULT_RESPONSE_MODEL: Readonly<ResponseModel> = {
  fatigueWindowDays: 7,
  ignoredPushWeight: 1,
  openedPushWeight: 0.4,
  distanceScaleKm: 5,
  distanceFloor: 0.2,
  hourFloor: 0.25,
  categoryFloor: 0.1,
  categoryExponent: 0.6,
  discountSaturation: 60,
  maxPOpen: 0.95,
  clickBase: 0.08,
  clickSpan: 0.55,
};

/** The pushes a user received recently and whether they opened them. Immutable; see `recordPush`. */
export interface FatigueState {
  readonly pushes: ReadonlyArray<{ readonly at: number; readonly opened: boolean }>;
}

export const NO_FATIGUE: FatigueState = { pushes: [] };

/** The state after one more push at `atMs`, without pushes that fell out of the window. */
export function recordPush(
  state: FatigueState,
  atMs: number,
  opened: boolean,
  model: Partial<ResponseModel> = {},
): FatigueState {
  const window = (model.fatigueWindowDays ?? DEFAULT_RESPONSE_MODEL.fatigueWindowDays) * DAY_MS;
  const kept = state.pushes.filter((p) => p.at > atMs - window);
  kept.push({ at: atMs, opened });
  kept.sort((a, b) => a.at - b.at);
  return { pushes: kept };
}

/** Fatigue load at `atMs`: pushes before it within the window, linearly fading, ignored ones heavier. */
export function fatigueLoad(state: FatigueState, atMs: number, model: Partial<ResponseModel> = {}): number {
  const m = { ...DEFAULT_RESPONSE_MODEL, ...model };
  const window = m.fatigueWindowDays * DAY_MS;
  let load = 0;
  for (const p of state.pushes) {
    const age = atMs - p.at;
    if (age <= 0 || age >= window) continue;
    load += (p.opened ? m.openedPushWeight : m.ignoredPushWeight) * (1 - age / window);
  }
  return load;
}

export interface ResponseFactors {
  category: number;
  discount: number;
  distance: number;
  hour: number;
  fatigue: number;
}

export interface ResponseProbabilities {
  /** Opted in at the instant and has a device. When false, all probabilities are 0. */
  reachable: boolean;
  pOpen: number;
  /** Click probability given an open. */
  pClick: number;
  /** pOpen * pClick. */
  pOpenClick: number;
  /** The user's local weekday (1 = Monday) and hour at delivery. */
  localWeekday: number;
  localHour: number;
  factors: ResponseFactors;
}

/** The time-independent part: category, discount, distance. */
export function pushFactors(
  world: World,
  i: number,
  push: PushSpec,
  m: Readonly<ResponseModel>,
): { category: number; discount: number; distance: number; click: number } {
  const u = world.users;
  const C = world.categories.length;
  const c = world.categoryIndex.get(push.category);
  const pref = c === undefined ? 0 : (u.prefs[i * C + c] as number);
  const category =
    m.categoryFloor + (1 - m.categoryFloor) * pow(pref / (u.maxPref[i] as number), m.categoryExponent);
  const s = u.priceSensitivity[i] as number;
  const depth = min(1, max(0, push.discount) / m.discountSaturation);
  const discount = 1 - s * 0.8 * (1 - depth);
  let distance = 1;
  if (push.kind === 'store' && push.storeLocation) {
    const km = min(
      distanceKm({ lat: u.homeLat[i] as number, lon: u.homeLon[i] as number }, push.storeLocation),
      distanceKm({ lat: u.workLat[i] as number, lon: u.workLon[i] as number }, push.storeLocation),
    );
    distance = m.distanceFloor + (1 - m.distanceFloor) * exp(-km / m.distanceScaleKm);
  }
  const click = min(0.95, m.clickBase + m.clickSpan * category * (1 - s * 0.7 * (1 - depth)) * distance);
  return { category, discount, distance, click };
}

/** The time-dependent part: hour and fatigue factors, reachability, local time. */
export function timeFactors(
  world: World,
  i: number,
  atMs: number,
  fatigue: FatigueState,
  m: Readonly<ResponseModel>,
): { hour: number; fatigue: number; reachable: boolean; weekIndex: number } {
  const u = world.users;
  const weekIndex = world.calendar.weekIndexAt(u.zone[i] as number, atMs);
  const w = (u.activeHours[i * WEEK_HOURS + weekIndex] as number) / 255;
  return {
    hour: m.hourFloor + (1 - m.hourFloor) * w,
    fatigue: exp(-(u.fatigueSensitivity[i] as number) * fatigueLoad(fatigue, atMs, m)),
    reachable: (u.deviceCount[i] as number) > 0 && pushOptInAt(world, i, atMs),
    weekIndex,
  };
}

/** Open and click probabilities of `push` delivered to the user at `sentAtMs`. */
export function respond(
  world: World,
  user: UserRef,
  push: PushSpec,
  sentAtMs: number,
  fatigue: FatigueState = NO_FATIGUE,
  model: Partial<ResponseModel> = {},
): ResponseProbabilities {
  const m = { ...DEFAULT_RESPONSE_MODEL, ...model };
  const i = userIndex(world, user);
  const p = pushFactors(world, i, push, m);
  const t = timeFactors(world, i, sentAtMs, fatigue, m);
  const pOpen = t.reachable
    ? min(
        m.maxPOpen,
        (world.users.responsiveness[i] as number) * p.category * p.discount * p.distance * t.hour * t.fatigue,
      )
    : 0;
  const pClick = t.reachable ? p.click : 0;
  return {
    reachable: t.reachable,
    pOpen,
    pClick,
    pOpenClick: pOpen * pClick,
    localWeekday: floor(t.weekIndex / 24) + 1,
    localHour: t.weekIndex % 24,
    factors: {
      category: p.category,
      discount: p.discount,
      distance: p.distance,
      hour: t.hour,
      fatigue: t.fatigue,
    },
  };
}

export interface ResponseOutcome {
  delivered: boolean;
  deliveredAt: number | null;
  opened: boolean;
  clicked: boolean;
  openedAt: number | null;
  clickedAt: number | null;
  probabilities: ResponseProbabilities;
}

/** Draws whether (and when) the user opens and clicks the push. */
export function sampleResponse(
  rng: Rng,
  world: World,
  user: UserRef,
  push: PushSpec,
  sentAtMs: number,
  fatigue: FatigueState = NO_FATIGUE,
  model: Partial<ResponseModel> = {},
): ResponseOutcome {
  const probabilities = respond(world, user, push, sentAtMs, fatigue, model);
  if (!probabilities.reachable) {
    return {
      delivered: false,
      deliveredAt: null,
      opened: false,
      clicked: false,
      openedAt: null,
      clickedAt: null,
      probabilities,
    };
  }
  const deliveredAt = sentAtMs + round(rng.uniform(300, 3000));
  const opened = rng.next() < probabilities.pOpen;
  // Most opens come within minutes, a long tail hours later (when the phone is next picked up).
  const delay = rng.bernoulli(0.55) ? rng.exponential(8 * 60_000) : rng.exponential(90 * 60_000);
  const openedAt = opened ? deliveredAt + round(min(delay, 20 * 3_600_000)) : null;
  const clicked = openedAt !== null && rng.next() < probabilities.pClick;
  const clickedAt = clicked && openedAt !== null ? openedAt + round(rng.uniform(3_000, 120_000)) : null;
  return { delivered: true, deliveredAt, opened, clicked, openedAt, clickedAt, probabilities };
}

export interface FeedbackArgs {
  world: World;
  pushId: string;
  user: UserRef;
  strategy: string;
  candidateId?: string;
  outcome: ResponseOutcome;
}

/** The delivered / opened / clicked feedback events of a push's outcome, in time order. */
export function feedbackEvents(args: FeedbackArgs): SimEvent<'feedback'>[] {
  const { outcome } = args;
  const uid = userId(args.world, userIndex(args.world, args.user));
  const base = args.pushId.length <= 120 ? args.pushId : hashHex(4, args.pushId);
  const out: SimEvent<'feedback'>[] = [];
  const add = (type: 'delivered' | 'opened' | 'clicked', at: number | null): void => {
    if (at === null) return;
    out.push({
      topic: 'feedback',
      key: uid,
      at,
      value: {
        v: 1,
        eventId: `fb-${base}-${type.charAt(0)}`,
        pushId: args.pushId,
        userId: uid,
        strategy: args.strategy,
        ...(args.candidateId !== undefined ? { candidateId: args.candidateId } : {}),
        type,
        at: new Date(at).toISOString(),
      },
    });
  };
  add('delivered', outcome.deliveredAt);
  add('opened', outcome.openedAt);
  add('clicked', outcome.clickedAt);
  return out;
}
