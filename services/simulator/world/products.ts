/**
 * The world's products, for product recommendations: a dozen per category, each with a unit price (below
 * the category's typical basket), a standing discount for some, and a Zipf popularity within its category.
 * A purchase carries one to a few line items of its category: each user has a favourite product per
 * category that they buy again and again (six line items in ten), the rest follow popularity.
 *
 * Ground truth added after the rest of the world: every draw here comes from random streams of their own
 * (labels 'products' and 'line-items'), so the users, stores, sales and purchases of a seed, and therefore
 * every policy's results that do not read products, stay exactly what they were.
 */
import { createRng, hashSeed, Rng } from './rng';
import type { World } from './world';

// Local bindings: inside jest's vm context every Math.* lookup is ~40x slower than a call through one.
const { max, round } = Math;

/** Products per category. */
export const PRODUCTS_PER_CATEGORY = 12;

export interface ProductSpec {
  readonly id: string;
  readonly title: string;
  readonly category: string;
  readonly categoryIndex: number;
  /** Unit price, EUR. */
  readonly price: number;
  /** Standing discount, percent. */
  readonly discount: number;
}

export interface WorldProducts {
  readonly all: readonly ProductSpec[];
  /** `byCategory[c]`: the products of category c, most popular first. */
  readonly byCategory: readonly (readonly ProductSpec[])[];
  readonly byId: ReadonlyMap<string, ProductSpec>;
}

const cache = new WeakMap<World, WorldProducts>();

/** The world's products (derived from its seed; computed once per world). */
export function productsOf(world: World): WorldProducts {
  const hit = cache.get(world);
  if (hit) return hit;
  const rng = createRng(world.seed, 'products');
  const byCategory = world.categories.map((category, c) =>
    Array.from({ length: PRODUCTS_PER_CATEGORY }, (_, k) => ({
      id: `pr-${category}-${k}`,
      title: `${category.replace(/_/g, ' ')} item ${k}`,
      category,
      categoryIndex: c,
      price: max(0.5, round((world.basketEur[c] as number) * rng.logNormal(-1, 0.5) * 100) / 100),
      discount: rng.bernoulli(0.3) ? 5 * rng.intBetween(1, 6) : 0,
    })),
  );
  const all = byCategory.flat();
  const out = { all, byCategory, byId: new Map(all.map((p) => [p.id, p])) };
  cache.set(world, out);
  return out;
}

/** Zipf weights of a category's products (rank 1 first). */
const ZIPF = Array.from({ length: PRODUCTS_PER_CATEGORY }, (_, k) => 1 / (k + 1));

/** The line items of a purchase `purchaseId` by `user` in category `c`: a stream of their own. */
export function lineItemsOf(
  world: World,
  user: string,
  c: number,
  purchaseId: string,
): Array<{ productId: string; quantity: number; unitPrice: number }> {
  const products = productsOf(world).byCategory[c] ?? [];
  if (products.length === 0) return [];
  const favourite =
    products[new Rng(hashSeed(world.seed, 'favourite-product', user, c)).weightedIndex(ZIPF)]!;
  const rng = createRng(world.seed, 'line-items', purchaseId);
  const n = 1 + rng.poisson(0.5);
  const out = new Map<string, { productId: string; quantity: number; unitPrice: number }>();
  for (let k = 0; k < n; k++) {
    const p = rng.bernoulli(0.6) ? favourite : products[rng.weightedIndex(ZIPF)]!;
    const line = out.get(p.id);
    if (line) line.quantity++;
    else out.set(p.id, { productId: p.id, quantity: 1, unitPrice: p.price });
  }
  return [...out.values()];
}
