/**
 * The case study's heuristic score: 0.5 x affinity + 0.3 x max(0, 1 - distance_km / 5) + 0.2 x discount / 100.
 * The affinity is the strategy's feature of the candidate for the user. A candidate or user without a
 * location gets no distance credit.
 */
import { distanceKm } from '../../shared/geo';
import type { GeoPoint } from '../../shared/schemas/common';
import type { Candidate } from '../../shared/schemas/jobs.schema';
import type { CandidateFeatures } from '../strategies';
import type { UserState } from '../state';

export function heuristicScore(
  candidate: Pick<Candidate, 'location' | 'discount'>,
  affinity: number,
  userLocation: GeoPoint | undefined,
): number {
  const near =
    candidate.location && userLocation
      ? Math.max(0, 1 - distanceKm(candidate.location, userLocation) / 5)
      : 0;
  return 0.5 * affinity + 0.3 * near + 0.2 * (candidate.discount / 100);
}

/** The score stage's heuristic scorer. */
export function rankScore(candidate: Candidate, user: UserState, features: CandidateFeatures): number {
  return heuristicScore(candidate, features.affinity, user.location);
}
