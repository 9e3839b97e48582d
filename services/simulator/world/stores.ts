/**
 * The world's stores: every category covered first (when there are enough stores), then more stores where
 * more people shop, spread around the city center.
 */
import type { GeoPoint } from '../../../shared/schemas/common';
import { KM_PER_DEG_LAT, STORE_NAME_PREFIXES, prettyCategory } from './catalog';
import { createRng } from './rng';

// Local bindings: inside jest's vm context every Math.* lookup is ~40x slower than a call through one.
const { PI, cos, pow, round } = Math;

export interface StoreSpec {
  readonly index: number;
  readonly id: string;
  readonly name: string;
  readonly category: string;
  readonly categoryIndex: number;
  readonly lat: number;
  readonly lon: number;
  /** Standing discount, 0..50. */
  readonly discount: number;
}

export function createStores(
  seed: number,
  count: number,
  categories: readonly string[],
  popularity: Float64Array,
  center: GeoPoint,
  spreadKm: number,
): StoreSpec[] {
  const rng = createRng(seed, 'stores');
  const C = categories.length;
  // Cover every category first (when there are enough stores), then more stores where more people shop.
  const coverage = rng.shuffle(categories.map((_, c) => c));
  const weights = Array.from(popularity, (p) => pow(p, 0.8) * rng.logNormal(0, 0.3));
  const latDeg = (spreadKm * 0.9) / KM_PER_DEG_LAT;
  const lonDeg = (spreadKm * 0.9) / (KM_PER_DEG_LAT * cos((center.lat * PI) / 180));
  const out: StoreSpec[] = [];
  for (let i = 0; i < count; i++) {
    const c = i < C ? (coverage[i] as number) : rng.weightedIndex(weights);
    const category = categories[c] as string;
    out.push({
      index: i,
      id: `s${i}`,
      name: `${rng.pick(STORE_NAME_PREFIXES)} ${prettyCategory(category)} #${i}`,
      category,
      categoryIndex: c,
      lat: round6(center.lat + rng.normal(0, latDeg)),
      lon: round6(center.lon + rng.normal(0, lonDeg)),
      discount: rng.bernoulli(0.5) ? 0 : 5 * rng.intBetween(1, 10),
    });
  }
  return out;
}

function round6(x: number): number {
  return round(x * 1e6) / 1e6;
}
