/**
 * The case study's heuristic score: 0.5 x affinity + 0.3 x max(0, 1 - distance_km / 5) + 0.2 x discount / 100.
 * A candidate or user without a location gets no distance credit.
 */
import type { GeoPoint } from '../../shared/schemas/common';
import type { Candidate } from '../../shared/schemas/jobs.schema';

const EARTH_KM = 6371.0088;

export function distanceKm(a: GeoPoint, b: GeoPoint): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

export function heuristicScore(candidate: Candidate, userLocation: GeoPoint | undefined): number {
  const near =
    candidate.location && userLocation ? Math.max(0, 1 - distanceKm(candidate.location, userLocation) / 5) : 0;
  return 0.5 * candidate.affinity + 0.3 * near + 0.2 * (candidate.discount / 100);
}
