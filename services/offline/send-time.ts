/**
 * The offline send-time evaluation: how often each way of picking a user's hour lands within an hour of when
 * the user actually turns up, on a real event log. Herald's answer is computed by the production model
 * itself (services/timing/engagement.ts: addEvidence, effective, posteriorAlpha, posteriorMean, argmaxHour,
 * localHour), so the figure is the one production would get, not a re-implementation's.
 *
 * Protocol. Rows are sorted by time and the split instant is the `split` quantile of their timestamps; rows
 * before it train, the rest test. Every user with a training row gets one predicted local hour per method.
 * A truth case is the local hour of the user's first event on each local day after the split's (in the
 * user's zone: the day the split falls in is partly training, so it is left out). A prediction hits when it is
 * within one hour of the truth, around the clock (23 and 0 are adjacent). Methods:
 *
 * - `global-mode`: the most common local hour of all training rows;
 * - `own-mode`: the most common local hour of the user's own training rows (ties to the earlier hour);
 * - `cohort`: the best hour of the prior of the user's zone (its users' decayed counters shrunk toward
 *   everyone's, as posteriorAlpha does for a user with nothing of their own);
 * - `herald`: the best hour of the posterior mean of the user's decayed counters under that prior.
 *
 * Pure: no I/O, no clock. A user's zone is that of their last training row; each row's own zone gives its
 * local hour and day.
 */
import {
  DEFAULT_ENGAGEMENT,
  HOURS,
  addEvidence,
  argmaxHour,
  bestHour,
  effective,
  emptyCounters,
  posteriorAlpha,
  posteriorMean,
  type EngagementOptions,
  type HourCounters,
} from '../timing/engagement';
import type { EventLog } from './event-log';
import { ZoneClock, dayOf, hourOf } from './local-time';

export const METHODS = ['global-mode', 'own-mode', 'cohort', 'herald'] as const;
export type Method = (typeof METHODS)[number];

export type ModelOptions = Pick<EngagementOptions, 'halfLifeDays' | 'priorStrength' | 'cohortStrength'>;

export interface SendTimeOptions {
  /** Quantile of the timestamps where training ends, in (0, 1). Default 0.8. */
  split: number;
  /** The engagement model's options. Default DEFAULT_ENGAGEMENT's. */
  model: ModelOptions;
  /** Users with fewer training rows than this are reported apart as "few". Default 3. */
  fewBelow: number;
}

export const DEFAULT_SEND_TIME: SendTimeOptions = {
  split: 0.8,
  model: {
    halfLifeDays: DEFAULT_ENGAGEMENT.halfLifeDays,
    priorStrength: DEFAULT_ENGAGEMENT.priorStrength,
    cohortStrength: DEFAULT_ENGAGEMENT.cohortStrength,
  },
  fewBelow: 3,
};

/** Hits of each method over some truth cases. */
export interface Score {
  cases: number;
  hits: Record<Method, number>;
}

export interface SendTimeResult {
  rows: number;
  /** Users with at least one training row (each gets a prediction). */
  users: number;
  /** The split instant, epoch ms. */
  splitAt: number;
  trainRows: number;
  all: Score;
  /** Cases of users with fewer than `fewBelow` training rows. */
  few: Score;
  /** The others. */
  many: Score;
  options: SendTimeOptions;
}

/** A log with every row's local day and hour, and the rows' order in time. */
export interface LocalLog {
  log: EventLog;
  /** Row indices sorted by instant (ties in file order). */
  order: Uint32Array;
  /** Per row: local day * 24 + local hour, in the row's zone (see ZoneClock). */
  dayHour: Int32Array;
  clocks: ZoneClock[];
}

export function localize(log: EventLog): LocalLog {
  const { at, zone } = log;
  const order = new Uint32Array(log.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  order.sort((a, b) => at[a]! - at[b]! || a - b);
  const clocks = log.zones.map((z) => new ZoneClock(z));
  const dayHour = new Int32Array(log.length);
  for (let i = 0; i < log.length; i++) dayHour[i] = clocks[zone[i]!]!.dayHour(at[i]!);
  return { log, order, dayHour, clocks };
}

/** The `q` quantile of the rows' instants: the instant of the row at rank floor(q * n) in time order. */
export function splitInstant(l: LocalLog, q: number): number {
  if (!(q > 0 && q < 1)) throw new RangeError(`split must be between 0 and 1, got ${q}`);
  if (l.log.length === 0) return NaN;
  const rank = Math.min(l.log.length - 1, Math.floor(q * l.log.length));
  return l.log.at[l.order[rank]!]!;
}

/** What the training rows teach: raw counts for the modes, decayed counters for the model. */
export interface TrainedModel {
  splitAt: number;
  options: ModelOptions;
  /** Per user: training rows. */
  trainRows: Int32Array;
  /** Per user: the zone index of their cohort. */
  userZone: Int32Array;
  /** Per user: raw training rows per local hour, `users * 24` long. */
  ownCounts: Int32Array;
  /** Per user: the production counters (weight 1 per row at its local hour), undefined without rows. */
  userCounters: Array<HourCounters | undefined>;
  /** Per zone: its users' counters. */
  cohortCounters: HourCounters[];
  globalCounters: HourCounters;
  globalCounts: number[];
}

export function train(l: LocalLog, splitAt: number, options: ModelOptions): TrainedModel {
  const { log, order, dayHour } = l;
  const nUsers = log.users.length;
  const hl = options.halfLifeDays;
  const m: TrainedModel = {
    splitAt,
    options,
    trainRows: new Int32Array(nUsers),
    userZone: new Int32Array(nUsers).fill(-1),
    ownCounts: new Int32Array(nUsers * HOURS),
    userCounters: new Array<HourCounters | undefined>(nUsers),
    cohortCounters: log.zones.map(() => emptyCounters()),
    globalCounters: emptyCounters(),
    globalCounts: new Array<number>(HOURS).fill(0),
  };
  for (const i of order) {
    const at = log.at[i]!;
    const u = log.user[i]!;
    const z = log.zone[i]!;
    if (at >= splitAt) {
      // A user first seen after the split still has a zone, for what a prediction without history gives.
      if (m.userZone[u] === -1) m.userZone[u] = z;
      continue;
    }
    const h = hourOf(dayHour[i]!);
    m.trainRows[u]!++;
    m.userZone[u] = z;
    m.ownCounts[u * HOURS + h]!++;
    m.globalCounts[h]!++;
    addEvidence((m.userCounters[u] ??= emptyCounters()), h, 1, at, hl);
    addEvidence(m.cohortCounters[z]!, h, 1, at, hl);
    addEvidence(m.globalCounters, h, 1, at, hl);
  }
  return m;
}

/** Predicts every user's hour by every method. */
export class Predictor {
  private readonly globalEffective: number[];
  private readonly cohortEffective: number[][];
  private readonly globalHour: number;
  private readonly cohortHour: number[];

  constructor(readonly model: TrainedModel) {
    const { splitAt, options } = model;
    const hl = options.halfLifeDays;
    this.globalEffective = effective(model.globalCounters, splitAt, hl);
    this.cohortEffective = model.cohortCounters.map((c) => effective(c, splitAt, hl));
    this.globalHour = argmaxHour(model.globalCounts);
    const nobody = new Array<number>(HOURS).fill(0);
    this.cohortHour = this.cohortEffective.map((c) =>
      argmaxHour(posteriorMean(posteriorAlpha(nobody, c, this.globalEffective, options))),
    );
  }

  /** The hour of each method for user `u` (a user without training rows gets the prior's answers). */
  predict(u: number): Record<Method, number> {
    const { model } = this;
    const z = model.userZone[u]!;
    const own = model.ownCounts.subarray(u * HOURS, (u + 1) * HOURS);
    const counters = model.userCounters[u] ?? emptyCounters();
    const cohort = this.cohortEffective[z] ?? new Array<number>(HOURS).fill(0);
    const mean = posteriorMean(
      posteriorAlpha(
        effective(counters, model.splitAt, model.options.halfLifeDays),
        cohort,
        this.globalEffective,
        model.options,
      ),
    );
    return {
      'global-mode': this.globalHour,
      'own-mode': argmaxHour(Array.from(own)),
      cohort: this.cohortHour[z] ?? argmaxHour(this.globalEffective),
      herald: bestHour(mean),
    };
  }
}

/** One truth case: the local hour of a user's first event on a local day after the split's. */
export interface TruthCase {
  user: number;
  day: number;
  hour: number;
}

/** The truth cases of the users that have training rows, in time order. */
export function truthCases(l: LocalLog, model: TrainedModel): TruthCase[] {
  const { log, order, dayHour, clocks } = l;
  const splitDay = clocks.map((c) => dayOf(c.dayHour(model.splitAt)));
  const seen = new Set<number>();
  const out: TruthCase[] = [];
  for (const i of order) {
    const at = log.at[i]!;
    if (at < model.splitAt) continue;
    const u = log.user[i]!;
    if (model.trainRows[u] === 0) continue;
    const day = dayOf(dayHour[i]!);
    if (day <= splitDay[log.zone[i]!]!) continue;
    // Days fit in 2^21 (5700 years either side of 1970); users below 2^31.
    const key = u * 2 ** 22 + (day + 2 ** 21);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ user: u, day, hour: hourOf(dayHour[i]!) });
  }
  return out;
}

/** Hours between two hours of the day, around the clock: 0 .. 12. */
export function circularDistance(a: number, b: number): number {
  const d = Math.abs(a - b) % HOURS;
  return Math.min(d, HOURS - d);
}

export const isHit = (predicted: number, truth: number): boolean => circularDistance(predicted, truth) <= 1;

export function emptyScore(): Score {
  return { cases: 0, hits: { 'global-mode': 0, 'own-mode': 0, cohort: 0, herald: 0 } };
}

/** Runs the whole protocol on a log. */
export function evaluateSendTime(log: EventLog, options: Partial<SendTimeOptions> = {}): SendTimeResult {
  const o: SendTimeOptions = {
    ...DEFAULT_SEND_TIME,
    ...options,
    model: { ...DEFAULT_SEND_TIME.model, ...options.model },
  };
  const l = localize(log);
  const splitAt = splitInstant(l, o.split);
  const model = train(l, splitAt, o.model);
  const predictor = new Predictor(model);
  const predictions = new Map<number, Record<Method, number>>();
  const all = emptyScore();
  const few = emptyScore();
  const many = emptyScore();
  for (const c of truthCases(l, model)) {
    let p = predictions.get(c.user);
    if (!p) predictions.set(c.user, (p = predictor.predict(c.user)));
    const group = model.trainRows[c.user]! < o.fewBelow ? few : many;
    all.cases++;
    group.cases++;
    for (const m of METHODS) {
      if (isHit(p[m], c.hour)) {
        all.hits[m]++;
        group.hits[m]++;
      }
    }
  }
  let users = 0;
  let trainRows = 0;
  for (const n of model.trainRows) {
    if (n > 0) users++;
    trainRows += n;
  }
  return { rows: log.length, users, splitAt, trainRows, all, few, many, options: o };
}

/** A score's hit rates as fractions (null without cases), for JSON. */
export function hitRates(s: Score): { cases: number; methods: Record<Method, { hit: number | null }> } {
  const rate = (h: number) => (s.cases > 0 ? Math.round((h / s.cases) * 10_000) / 10_000 : null);
  return {
    cases: s.cases,
    methods: {
      'global-mode': { hit: rate(s.hits['global-mode']) },
      'own-mode': { hit: rate(s.hits['own-mode']) },
      cohort: { hit: rate(s.hits.cohort) },
      herald: { hit: rate(s.hits.herald) },
    },
  };
}
