/**
 * The case study's heuristic score: 0.5 x affinity + 0.3 x max(0, 1 - distance_km / 5) + 0.2 x discount / 100.
 * A candidate or user without a location gets no distance credit.
 */
import { distanceKm } from '../../shared/geo';
import type { GeoPoint } from '../../shared/schemas/common';
import type { Candidate } from '../../shared/schemas/jobs.schema';
import type { UserState } from '../state/state-store';

export function heuristicScore(candidate: Candidate, userLocation: GeoPoint | undefined): number {
  const near =
    candidate.location && userLocation
      ? Math.max(0, 1 - distanceKm(candidate.location, userLocation) / 5)
      : 0;
  return 0.5 * candidate.affinity + 0.3 * near + 0.2 * (candidate.discount / 100);
}

/** The category the user buys most in, if any (ties go to the first in name order). */
export function dominantCategory(
  categories: Readonly<Record<string, number>> | undefined,
): string | undefined {
  let best: string | undefined;
  let n = 0;
  for (const [c, k] of Object.entries(categories ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    if (k > n) [best, n] = [c, k];
  }
  return best;
}

/**
 * The affinity of a user for a candidate. A store carries its market-basket affinity. A segment candidate
 * is 1 for the users of its segment, 0.5 for the catch-all ('*') and 0 otherwise, so each user lands in
 * their segment or the catch-all. Any other sale is the share of the user's purchases in its category.
 */
export function userAffinity(candidate: Candidate, user: UserState): number {
  if (candidate.kind === 'store') return candidate.affinity;
  if (candidate.segment !== undefined) {
    if (candidate.segment === '*') return 0.5;
    return candidate.segment === dominantCategory(user.categories) ? 1 : 0;
  }
  const counts = Object.values(user.categories ?? {});
  const total = counts.reduce((a, b) => a + b, 0);
  return total > 0 ? (user.categories?.[candidate.category] ?? 0) / total : 0;
}

/** The score stage's heuristic: the case study's formula over the user's affinity for the candidate. */
export function rankScore(candidate: Candidate, user: UserState): number {
  return heuristicScore({ ...candidate, affinity: userAffinity(candidate, user) }, user.location);
}
