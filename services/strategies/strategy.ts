/**
 * A strategy is a plugin (DESIGN rule 10). It declares its settings (a zod shape that Herald's config
 * composes), what triggers it (events from ingest's topics, a campaign schedule, or both), how a trigger
 * becomes a target (what could be notified, to whom), the features its candidates are scored on, and how
 * its pushes read. The pipeline and the scheduler know no strategy by name: adding one touches its folder
 * and one line in index.ts.
 */
import type { z } from 'zod';
import type { IngestTopic, TopicEvent } from '../../shared/topics';
import type { GeoPoint } from '../../shared/schemas/common';
import type { Candidate, Target, Trigger } from '../../shared/schemas/jobs.schema';
import type { ProductsStore, SaleState, StoreState, UserState } from '../state';
import type { MinedTable } from '../affinity/basket-table';

/** What targeting may read. */
export interface Catalog {
  storesInCategories(categories: readonly string[]): Promise<StoreState[]>;
  activeSales(now: number, day: string): Promise<Array<SaleState & { clicks: number }>>;
  /** The current mined follow-up table (services/affinity), or null before the first build. */
  basketTable?(): Promise<MinedTable | null>;
  /** Live stores within `radiusKm` of a point, nearest first, at most `limit`. */
  storesNear?(
    point: GeoPoint,
    radiusKm: number,
    limit: number,
  ): Promise<Array<StoreState & { distanceKm: number }>>;
  /** A user's purchases per category. */
  userCategories?(userId: string): Promise<Record<string, number>>;
  /** Products, users' line items and the trained recommendations (product recommendations). */
  products?: Pick<
    ProductsStore,
    'current' | 'userRecs' | 'items' | 'popular' | 'livePopular' | 'history' | 'getProducts'
  > &
    Partial<Pick<ProductsStore, 'histories' | 'usersRecs'>>;
  /**
   * Claims the cooldown of each (user, id) under `scope` for `token`; resolves to the ids free (or already
   * held by the same token, so a retry gets its claims back).
   */
  claimCooldowns?(
    scope: string,
    userId: string,
    ids: readonly string[],
    token: string,
    cooldownMs: number,
  ): Promise<string[]>;
  /**
   * `claimCooldowns` for several claims at once, applied in the order given (a claim sees those before
   * it); resolves to each claim's free ids. Optional: without it, a strategy claims one call at a time.
   */
  claimCooldownsMany?(
    scope: string,
    claims: ReadonlyArray<{ userId: string; ids: readonly string[]; token: string }>,
    cooldownMs: number,
  ): Promise<string[][]>;
}

/** A store as a candidate: a visit to suggest, worth `affinity` to the user, until `deadline`. */
export function storeCandidate(s: StoreState, affinity: number, deadline: number): Candidate {
  return {
    id: s.storeId,
    kind: 'store',
    category: s.category,
    title: s.name,
    discount: s.discount,
    affinity,
    location: s.location,
    deepLink: `herald://store/${s.storeId}`,
    deadline,
  };
}

export interface Rendered {
  title: string;
  body: string;
  deepLink: string;
}

/** What the score stage rates a candidate on, beyond the candidate itself (distance, discount). */
export interface CandidateFeatures {
  /** How well the candidate fits the user, 0..1. */
  affinity: number;
}

/** An ingest event of one of the topics a strategy listens to. */
export type IngestEvent = { [K in IngestTopic]: { topic: K; event: TopicEvent<K> } }[IngestTopic];

export interface StrategyPlugin {
  readonly name: string;
  /** Real time: the ingest topics this strategy reacts to, and the trigger an event makes (or null). */
  readonly events?: {
    readonly topics: readonly IngestTopic[];
    trigger(e: IngestEvent, ctx: { now: number }): Trigger | null;
  };
  /** Batch: a campaign the scheduler starts on Herald's clock, and the trigger of a tick. */
  readonly schedule?: {
    /** A cron pattern (5 or 6 fields) read in `tz`. */
    readonly cron: string;
    /** IANA zone of the cron. */
    readonly tz: string;
    trigger(at: number, tz: string): Trigger;
  };
  /** The target of a trigger, or null when there is nothing worth notifying. */
  target(trigger: Trigger, catalog: Catalog): Promise<Target | null>;
  /**
   * The targets of several of this strategy's triggers (those of one target job, in their order), each
   * what `target` gives for it when called one after another, with the reads shared across them.
   * Optional: the target stage calls `target` per trigger without it.
   */
  targetMany?(triggers: readonly Trigger[], catalog: Catalog): Promise<Array<Target | null>>;
  /** Whether `features` reads the user's purchase mix (UserState.categories), which costs a read. */
  readonly usesCategories?: boolean;
  /**
   * Whether the score's distance is taken from the user's frequent place at the hour of the target (read
   * from their places) rather than where they were last seen. Default false.
   */
  readonly usesPlaces?: boolean;
  /** Whether a user must have opted in to location-based pushes (the filter drops the others). */
  readonly needsLocationOptIn?: boolean;
  features(candidate: Candidate, user: UserState): CandidateFeatures;
  /**
   * Optional, for speed: writes `features(candidates[k], user).affinity` into `out[k]` for every candidate,
   * doing the work that depends only on the user once. The score stage's model path calls it once per user
   * of a group instead of `features` once per pair. It must give exactly what `features` gives (the
   * built-in strategies are held to it by test/unit/score-model-path.test.ts). Default: `features` per pair.
   */
  affinities?(candidates: readonly Candidate[], user: UserState, out: Float64Array): void;
  render(candidate: Candidate, locale: string): Rendered;
}

/** A strategy as registered: its name, its settings' shape, and how to build it from them. */
export interface StrategyDefinition<S extends z.ZodRawShape = z.ZodRawShape> {
  readonly name: string;
  /** Environment variables the strategy reads; names must be its own (prefixed with the strategy's). */
  readonly config: S;
  create(config: z.infer<z.ZodObject<S>>): StrategyPlugin;
}

/** Declares a strategy with its settings typed from their shape. */
export function defineStrategy<S extends z.ZodRawShape>(def: StrategyDefinition<S>): StrategyDefinition<S> {
  return def;
}
