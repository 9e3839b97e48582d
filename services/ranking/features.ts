/**
 * The score model's feature schema: one place, versioned, with a hash that every trained model carries in
 * its metadata. A model is served only when its hash equals this one, so a feature added, removed or
 * reordered here can never be fed to a model trained on another layout. Change a feature's meaning, not just
 * its name, and bump `version` too.
 *
 * Every feature is computed from what Herald knows at decision time (the user's state, the candidate, the
 * user's engagement counters, the local time of the send), never from the simulator's ground truth, so the
 * trainer and the score stage compute the same vector with `featureVector`.
 */
import { createHash } from 'node:crypto';
import { DateTime } from 'luxon';
import { distanceKm } from '../../shared/geo';
import type { Candidate } from '../../shared/schemas/jobs.schema';
import type { UserState } from '../state';

const { cos, PI, log1p, max, min, sin } = Math;

/** Feature names in vector order. The names are the ONNX model's documented input columns. */
export const FEATURE_NAMES = [
  /** The strategy's own affinity of the candidate for the user, 0..1. */
  'affinity',
  /** Share of the user's purchases in the candidate's category. */
  'category_share',
  /** log1p(purchases of the user in the candidate's category). */
  'category_count_log',
  /** log1p(purchases of the user in all categories). */
  'purchases_log',
  /** 1 when the candidate's category is the user's most bought one. */
  'top_category',
  /** 1 when the user's last purchase was in the candidate's category. */
  'last_category_match',
  /** Days since the user's last purchase, capped at 60, / 60; 1 when never. */
  'purchase_recency',
  /** Discount / 100. */
  'discount',
  /** max(0, 1 - km / 5) from where the user was last seen; 0 without a location. */
  'near',
  /** log1p(km) / 4, capped at 1; 1 without a location. */
  'distance_log',
  /** 1 when both the user and the candidate have a location. */
  'has_distance',
  /** 1 for a store (a place to go), 0 for a sale. */
  'is_store',
  /** Local hour of the send, on the circle. */
  'hour_sin',
  'hour_cos',
  /** 1 on Saturday and Sunday, local. */
  'weekend',
  /** log1p(pushes delivered to the user). */
  'delivered_log',
  /** log1p(pushes delivered and not opened): ignores, the fatigue that drives users away. */
  'ignored_log',
  /** (opens + 1) / (delivered + 5): the user's past open rate, shrunk toward 0.2 for new users. */
  'open_rate',
  /** (clicks + 0.5) / (delivered + 5). */
  'click_rate',
  /**
   * How much of the user's activity (purchases, browsing, opens: the engagement-hour counters of
   * services/timing) falls at the send's local hour with its neighbours (1-2-1), relative to a uniform day
   * (1 = average), shrunk toward 1 by 4 events' worth.
   */
  'hour_activity',
  /** log1p(the user's engagement-hour evidence, all hours). */
  'activity_log',
] as const;

export type FeatureName = (typeof FEATURE_NAMES)[number];

export const FEATURE_SCHEMA = {
  version: 2,
  names: FEATURE_NAMES,
} as const;

/** sha256 of the schema (version and names in order), first 16 hex digits. */
export function schemaHash(schema: { version: number; names: readonly string[] } = FEATURE_SCHEMA): string {
  return createHash('sha256')
    .update(JSON.stringify({ version: schema.version, names: schema.names }))
    .digest('hex')
    .slice(0, 16);
}

export const FEATURE_SCHEMA_HASH = schemaHash();
export const FEATURE_COUNT = FEATURE_NAMES.length;

/** The user's push engagement so far (services/state telemetry's per-user counters). */
export interface EngagementCounts {
  delivered: number;
  opened: number;
  clicked: number;
}

export const NO_ENGAGEMENT: EngagementCounts = { delivered: 0, opened: 0, clicked: 0 };

/** Everything a feature vector is computed from. */
export interface FeatureInput {
  candidate: Pick<Candidate, 'kind' | 'category' | 'discount' | 'location'>;
  user: Pick<UserState, 'timeZone' | 'location' | 'lastCategory' | 'categories'> & {
    /** Epoch ms of the user's last purchase, when known. */
    lastPurchaseAt?: number;
  };
  /** The strategy's affinity feature of the candidate for this user. */
  affinity: number;
  engagement: EngagementCounts;
  /** The user's 24 engagement-hour counters by local hour (services/timing); absent: no evidence. */
  hourCounts?: ArrayLike<number>;
  /** The instant of the (planned) send, epoch ms. */
  at: number;
}

const DAY_MS = 86_400_000;

/** What a user's rows share: computed once per user and send instant, then reused for each candidate. */
export interface UserContext {
  categories: Readonly<Record<string, number>>;
  total: number;
  top: string | undefined;
  lastCategory: string | undefined;
  location: { lat: number; lon: number } | undefined;
  recency: number;
  hourSin: number;
  hourCos: number;
  weekend: number;
  deliveredLog: number;
  ignoredLog: number;
  openRate: number;
  clickRate: number;
  hourActivity: number;
  activityLog: number;
}

/** Local hour (fractional) and weekday of an instant in a zone; cached per (zone, instant) by callers. */
export function localClock(at: number, timeZone: string): { hour: number; weekday: number } {
  const local = DateTime.fromMillis(at, { zone: timeZone });
  return local.isValid
    ? { hour: local.hour + local.minute / 60, weekday: local.weekday }
    : { hour: 12, weekday: 3 };
}

export function userContext(
  x: Omit<FeatureInput, 'candidate' | 'affinity'>,
  clock: { hour: number; weekday: number } = localClock(x.at, x.user.timeZone),
): UserContext {
  const cats = x.user.categories ?? {};
  let total = 0;
  let top: string | undefined;
  let topCount = 0;
  for (const c in cats) {
    const n = cats[c] as number;
    total += n;
    if (n > topCount) {
      topCount = n;
      top = c;
    }
  }
  const { hour, weekday } = clock;
  const e = x.engagement;
  let activity = 0;
  let hourShare = 1;
  const counts = x.hourCounts;
  if (counts && counts.length === 24) {
    const h = Math.floor(hour) % 24;
    for (let k = 0; k < 24; k++) activity += counts[k] ?? 0;
    const c = (k: number) => counts[(k + 24) % 24] ?? 0;
    const window = c(h - 1) + 2 * c(h) + c(h + 1);
    // Under a uniform day the window holds 4/24 of the activity; the prior is 4 events spread evenly.
    hourShare = (window + 4 * (4 / 24)) / ((4 / 24) * (activity + 4));
  }
  return {
    categories: cats,
    total,
    top,
    lastCategory: x.user.lastCategory,
    location: x.user.location,
    recency:
      x.user.lastPurchaseAt === undefined ? 1 : min(60, max(0, (x.at - x.user.lastPurchaseAt) / DAY_MS)) / 60,
    hourSin: sin((2 * PI * hour) / 24),
    hourCos: cos((2 * PI * hour) / 24),
    weekend: weekday >= 6 ? 1 : 0,
    deliveredLog: log1p(e.delivered),
    ignoredLog: log1p(max(0, e.delivered - e.opened)),
    openRate: (e.opened + 1) / (e.delivered + 5),
    clickRate: (e.clicked + 0.5) / (e.delivered + 5),
    hourActivity: hourShare,
    activityLog: log1p(activity),
  };
}

/** Writes the row of one candidate for a user's context into `out` at `offset`. */
export function writeRow(
  u: UserContext,
  candidate: FeatureInput['candidate'],
  affinity: number,
  out: Float32Array | Float64Array,
  offset = 0,
): void {
  const inCat = u.categories[candidate.category] ?? 0;
  const km = u.location && candidate.location ? distanceKm(u.location, candidate.location) : -1;
  let o = offset;
  out[o++] = clamp01(affinity);
  out[o++] = u.total > 0 ? inCat / u.total : 0;
  out[o++] = log1p(inCat);
  out[o++] = log1p(u.total);
  out[o++] = u.top !== undefined && u.top === candidate.category ? 1 : 0;
  out[o++] = u.lastCategory === candidate.category ? 1 : 0;
  out[o++] = u.recency;
  out[o++] = clamp01(candidate.discount / 100);
  out[o++] = km < 0 ? 0 : max(0, 1 - km / 5);
  out[o++] = km < 0 ? 1 : min(1, log1p(km) / 4);
  out[o++] = km < 0 ? 0 : 1;
  out[o++] = candidate.kind === 'store' ? 1 : 0;
  out[o++] = u.hourSin;
  out[o++] = u.hourCos;
  out[o++] = u.weekend;
  out[o++] = u.deliveredLog;
  out[o++] = u.ignoredLog;
  out[o++] = u.openRate;
  out[o++] = u.clickRate;
  out[o++] = u.hourActivity;
  out[o] = u.activityLog;
}

/**
 * A group's candidates as columns: what a row needs of each candidate, read once per group and shared by
 * every user of it. Categories are deduplicated so that a user's category columns are computed once per
 * category, not once per candidate.
 */
export interface CandidateColumns {
  readonly count: number;
  /** The group's distinct categories, in first-seen order. */
  readonly categories: readonly string[];
  /** Each candidate's index in `categories`. */
  readonly categoryOf: Int32Array;
  /** clamp01(discount / 100). */
  readonly discount: Float64Array;
  readonly isStore: Float64Array;
  readonly locations: ReadonlyArray<{ lat: number; lon: number } | undefined>;
}

export function candidateColumns(candidates: readonly FeatureInput['candidate'][]): CandidateColumns {
  const k = candidates.length;
  const categories: string[] = [];
  const index = new Map<string, number>();
  const categoryOf = new Int32Array(k);
  const discount = new Float64Array(k);
  const isStore = new Float64Array(k);
  const locations: Array<{ lat: number; lon: number } | undefined> = [];
  for (let i = 0; i < k; i++) {
    const c = candidates[i] as FeatureInput['candidate'];
    let ci = index.get(c.category);
    if (ci === undefined) {
      ci = categories.length;
      index.set(c.category, ci);
      categories.push(c.category);
    }
    categoryOf[i] = ci;
    discount[i] = clamp01(c.discount / 100);
    isStore[i] = c.kind === 'store' ? 1 : 0;
    locations.push(c.location);
  }
  return { count: k, categories, categoryOf, discount, isStore, locations };
}

/**
 * The batch form of `writeRow`: writes one user's rows for every candidate of `cols` (row k at
 * `offset + k * FEATURE_COUNT`), with `affinity[k]` the strategy's affinity of candidate k. The values are
 * exactly writeRow's (the same expressions, evaluated once per user or per category where writeRow
 * evaluates them per row; test/unit/score-model-path.test.ts compares them bit for bit). Returns a writer
 * bound to `cols` that owns its scratch space, so a group allocates once, not once per user.
 */
export function rowWriter(
  cols: CandidateColumns,
): (u: UserContext, affinity: ArrayLike<number>, out: Float32Array | Float64Array, offset: number) => void {
  const nc = cols.categories.length;
  const share = new Float64Array(nc);
  const countLog = new Float64Array(nc);
  const top = new Float64Array(nc);
  const last = new Float64Array(nc);
  const { count, categories, categoryOf, discount, isStore, locations } = cols;
  return (u, affinity, out, offset) => {
    for (let ci = 0; ci < nc; ci++) {
      const category = categories[ci] as string;
      const inCat = u.categories[category] ?? 0;
      share[ci] = u.total > 0 ? inCat / u.total : 0;
      countLog[ci] = log1p(inCat);
      top[ci] = u.top !== undefined && u.top === category ? 1 : 0;
      last[ci] = u.lastCategory === category ? 1 : 0;
    }
    const purchasesLog = log1p(u.total);
    const { location, recency, hourSin, hourCos, weekend, deliveredLog, ignoredLog } = u;
    const { openRate, clickRate, hourActivity, activityLog } = u;
    let o = offset;
    for (let k = 0; k < count; k++) {
      const ci = categoryOf[k] as number;
      const at = locations[k];
      const km = location && at ? distanceKm(location, at) : -1;
      out[o] = clamp01(affinity[k] as number);
      out[o + 1] = share[ci] as number;
      out[o + 2] = countLog[ci] as number;
      out[o + 3] = purchasesLog;
      out[o + 4] = top[ci] as number;
      out[o + 5] = last[ci] as number;
      out[o + 6] = recency;
      out[o + 7] = discount[k] as number;
      out[o + 8] = km < 0 ? 0 : max(0, 1 - km / 5);
      out[o + 9] = km < 0 ? 1 : min(1, log1p(km) / 4);
      out[o + 10] = km < 0 ? 0 : 1;
      out[o + 11] = isStore[k] as number;
      out[o + 12] = hourSin;
      out[o + 13] = hourCos;
      out[o + 14] = weekend;
      out[o + 15] = deliveredLog;
      out[o + 16] = ignoredLog;
      out[o + 17] = openRate;
      out[o + 18] = clickRate;
      out[o + 19] = hourActivity;
      out[o + 20] = activityLog;
      o += FEATURE_COUNT;
    }
  };
}

/** Writes the vector of `x` into `out` at `offset` (a row of a batch). */
export function writeFeatures(x: FeatureInput, out: Float32Array | Float64Array, offset = 0): void {
  writeRow(userContext(x), x.candidate, x.affinity, out, offset);
}

export function featureVector(x: FeatureInput): Float32Array {
  const out = new Float32Array(FEATURE_COUNT);
  writeFeatures(x, out);
  return out;
}

function clamp01(v: number): number {
  return Number.isFinite(v) ? min(1, max(0, v)) : 0;
}

/** Index of a feature by name. */
export function featureIndex(name: FeatureName): number {
  return FEATURE_NAMES.indexOf(name);
}
