/**
 * `npm run offline -- recs --transactions FILE.csv`: the product-recommendation evaluation (recs.ts) on a
 * line-item purchase log. Streams the file, prints progress and malformed rows on stderr, the table (or
 * with --json one JSON object) on stdout.
 */
import { DEFAULT_PURCHASE_COLUMNS } from './basket';
import { readTransactions } from './basket.command';
import {
  UsageError,
  flags,
  numberFlag,
  positive,
  positiveInteger,
  type CommandIo,
  type Subcommand,
} from './command';
import { DEFAULT_RECS_EVAL, RECS_METHODS, evaluateRecs, type RecsEvalResult } from './recs';

const USAGE = `npm run offline -- recs --transactions FILE.csv [flags]
  --transactions FILE.csv  line items: a header, then one row per product bought (required)
  --k 5                    products recommended per user
  --split 0.8              quantile of the timestamps where training ends
  --horizon-days 14        a user's truth: the products bought in this many days after the split
  --json                   one JSON object on stdout instead of the table
  --user-col user_id       column names (quantity and price are optional in the file)
  --time-col timestamp
  --item-col item
  --quantity-col quantity
  --price-col price
  --rank 16                ALS: factors, alternations, regularisation, confidence slope
  --iterations 10
  --reg 0.1
  --alpha 10
  --skip-within 0          the herald row's half-cycle skip (production: PRODUCT_RECS_SKIP_WITHIN, 0.5)
  --no-learn               the herald row keeps production's blend and own weight instead of learning them`;

async function run(argv: string[], io: CommandIo): Promise<number> {
  const v = flags(argv, {
    transactions: { type: 'string' },
    k: { type: 'string' },
    split: { type: 'string' },
    'horizon-days': { type: 'string' },
    json: { type: 'boolean' },
    'user-col': { type: 'string' },
    'time-col': { type: 'string' },
    'item-col': { type: 'string' },
    'quantity-col': { type: 'string' },
    'price-col': { type: 'string' },
    rank: { type: 'string' },
    iterations: { type: 'string' },
    reg: { type: 'string' },
    alpha: { type: 'string' },
    'skip-within': { type: 'string' },
    'no-learn': { type: 'boolean' },
  });
  if (!v.transactions) throw new UsageError('--transactions FILE.csv is required');
  const d = DEFAULT_RECS_EVAL;
  const options = {
    k: numberFlag(v.k, 'k', d.k, positiveInteger, 'a positive whole number'),
    split: numberFlag(v.split, 'split', d.split, (n) => n > 0 && n < 1, 'in (0, 1)'),
    horizonDays: numberFlag(v['horizon-days'], 'horizon-days', d.horizonDays, positive, 'positive'),
    skipWithin: numberFlag(
      v['skip-within'],
      'skip-within',
      d.skipWithin,
      (n) => n >= 0 && n <= 1,
      'in [0, 1]',
    ),
    learn: !v['no-learn'],
    als: {
      ...d.als,
      rank: numberFlag(v.rank, 'rank', d.als.rank, positiveInteger, 'a positive whole number'),
      iterations: numberFlag(
        v.iterations,
        'iterations',
        d.als.iterations,
        positiveInteger,
        'a positive whole number',
      ),
      regParam: numberFlag(v.reg, 'reg', d.als.regParam, positive, 'positive'),
      alpha: numberFlag(v.alpha, 'alpha', d.als.alpha, positive, 'positive'),
    },
  };
  const { log, seconds: readS } = await readTransactions(
    v.transactions,
    {
      user: v['user-col'] ?? DEFAULT_PURCHASE_COLUMNS.user,
      time: v['time-col'] ?? DEFAULT_PURCHASE_COLUMNS.time,
      item: v['item-col'] ?? 'item',
      quantity: v['quantity-col'] ?? 'quantity',
      price: v['price-col'] ?? 'price',
    },
    io,
    'recs',
  );
  const evalStarted = performance.now();
  const result = evaluateRecs(log, options);
  const evalS = (performance.now() - evalStarted) / 1000;
  io.err(
    `recs: ${log.length.toLocaleString('en-US')} rows, ${log.users.length.toLocaleString('en-US')} users, ` +
      `${log.items.length.toLocaleString('en-US')} products; read in ${readS.toFixed(2)} s, evaluated in ` +
      `${evalS.toFixed(2)} s (ALS ${result.alsSeconds.toFixed(2)} s)\n`,
  );
  const l = result.learned;
  io.err(
    `recs: herald learned on ${l.validationUsers.toLocaleString('en-US')} validation users: blend ` +
      `${l.blend.als},${l.blend.cf},${l.blend.pop} (PRODUCT_RECS_BLEND), own weight ${l.ownWeight} ` +
      `(PRODUCT_RECS_OWN_WEIGHT); validation hit@${result.k} ${(100 * l.validationHit).toFixed(1)}% ` +
      `(${(100 * l.validationHitDefaults).toFixed(1)}% with the defaults)\n`,
  );
  io.out(v.json ? `${JSON.stringify(recsJson(result, log.malformed))}\n` : recsTable(result, log.malformed));
  return 0;
}

export function recsJson(r: RecsEvalResult, malformed: number) {
  return {
    users: r.users,
    k: r.k,
    methods: r.methods,
    malformed,
    rows: r.rows,
    trainRows: r.trainRows,
    trainUsers: r.trainUsers,
    products: r.products,
    split: r.rows > 0 ? new Date(r.splitAt).toISOString() : null,
    learned: r.learned,
  };
}

export function recsTable(r: RecsEvalResult, malformed: number): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const rows = [
    ['method', `hit@${r.k}`, `precision@${r.k}`, `recall@${r.k}`],
    ...RECS_METHODS.map((m) => [
      m === 'herald'
        ? 'herald (learned re-rank)'
        : m === 'herald-default'
          ? 'herald, defaults (blend + re-rank)'
          : m,
      pct(r.methods[m].hit),
      pct(r.methods[m].precision),
      pct(r.methods[m].recall),
    ]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  const line = (row: string[]) => row.map((cell, c) => cell.padEnd(widths[c]!)).join('  ');
  return (
    `${rows.map(line).join('\n')}\n\n` +
    `${r.users.toLocaleString('en-US')} users evaluated (bought before the split and within the horizon); ` +
    `${r.trainRows.toLocaleString('en-US')} of ${r.rows.toLocaleString('en-US')} rows trained; ` +
    `${malformed} malformed rows skipped\n`
  );
}

export const recsCommand: Subcommand = { usage: USAGE, run };
