/**
 * The market-basket affinity table: for each category, the categories that usually follow a purchase in
 * it, with a weight in 0..1. Loaded from a file for now; mined from purchases later.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { Category } from '../../shared/schemas/common';
import { SchemaError } from '../../shared/errors';
import { describeIssues } from '../../shared/validate';

export const AffinityFile = z.object({
  version: z.literal(1),
  categories: z.array(Category).min(1),
  follows: z.record(Category, z.array(z.object({ category: Category, affinity: z.number().min(0).max(1) }))),
});
export type AffinityFile = z.infer<typeof AffinityFile>;

export interface AffinityTable {
  categories: readonly string[];
  /** Categories that follow `category`, best first. */
  following(category: string): ReadonlyArray<{ category: string; affinity: number }>;
  /** Weight of `to` following `from`, 0 when the table has no such pair. */
  affinity(from: string, to: string): number;
}

export function affinityTable(file: AffinityFile): AffinityTable {
  const follows = new Map<string, Array<{ category: string; affinity: number }>>();
  for (const [from, list] of Object.entries(file.follows)) {
    follows.set(
      from,
      [...list].sort((a, b) => b.affinity - a.affinity),
    );
  }
  return {
    categories: file.categories,
    following: (c) => follows.get(c) ?? [],
    affinity: (from, to) => follows.get(from)?.find((f) => f.category === to)?.affinity ?? 0,
  };
}

export function parseAffinity(json: unknown, where: string): AffinityTable {
  const parsed = AffinityFile.safeParse(json);
  if (!parsed.success) throw new SchemaError(where, describeIssues(parsed.error));
  return affinityTable(parsed.data);
}

export function loadAffinity(path: string): AffinityTable {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new SchemaError(path, `cannot read the affinity table: ${(err as Error).message}`);
  }
  return parseAffinity(json, path);
}
