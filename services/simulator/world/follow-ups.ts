/**
 * The world's follow-up table: which categories tend to follow a purchase in each category, and how
 * strongly. It is the simulator's own ground truth, read from the same JSON format as Herald's affinity file
 * (infra/data/affinity.json) but parsed here: the yardstick must not move when Herald's schema does.
 */
import { z } from 'zod';

/** Categories travel in the events the world produces, so they keep the events' slug rule. */
const Category = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9_-]+$/, 'lower-case slug');

/** `{ version: 1, categories, follows: { A: [{ category: B, affinity }] } }`, at most 255 categories (a byte per user's top one). */
export const FollowUpTableSchema = z
  .object({
    version: z.literal(1),
    categories: z.array(Category).min(1),
    follows: z.record(
      Category,
      z.array(z.object({ category: Category, affinity: z.number().min(0).max(1) })),
    ),
  })
  .refine((f) => f.categories.length <= 255, {
    message: 'at most 255 categories',
    path: ['categories'],
  });
export type FollowUpTable = z.infer<typeof FollowUpTableSchema>;

export interface FollowEdge {
  readonly to: number;
  readonly affinity: number;
}

export interface FollowUps {
  readonly categories: readonly string[];
  readonly categoryIndex: ReadonlyMap<string, number>;
  /** `follows[a]`: categories that follow category `a`, with their affinity. */
  readonly follows: ReadonlyArray<readonly FollowEdge[]>;
}

/** Parses a follow-up table (throws on a malformed one) and indexes it by category. */
export function parseFollowUps(json: unknown): FollowUps {
  const table = FollowUpTableSchema.parse(json);
  const categories = table.categories;
  const C = categories.length;
  const categoryIndex = new Map(categories.map((c, i) => [c, i] as const));
  if (categoryIndex.size !== C) throw new RangeError('createWorld: affinity categories must be unique');
  const follows = categories.map((c) =>
    (table.follows[c] ?? []).map((e) => {
      const to = categoryIndex.get(e.category);
      if (to === undefined)
        throw new RangeError(`createWorld: affinity ${c} -> ${e.category}: unknown category`);
      return { to, affinity: e.affinity };
    }),
  );
  return { categories, categoryIndex, follows };
}
