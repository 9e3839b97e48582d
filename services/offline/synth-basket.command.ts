/**
 * `npm run offline -- synth-basket --users N --categories C`: a purchase log with a long tail of categories
 * and a known follow-up structure, for the basket evaluation and the miner's benchmarks. The simulator has
 * 30 well-stocked categories, where no ranking meets a rare pair; real catalogues (merchant codes, product
 * categories) have hundreds to thousands, most of them rare, which is where naive lift fails.
 *
 * The world: category popularity is Zipf (exponent 1.1); each category has `follows` follow-up categories
 * drawn by popularity, each bought with a probability in [0.1, 0.4] within 10 days of a purchase in it;
 * each user has 3 favourite categories that take half of their organic purchases; organic purchases come at
 * `rate` a day. Rows: `user_id,timestamp,category`, timestamps in epoch seconds, in time order.
 * Deterministic from `--seed`.
 */
import { createWriteStream } from 'node:fs';
import { createRng, type Rng } from '../simulator/world/rng';
import {
  UsageError,
  flags,
  numberFlag,
  positive,
  positiveInteger,
  type CommandIo,
  type Subcommand,
} from './command';

const USAGE = `npm run offline -- synth-basket --users N [flags]
  --users N                users (required)
  --categories 1000        categories (Zipf popularity)
  --days 60                days of purchases
  --rate 0.15              organic purchases per user per day
  --follows 2              follow-up categories per category
  --seed 7
  --start 2026-01-05       day 0 (UTC)
  --out FILE.csv           default stdout`;

const DAY_MS = 86_400_000;

export interface SynthOptions {
  users: number;
  categories: number;
  days: number;
  rate: number;
  follows: number;
  seed: number;
  start: number;
}

/** Draws an index from cumulative weights. */
export function draw(rng: Rng, cumulative: Float64Array): number {
  const x = rng.next() * cumulative[cumulative.length - 1]!;
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cumulative[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Purchases as [user, ms, category] in time order. */
export function synthPurchases(o: SynthOptions): Array<[number, number, number]> {
  const rng = createRng('synth-basket', o.seed);
  const cumulative = new Float64Array(o.categories);
  let sum = 0;
  for (let c = 0; c < o.categories; c++) cumulative[c] = sum += 1 / Math.pow(c + 1, 1.1);
  const follows: Array<Array<[number, number]>> = [];
  for (let a = 0; a < o.categories; a++) {
    const list: Array<[number, number]> = [];
    for (let f = 0; f < o.follows; f++) {
      const b = draw(rng, cumulative);
      if (b !== a && !list.some(([x]) => x === b)) list.push([b, rng.uniform(0.1, 0.4)]);
    }
    follows.push(list);
  }
  const rows: Array<[number, number, number]> = [];
  const end = o.start + o.days * DAY_MS;
  for (let u = 0; u < o.users; u++) {
    const favourites = [draw(rng, cumulative), draw(rng, cumulative), draw(rng, cumulative)];
    let t = o.start + (-Math.log(1 - rng.next()) / o.rate) * DAY_MS;
    while (t < end) {
      const a = rng.next() < 0.5 ? favourites[rng.int(3)]! : draw(rng, cumulative);
      rows.push([u, t, a]);
      for (const [b, p] of follows[a]!) {
        if (rng.next() < p) {
          const at = t + rng.uniform(0.02, 10) * DAY_MS;
          if (at < end) rows.push([u, at, b]);
        }
      }
      t += (-Math.log(1 - rng.next()) / o.rate) * DAY_MS;
    }
  }
  return rows.sort((x, y) => x[1] - y[1]);
}

/** Writes `header` and a line per row to `file` (or `io.out` without one), a megabyte at a time. */
export async function writeCsv<T>(
  file: string | undefined,
  io: CommandIo,
  header: string,
  rows: Iterable<T>,
  line: (row: T) => string,
): Promise<void> {
  let text = `${header}\n`;
  const out = file ? createWriteStream(file) : undefined;
  const flush = async () => {
    if (out) {
      if (!out.write(text)) await new Promise<void>((resolve) => out.once('drain', resolve));
    } else io.out(text);
    text = '';
  };
  for (const row of rows) {
    text += `${line(row)}\n`;
    if (text.length > 1 << 20) await flush();
  }
  await flush();
  if (out)
    await new Promise<void>((resolve, reject) =>
      out.end((err?: Error | null) => (err ? reject(err) : resolve())),
    );
}

async function run(argv: string[], io: CommandIo): Promise<number> {
  const v = flags(argv, {
    users: { type: 'string' },
    categories: { type: 'string' },
    days: { type: 'string' },
    rate: { type: 'string' },
    follows: { type: 'string' },
    seed: { type: 'string' },
    start: { type: 'string' },
    out: { type: 'string' },
  });
  if (v.users === undefined) throw new UsageError('--users N is required');
  const whole = 'a positive whole number';
  const start = Date.parse(`${v.start ?? '2026-01-05'}T00:00:00Z`);
  if (Number.isNaN(start)) throw new UsageError(`--start must be a date YYYY-MM-DD, got ${v.start}`);
  const o: SynthOptions = {
    users: numberFlag(v.users, 'users', 0, positiveInteger, whole),
    categories: numberFlag(
      v.categories,
      'categories',
      1000,
      (n) => Number.isInteger(n) && n >= 2,
      'at least 2',
    ),
    days: numberFlag(v.days, 'days', 60, positiveInteger, whole),
    rate: numberFlag(v.rate, 'rate', 0.15, positive, 'positive'),
    follows: numberFlag(v.follows, 'follows', 2, positiveInteger, whole),
    seed: numberFlag(v.seed, 'seed', 7, Number.isInteger, 'a whole number'),
    start,
  };
  const rows = synthPurchases(o);
  const width = String(o.categories - 1).length;
  const name = (c: number) => `c${String(c).padStart(width, '0')}`;
  await writeCsv(
    v.out,
    io,
    'user_id,timestamp,category',
    rows,
    ([u, t, c]) => `u${u},${(t / 1000).toFixed(0)},${name(c)}`,
  );
  io.err(
    `synth-basket: ${rows.length} purchases, ${o.users} users, ${o.categories} categories, seed ${o.seed}\n`,
  );
  return 0;
}

export const synthBasketCommand: Subcommand = { usage: USAGE, run };
