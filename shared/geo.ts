import type { GeoPoint } from './schemas/common';

// Local bindings: inside jest's vm context every Math.* lookup is far slower than a call through one.
const { PI, asin, cos, min, sin, sqrt } = Math;
const EARTH_KM = 6371.0088;

/** Great-circle distance in km (haversine). */
export function distanceKm(a: GeoPoint, b: GeoPoint): number {
  const rad = PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = sin(dLat / 2) ** 2 + cos(a.lat * rad) * cos(b.lat * rad) * sin(dLon / 2) ** 2;
  return 2 * EARTH_KM * asin(min(1, sqrt(h)));
}
