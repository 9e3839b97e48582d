/**
 * Payloads of the stage queues. Every job carries a batch (DESIGN rule 1): many triggers, targets, users.
 * A fan-out group shares one target and one candidate list across hundreds of users, so a 1M-user campaign
 * is a few thousand jobs of a few KB each, not a million.
 */
import { z } from 'zod';
import { Category, Discount, GeoPoint, Id, Strategy } from './common';
import { DecisionV1 } from './events.schema';

/** Something Herald could push: a store to visit, a sale to open, or products picked for the user. */
export const Candidate = z.object({
  id: Id,
  /** 'product' (product recommendations) added after 'store' and 'sale'. */
  kind: z.enum(['store', 'sale', 'product']),
  category: Category,
  title: z.string().min(1).max(200),
  discount: Discount,
  /** Market-basket affinity of this candidate's category, 0..1. */
  affinity: z.number().min(0).max(1).default(0),
  location: GeoPoint.optional(),
  deepLink: z.string().max(2048).optional(),
  /** Segment policy: the dominant category this candidate is for, or '*' for everyone else. */
  segment: z.string().max(64).optional(),
  /** The candidate is worthless after this instant (epoch ms). */
  deadline: z.number().int().positive().optional(),
});
export type Candidate = z.infer<typeof Candidate>;

/** Something happened that a strategy may act on: a purchase, a campaign's start. */
export const Trigger = z.object({
  strategy: Strategy,
  /** Deterministic: the same event or the same campaign day gives the same id. */
  triggerId: Id,
  /** When it happened (epoch ms). */
  at: z.number().int().nonnegative(),
  /** The user it concerns; absent for a campaign to everyone. */
  userId: Id.optional(),
  /** Strategy-specific fields; the strategy validates them. */
  data: z.record(z.string(), z.unknown()).default({}),
});
export type Trigger = z.infer<typeof Trigger>;

export const Audience = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('user'), userId: Id }),
  /** Every user, paged by cursor: `after` is the last user id of the previous page. */
  z.object({
    kind: z.literal('all'),
    after: z.string().default(''),
    page: z.number().int().nonnegative().default(0),
  }),
]);
export type Audience = z.infer<typeof Audience>;

export const Target = z.object({
  strategy: Strategy,
  targetId: Id,
  at: z.number().int().nonnegative(),
  audience: Audience,
  candidates: z.array(Candidate).min(1).max(1000),
});
export type Target = z.infer<typeof Target>;

/** Users who share a target and its candidates. */
export const Group = z.object({
  strategy: Strategy,
  targetId: Id,
  at: z.number().int().nonnegative(),
  candidates: z.array(Candidate).min(1),
  userIds: z.array(Id).min(1),
});
export type Group = z.infer<typeof Group>;

/** Users for whom one candidate scored best within their strategy; `scores[i]` belongs to `userIds[i]`. */
export const CandidatePick = z.object({
  strategy: Strategy,
  targetId: Id,
  at: z.number().int().nonnegative(),
  candidate: Candidate,
  userIds: z.array(Id).min(1),
  scores: z.array(z.number()).min(1),
});
export type CandidatePick = z.infer<typeof CandidatePick>;

export const TargetJob = z.object({ triggers: z.array(Trigger).min(1) });
export const AudienceJob = z.object({ targets: z.array(Target).min(1) });
export const FilterJob = z.object({ groups: z.array(Group).min(1) });
export const ScoreJob = z.object({ groups: z.array(Group).min(1) });
export const ConciliateJob = z.object({ picks: z.array(CandidatePick).min(1) });
export const SendTimeJob = z.object({ userIds: z.array(Id).min(1) });
/** A campaign's tick: the strategy whose schedule fired, at which instant (epoch ms), read in which zone. */
export const CampaignJob = z.object({
  campaign: Strategy,
  tz: z.string().min(1),
  at: z.number().int().nonnegative(),
});

/** The winner of a user's contact window, as conciliate stores it and send-time reads it. */
export const Winner = z.object({
  decisionId: Id,
  strategy: Strategy,
  targetId: Id,
  candidate: Candidate,
  score: z.number(),
  at: z.number().int().nonnegative(),
  /** The lane it was decided in: delivery traces real-time pushes always, campaign ones for a sample. */
  lane: z.enum(['realtime', 'bulk']).optional(),
  /** The conciliation decision that chose it (value conciliation); push.sent carries it. */
  decision: DecisionV1.optional(),
});
export type Winner = z.infer<typeof Winner>;
