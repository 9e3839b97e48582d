/**
 * `npm run offline -- synth-recs --users N --products P`: a line-item purchase log with known structure, for
 * the product-recommendation evaluation and the Spark job's benchmark.
 *
 * The world: products fall in categories (a hundred products each), have a price (a log-normal level per
 * category times a log-normal spread), a style (one of four) and, for half of them (consumables), a
 * repurchase cycle of 7 to 40 days. Product popularity within a category is Zipf. Each user has three
 * favourite categories (Zipf over categories), a style and a price level. On each shopping trip (`rate` a
 * day) a user buys again the staples that are due (each consumable they bought may become one, and comes
 * back about once a cycle; `staples` is the chance that one does), and one or two new products: a favourite category seven times in ten, the
 * user's style three times as likely, a product far above their price level mostly put back. Rows:
 * `user_id,timestamp,item,quantity,price,category`, timestamps in epoch seconds, in time order.
 * Deterministic from `--seed`.
 */
import { createRng } from '../simulator/world/rng';
import {
  UsageError,
  flags,
  numberFlag,
  positive,
  positiveInteger,
  type CommandIo,
  type Subcommand,
} from './command';
import { draw, writeCsv } from './synth-basket.command';

const USAGE = `npm run offline -- synth-recs --users N [flags]
  --users N                users (required)
  --products 2000          products (a category per hundred)
  --days 90                days of purchases
  --rate 0.1               shopping trips per user per day
  --staples 0.5            chance that a consumable bought becomes a staple the user buys again each cycle
  --seed 7
  --start 2026-01-05       day 0 (UTC)
  --out FILE.csv           default stdout`;

const DAY_MS = 86_400_000;
const STYLES = 4;

export interface SynthRecsOptions {
  users: number;
  products: number;
  days: number;
  rate: number;
  /** Chance that a consumable bought becomes one of the user's staples. Default 0.5. */
  staples: number;
  seed: number;
  start: number;
}

/** A row: user, instant (ms), product, quantity, unit price. */
export type SynthRow = [number, number, number, number, number];

function cumulativeOf(weights: readonly number[]): Float64Array {
  const c = new Float64Array(weights.length);
  let s = 0;
  weights.forEach((w, i) => (c[i] = s += w));
  return c;
}

export interface SynthCatalog {
  category: Int32Array;
  price: Float64Array;
  /** Days, 0 for a product nobody buys twice on purpose. */
  cycle: Float64Array;
  categories: number;
}

export function synthCatalog(o: Pick<SynthRecsOptions, 'products' | 'seed'>): SynthCatalog {
  const rng = createRng('synth-recs', o.seed, 'catalog');
  const categories = Math.max(2, Math.round(o.products / 100));
  const level = Array.from({ length: categories }, () => rng.logNormal(3, 0.8));
  const category = new Int32Array(o.products);
  const price = new Float64Array(o.products);
  const cycle = new Float64Array(o.products);
  for (let p = 0; p < o.products; p++) {
    category[p] = p % categories;
    price[p] = Math.round(level[p % categories]! * rng.logNormal(0, 0.4) * 100) / 100 || 0.01;
    cycle[p] = rng.bernoulli(0.5) ? rng.uniform(7, 40) : 0;
  }
  return { category, price, cycle, categories };
}

/** Line items in time order. */
export function synthLineItems(o: SynthRecsOptions): { rows: SynthRow[]; catalog: SynthCatalog } {
  const catalog = synthCatalog(o);
  const rng = createRng('synth-recs', o.seed, 'behaviour');
  const { categories } = catalog;
  const catCumulative = cumulativeOf(Array.from({ length: categories }, (_, c) => 1 / Math.pow(c + 1, 1.1)));
  // Per category and style: the products of the category, Zipf by rank, the style's three times heavier.
  const members: number[][] = Array.from({ length: categories }, () => []);
  for (let p = 0; p < o.products; p++) members[catalog.category[p]!]!.push(p);
  const pick = members.map((list) =>
    Array.from({ length: STYLES }, (_, s) =>
      cumulativeOf(list.map((p, r) => (p % STYLES === s ? 3 : 1) / Math.pow(r + 1, 1.0))),
    ),
  );
  const rows: SynthRow[] = [];
  const end = o.start + o.days * DAY_MS;
  for (let u = 0; u < o.users; u++) {
    const fav = [draw(rng, catCumulative), draw(rng, catCumulative), draw(rng, catCumulative)];
    const style = rng.int(STYLES);
    const priceLevel = rng.logNormal(0, 0.3);
    const staples = new Map<number, number>(); // product -> next due (ms)
    let t = o.start + rng.exponential(1 / o.rate) * DAY_MS;
    while (t < end) {
      for (const [p, due] of staples) {
        if (due > t) continue;
        rows.push([u, t, p, 1 + rng.poisson(0.3), catalog.price[p]!]);
        staples.set(p, t + catalog.cycle[p]! * rng.uniform(0.8, 1.2) * DAY_MS);
      }
      const fresh = 1 + (rng.bernoulli(0.4) ? 1 : 0);
      for (let f = 0; f < fresh; f++) {
        const c = rng.bernoulli(0.7) ? fav[rng.int(3)]! : draw(rng, catCumulative);
        const p = members[c]![draw(rng, pick[c]![style]!)]!;
        const ratio = catalog.price[p]! / (priceLevel * Math.exp(3));
        if (ratio > 2 && rng.bernoulli(0.7)) continue;
        rows.push([u, t, p, 1 + rng.poisson(0.3), catalog.price[p]!]);
        if (catalog.cycle[p]! > 0 && !staples.has(p) && rng.bernoulli(o.staples))
          staples.set(p, t + catalog.cycle[p]! * rng.uniform(0.8, 1.2) * DAY_MS);
      }
      t += rng.exponential(1 / o.rate) * DAY_MS;
    }
  }
  rows.sort((x, y) => x[1] - y[1]);
  return { rows, catalog };
}

async function run(argv: string[], io: CommandIo): Promise<number> {
  const v = flags(argv, {
    users: { type: 'string' },
    products: { type: 'string' },
    days: { type: 'string' },
    rate: { type: 'string' },
    staples: { type: 'string' },
    seed: { type: 'string' },
    start: { type: 'string' },
    out: { type: 'string' },
  });
  if (v.users === undefined) throw new UsageError('--users N is required');
  const whole = 'a positive whole number';
  const start = Date.parse(`${v.start ?? '2026-01-05'}T00:00:00Z`);
  if (Number.isNaN(start)) throw new UsageError(`--start must be a date YYYY-MM-DD, got ${v.start}`);
  const o: SynthRecsOptions = {
    users: numberFlag(v.users, 'users', 0, positiveInteger, whole),
    products: numberFlag(v.products, 'products', 2000, (n) => Number.isInteger(n) && n >= 2, 'at least 2'),
    days: numberFlag(v.days, 'days', 90, positiveInteger, whole),
    rate: numberFlag(v.rate, 'rate', 0.1, positive, 'positive'),
    staples: numberFlag(v.staples, 'staples', 0.5, (n) => n >= 0 && n <= 1, 'in [0, 1]'),
    seed: numberFlag(v.seed, 'seed', 7, Number.isInteger, 'a whole number'),
    start,
  };
  const { rows, catalog } = synthLineItems(o);
  await writeCsv(
    v.out,
    io,
    'user_id,timestamp,item,quantity,price,category',
    rows,
    ([u, t, p, q, price]) =>
      `u${u},${(t / 1000).toFixed(0)},p${p},${q},${price.toFixed(2)},c${catalog.category[p]}`,
  );
  io.err(
    `synth-recs: ${rows.length.toLocaleString('en-US')} line items, ${o.users} users, ${o.products} products\n`,
  );
  return 0;
}

export const synthRecsCommand: Subcommand = { usage: USAGE, run };
