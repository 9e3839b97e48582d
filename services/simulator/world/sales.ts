/**
 * The daily sales: a few deep discounts in broad-appeal categories, the rest niche. A day's sales are a
 * function of the seed and the day alone, so any day can be generated, inside the run or beyond it.
 */
import { SALE_HOOKS, prettyCategory } from './catalog';
import { DAY_MS, HOUR_MS } from './calendar';
import { createRng } from './rng';

// Local bindings: inside jest's vm context every Math.* lookup is ~40x slower than a call through one.
const { max, min, pow, round } = Math;

export interface SaleSpec {
  readonly id: string;
  readonly day: number;
  readonly title: string;
  readonly category: string;
  readonly categoryIndex: number;
  /** 5..70. */
  readonly discount: number;
  readonly validFrom: number;
  readonly validTo: number;
  readonly deepLink: string;
  /** Broad-appeal category with a deep discount. */
  readonly popular: boolean;
}

/** What a day's sales are drawn from (a World has all of it). */
export interface SaleSource {
  readonly seed: number;
  readonly categories: readonly string[];
  readonly popularity: Float64Array;
  readonly startMs: number;
}

/** The sales published on `day` (deterministic; `world.sales[day]` holds them for the run's days). */
export function createSales(world: SaleSource, day: number, count: number): SaleSpec[] {
  const rng = createRng(world.seed, 'sales', day);
  const C = world.categories.length;
  const byPopularity = Array.from(world.popularity, (p, c) => ({ p, c })).sort((a, b) => b.p - a.p);
  const broad = byPopularity.slice(0, min(6, C));
  const nicheWeights = Array.from(world.popularity, (p) => pow(p, 0.3));
  const popularCount = count === 0 ? 0 : max(1, round(count * 0.1));
  const dayStart = world.startMs + day * DAY_MS;
  const out: SaleSpec[] = [];
  for (let n = 0; n < count; n++) {
    const popular = n < popularCount;
    const c = popular
      ? (broad[rng.weightedIndex(broad.map((b) => b.p))] as { c: number }).c
      : rng.weightedIndex(nicheWeights);
    const discount = popular ? rng.intBetween(40, 70) : 5 + round(35 * rng.beta(1.5, 2.5));
    const upcoming = rng.bernoulli(0.2);
    const validFrom = upcoming
      ? dayStart + rng.intBetween(6, 18) * HOUR_MS
      : dayStart - rng.intBetween(0, 12) * 15 * 60_000;
    const validTo = validFrom + rng.intBetween(1, 3) * DAY_MS;
    const category = world.categories[c] as string;
    const id = `sale-${day}-${n}`;
    out.push({
      id,
      day,
      title: `${rng.pick(SALE_HOOKS)}: ${discount}% off ${prettyCategory(category).toLowerCase()}`,
      category,
      categoryIndex: c,
      discount,
      validFrom,
      validTo,
      deepLink: `https://shop.example/sale/${id}`,
      popular,
    });
  }
  return out;
}

/** The sales of a day: precomputed for the run's days, generated on the fly beyond them. */
export function salesOfDay(
  world: SaleSource & { readonly sales: ReadonlyArray<readonly SaleSpec[]>; readonly salesPerDay: number },
  day: number,
): readonly SaleSpec[] {
  return world.sales[day] ?? createSales(world, day, world.salesPerDay);
}
