/**
 * Score: rates every (user, candidate) pair and keeps each user's best candidate within the strategy. Users
 * who picked the same candidate travel together, so a campaign's pick stays one compact group.
 *
 * Two scorers: the heuristic on the features its strategy gives a candidate, or, when a model is in
 * service, the learned model's expected value `openWeight x p_open + clickWeight x p_click` on the feature
 * schema of services/ranking/features.ts, every pair of the job in one ONNX run. A batch is scored by one
 * of them from start to end; if the model fails on a batch, the heuristic scores that batch (logged), so
 * no batch is lost to a model.
 */
import { SchemaError } from '../../shared/errors';
import { fnv1a } from '../../shared/ids';
import type { Logger } from '../../shared/logger';
import type { StageHandler } from '../../shared/stage';
import type { Candidate, CandidatePick, Group } from '../../shared/schemas/jobs.schema';
import {
  FEATURE_COUNT,
  FEATURE_SCHEMA_HASH,
  NO_ENGAGEMENT,
  candidateColumns,
  localClock,
  rowWriter,
  userContext,
  type EngagementCounts,
} from '../ranking/features';
import { runModel, type LoadedModel, type ModelServer } from '../ranking/model-server';
import type { CandidateFeatures, StrategyPlugin } from '../strategies';
import type { PlacesStore, State, Tracer, TraceInput, UsersStore, UserState } from '../state';
import { locationAt } from '../places/places';

export type Scorer = (candidate: Candidate, user: UserState, features: CandidateFeatures) => number;

/** Pure: each user's best candidate of the group, gathered per candidate. Ties go to the earlier candidate. */
export function scoreGroup(
  group: Group,
  users: ReadonlyMap<string, UserState>,
  strategy: Pick<StrategyPlugin, 'features' | 'usesPlaces'>,
  scorer: Scorer,
): CandidatePick[] {
  return pickBest(
    group,
    users,
    (user, c) => scorer(c, user, strategy.features(c, user)),
    strategy.usesPlaces,
  );
}

/** Pure: as scoreGroup, with a score for each (user, candidate index). */
export function pickBest(
  group: Group,
  users: ReadonlyMap<string, UserState>,
  scoreOf: (user: UserState, candidate: Candidate, candidateIndex: number) => number,
  /** Score from the user's frequent place at the target's hour, not where they were last seen. */
  usesPlaces = false,
): CandidatePick[] {
  const picks = new Map<string, CandidatePick>();
  for (const userId of group.userIds) {
    const user = users.get(userId);
    if (!user) continue;
    // The distance is taken from where the user will be: their frequent place at the target's hour.
    const seen = usesPlaces && user.places ? { ...user, location: locationAt(user, group.at) } : user;
    let best: Candidate | undefined;
    let bestScore = -Infinity;
    for (let k = 0; k < group.candidates.length; k++) {
      const c = group.candidates[k] as Candidate;
      const s = scoreOf(seen, c, k);
      if (s > bestScore) {
        best = c;
        bestScore = s;
      }
    }
    if (best) addPick(picks, group, best, userId, bestScore);
  }
  return [...picks.values()];
}

/** Adds a user to their candidate's pick (created on the candidate's first user). */
function addPick(
  picks: Map<string, CandidatePick>,
  group: Group,
  candidate: Candidate,
  userId: string,
  score: number,
): void {
  let pick = picks.get(candidate.id);
  if (!pick) {
    pick = {
      strategy: group.strategy,
      targetId: group.targetId,
      at: group.at,
      candidate,
      userIds: [],
      scores: [],
    };
    picks.set(candidate.id, pick);
  }
  pick.userIds.push(userId);
  pick.scores.push(Math.round(score * 1e6) / 1e6);
}

/** What the learned scorer reads beyond the users: engagement counters and engagement-hour counters. */
export interface ModelScoring {
  server: Pick<ModelServer, 'acquire' | 'release'>;
  telemetry: Pick<State['telemetry'], 'engagementOf'>;
  timing: Pick<State['timing'], 'read'>;
  /** Weights of p_open and p_click in the score. */
  weights: { open: number; click: number };
  logger: Pick<Logger, 'warn'>;
}

/**
 * Local clocks by instant, then zone: luxon is the dearest part of a row, and a campaign's batches share
 * their instant. Bounded: cleared when it holds `CLOCK_INSTANTS` instants (real-time triggers each bring
 * their own).
 */
const CLOCK_INSTANTS = 256;
type LocalClock = { hour: number; weekday: number };
const clockCache = new Map<number, Map<string, LocalClock>>();

function clocksAt(at: number): Map<string, LocalClock> {
  let clocks = clockCache.get(at);
  if (!clocks) {
    if (clockCache.size >= CLOCK_INSTANTS) clockCache.clear();
    clocks = new Map<string, LocalClock>();
    clockCache.set(at, clocks);
  }
  return clocks;
}

/**
 * Pure: the feature rows of every (user, candidate) pair of the groups, in group, user, candidate order
 * (a user missing from `users` has no rows). Each row equals `featureVector` of its pair; the work is
 * shared where the values are: the local clock once per (zone, instant), the user's columns once per user,
 * the candidate's once per group, the category columns once per (user, category), the strategy's affinity
 * once per user when it offers `affinities`. One Float32Array, no per-row objects.
 */
export function featureRows(
  groups: readonly Group[],
  users: ReadonlyMap<string, UserState>,
  strategyOf: (g: Group) => Pick<StrategyPlugin, 'features' | 'affinities'>,
  engagement: ReadonlyMap<string, EngagementCounts>,
  hours: Pick<ReadonlyMap<string, ArrayLike<number>>, 'get'>,
  /** Where to write, when it has exactly the rows' length (every cell is written); else a new array. */
  into?: Float32Array,
): { x: Float32Array; n: number } {
  let n = 0;
  for (const g of groups) for (const u of g.userIds) if (users.has(u)) n += g.candidates.length;
  const x = into?.length === n * FEATURE_COUNT ? into : new Float32Array(n * FEATURE_COUNT);
  let offset = 0;
  for (const g of groups) {
    const strategy = strategyOf(g);
    const { candidates } = g;
    const k = candidates.length;
    if (k === 0) continue;
    const clocks = clocksAt(g.at);
    const write = rowWriter(candidateColumns(candidates));
    const affinity = new Float64Array(k);
    for (const userId of g.userIds) {
      const user = users.get(userId);
      if (!user) continue;
      let clock = clocks.get(user.timeZone);
      if (!clock) clocks.set(user.timeZone, (clock = localClock(g.at, user.timeZone)));
      const ctx = userContext(
        {
          user,
          engagement: engagement.get(userId) ?? NO_ENGAGEMENT,
          hourCounts: hours.get(userId),
          at: g.at,
        },
        clock,
      );
      if (strategy.affinities) strategy.affinities(candidates, user, affinity);
      else
        for (let i = 0; i < k; i++)
          affinity[i] = strategy.features(candidates[i] as Candidate, user).affinity;
      write(ctx, affinity, x, offset);
      offset += k * FEATURE_COUNT;
    }
  }
  return { x, n };
}

/**
 * Pure: each user's best candidate by the model's score `open x pOpen[r] + click x pClick[r]`, row r in
 * featureRows' order; the same picks, in the same order, as pickBest with that score (ties go to the
 * earlier candidate; a user whose every score is NaN gets no pick).
 */
export function pickBestRows(
  groups: readonly Group[],
  users: ReadonlyMap<string, UserState>,
  pOpen: ArrayLike<number>,
  pClick: ArrayLike<number>,
  weights: { open: number; click: number },
): CandidatePick[] {
  const { open, click } = weights;
  const out: CandidatePick[] = [];
  let r = 0;
  for (const g of groups) {
    const k = g.candidates.length;
    const picks = new Map<string, CandidatePick>();
    for (const userId of g.userIds) {
      if (!users.get(userId)) continue;
      let best = -1;
      let bestScore = -Infinity;
      for (let i = 0; i < k; i++, r++) {
        const s = open * (pOpen[r] as number) + click * (pClick[r] as number);
        if (s > bestScore) {
          best = i;
          bestScore = s;
        }
      }
      if (best >= 0) addPick(picks, g, g.candidates[best] as Candidate, userId, bestScore);
    }
    for (const p of picks.values()) out.push(p);
  }
  return out;
}

async function scoreWithModel(
  model: LoadedModel,
  deps: ModelScoring,
  groups: readonly Group[],
  users: ReadonlyMap<string, UserState>,
  strategyOf: (g: Group) => StrategyPlugin,
  context: UserContextReads,
): Promise<CandidatePick[]> {
  const { engagement, hours } = context;
  const spare = spareRows.pop();
  const { x, n } = featureRows(groups, users, strategyOf, engagement, hours, spare);
  try {
    // Drift is counted per day of the decision instants (Herald's clock), never the wall clock.
    const first = groups[0];
    if (model.drift && first && n > 0)
      model.drift.observe(x, n, new Date(first.at).toISOString().slice(0, 10));
    const out =
      n > 0 ? await runModel(model, x, n) : { pOpen: new Float32Array(0), pClick: new Float32Array(0) };
    return pickBestRows(groups, users, out.pOpen, out.pClick, deps.weights);
  } finally {
    // The run is over: the matrix may serve the next batch (batches of a stage are mostly of one size).
    if (spareRows.length < SPARE_ROWS) spareRows.push(x);
    if (spare && spare !== x && spareRows.length < SPARE_ROWS) spareRows.push(spare);
  }
}

/** Feature matrices of finished batches, reused by the next ones: a new 400 kB array a batch costs GC. */
const SPARE_ROWS = 4;
const spareRows: Float32Array[] = [];

/** Where the feature vectors of the picks go (the push that goes out carries its own). */
export interface FeatureLogging {
  /**
   * Share of (user, target) pairs whose pick is logged, 0..1, chosen by a hash of the two (so a retry logs
   * the same ones, and the choice is independent of the outcome). Default 1.
   */
  rate?: number;
  decisions: Pick<State['decisions'], 'recordFeatures'>;
  telemetry: Pick<State['telemetry'], 'engagementOf'>;
  timing: Pick<State['timing'], 'read'>;
}

/** What the feature rows read beyond the users: engagement counters and engagement-hour counters. */
interface UserContextReads {
  engagement: ReadonlyMap<string, EngagementCounts>;
  hours: Pick<ReadonlyMap<string, ArrayLike<number>>, 'get'>;
}

async function readContext(
  deps: Pick<FeatureLogging, 'telemetry' | 'timing'>,
  users: ReadonlyMap<string, UserState>,
): Promise<UserContextReads> {
  const [engagement, timing] = await Promise.all([
    deps.telemetry.engagementOf([...users.keys()]),
    deps.timing.read([...users.values()].map((u) => ({ userId: u.userId, tz: u.timeZone }))),
  ]);
  // A view, not a copy: a batch reads each user's counters once.
  return { engagement, hours: { get: (userId) => timing.user.get(userId)?.values } };
}

/** Records the feature vector of each user's pick, whichever scorer picked it. */
async function logPicks(
  log: FeatureLogging,
  picks: readonly CandidatePick[],
  users: ReadonlyMap<string, UserState>,
  strategyOf: (g: Group) => StrategyPlugin,
  context: UserContextReads | null,
): Promise<void> {
  const groups: Group[] = picks.map((p) => ({
    strategy: p.strategy,
    targetId: p.targetId,
    at: p.at,
    candidates: [p.candidate],
    userIds: p.userIds.filter((u) => users.has(u) && sampled(u, p.targetId, log.rate ?? 1)),
  }));
  const picked = new Map<string, UserState>();
  for (const g of groups) for (const u of g.userIds) picked.set(u, users.get(u) as UserState);
  if (picked.size === 0) return;
  // The model's path already read every user's context; the heuristic's reads it for the picked users only.
  const { engagement, hours } = context ?? (await readContext(log, picked));
  const { x } = featureRows(groups, picked, strategyOf, engagement, hours);
  const entries: Array<{ userId: string; candidateId: string; json: string }> = [];
  let row = 0;
  for (const g of groups) {
    for (const userId of g.userIds) {
      const values = Array.from(x.subarray(row * FEATURE_COUNT, (row + 1) * FEATURE_COUNT), round6);
      entries.push({
        userId,
        candidateId: (g.candidates[0] as Candidate).id,
        json: JSON.stringify({ schema: FEATURE_SCHEMA_HASH, values }),
      });
      row++;
    }
  }
  await log.decisions.recordFeatures(entries);
}

/** Pure: the trace entries of a batch's picks, for users traced in this lane. */
function pickTrace(
  tracer: Pick<Tracer, 'traced'>,
  groups: readonly Group[],
  picks: readonly CandidatePick[],
  lane: 'realtime' | 'bulk',
): Array<{ userId: string; entry: TraceInput }> {
  const traced: Array<{ userId: string; entry: TraceInput }> = [];
  const offered = new Map(groups.map((g) => [`${g.strategy}|${g.targetId}`, g.candidates.length]));
  for (const p of picks) {
    p.userIds.forEach((userId, i) => {
      if (!tracer.traced(userId, lane)) return;
      traced.push({
        userId,
        entry: {
          stage: 'score',
          what: 'picked',
          strategy: p.strategy,
          targetId: p.targetId,
          detail: {
            candidate: `${p.candidate.kind}:${p.candidate.id}`,
            category: p.candidate.category,
            score: p.scores[i],
            of: offered.get(`${p.strategy}|${p.targetId}`) ?? 0,
          },
        },
      });
    });
  }
  return traced;
}

/** Whether (user, target) is in a `rate` sample: FNV-1a of both, scaled to [0, 1). */
export function sampled(userId: string, targetId: string, rate: number): boolean {
  if (rate >= 1) return true;
  if (rate <= 0) return false;
  return fnv1a(`${userId}|${targetId}`) / 4294967296 < rate;
}

function round6(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}

export function createScoreStage(deps: {
  users: Pick<UsersStore, 'getUsers'>;
  /** Frequent places (at Herald's clock), read for the users of strategies that score from them. */
  places?: { store: Pick<PlacesStore, 'getPlaces'>; now: () => number };
  strategies: Map<string, StrategyPlugin>;
  scorer: Scorer;
  /** Records each traced user's pick and its score for `explain`. */
  trace?: Tracer;
  /** The learned model, when one may be in service. */
  model?: ModelScoring;
  /** Record each pick's feature vector for the push log (the model's training data). */
  featureLog?: FeatureLogging;
}): StageHandler<'score'> {
  return async ({ groups }, ctx) => {
    const strategyOf = (g: Group) => {
      const s = deps.strategies.get(g.strategy);
      if (!s) throw new SchemaError(`group ${g.targetId}`, `unknown or disabled strategy ${g.strategy}`);
      return s;
    };
    const model = deps.model?.server.acquire() ?? null;
    try {
      // Only strategies whose features read the purchase mix pay for loading it; the model and the feature
      // log always read it.
      const categories =
        model !== null ||
        deps.featureLog !== undefined ||
        groups.some((g) => strategyOf(g).usesCategories === true);
      const users = await deps.users.getUsers([...new Set(groups.flatMap((g) => g.userIds))], { categories });
      const placed = [...new Set(groups.filter((g) => strategyOf(g).usesPlaces).flatMap((g) => g.userIds))];
      if (deps.places && placed.length > 0) {
        const places = await deps.places.store.getPlaces(placed, deps.places.now());
        for (const [id, list] of places) {
          const u = users.get(id);
          if (u) u.places = list;
        }
      }
      let picks: CandidatePick[] | null = null;
      let context: UserContextReads | null = null;
      if (model && deps.model) {
        try {
          context = await readContext(deps.model, users);
          picks = await scoreWithModel(model, deps.model, groups, users, strategyOf, context);
        } catch (err) {
          if (err instanceof SchemaError) throw err;
          deps.model.logger.warn(
            { version: model.version, err: String(err) },
            `model ${model.version} failed on a batch; the heuristic scored it`,
          );
        }
      }
      picks ??= groups.flatMap((g) => scoreGroup(g, users, strategyOf(g), deps.scorer));
      if (deps.featureLog) await logPicks(deps.featureLog, picks, users, strategyOf, context);
      if (deps.trace) await deps.trace.record(pickTrace(deps.trace, groups, picks, ctx.lane));
      return picks.length ? [{ queue: 'conciliate' as const, payload: { picks } }] : [];
    } finally {
      if (model) deps.model?.server.release(model);
    }
  };
}
