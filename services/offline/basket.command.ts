/**
 * `npm run offline -- basket --transactions FILE.csv`: the market-basket evaluation (basket.ts) on a purchase
 * log. Streams the file, prints progress and malformed rows on stderr, the table (or with --json one JSON
 * object) on stdout.
 */
import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { HERALD_OWN_WEIGHT, HERALD_RANKING } from '../affinity/basket-rank';
import {
  UsageError,
  flags,
  numberFlag,
  positive,
  positiveInteger,
  type CommandIo,
  type Subcommand,
} from './command';
import {
  DEFAULT_BASKET_EVAL,
  DEFAULT_PURCHASE_COLUMNS,
  evaluateBasket,
  methodNames,
  rates,
  readPurchaseLog,
  type BasketEvalResult,
  type PurchaseColumns,
  type PurchaseLog,
} from './basket';
import { HeaderError } from './event-log';

const USAGE = `npm run offline -- basket --transactions FILE.csv [flags]
  --transactions FILE.csv  purchases: a header, then one row per purchase (required)
  --split 0.8              quantile of the timestamps where mining ends
  --horizon-days 14        a case's truth: the categories bought in this many days after it (also the
                           miner's window)
  --k 3                    hit@k
  --json                   one JSON object on stdout instead of the table
  --user-col user_id       column names
  --time-col timestamp
  --item-col category
  --own-weight 0.5         weight of the user's own purchases in the +own blends
  --prior-strength 5       the rankings' options, for experiments
  --min-support 5`;

/**
 * Reads the `--transactions` file: a missing file or column is a UsageError (one line, exit 2); progress and
 * the malformed rows (counted, the first few with their line) go to `io.err` under `label`.
 */
export async function readTransactions(
  file: string,
  columns: PurchaseColumns,
  io: CommandIo,
  label: string,
): Promise<{ log: PurchaseLog; seconds: number }> {
  try {
    await access(file);
  } catch {
    throw new UsageError(`--transactions: cannot read ${file}`);
  }
  const started = performance.now();
  let log: PurchaseLog;
  try {
    log = await readPurchaseLog(createReadStream(file, { highWaterMark: 1 << 20 }), columns, (rows) =>
      io.err(`${label}: ${rows.toLocaleString('en-US')} rows read\n`),
    );
  } catch (err) {
    if (err instanceof HeaderError) throw new UsageError(`${file}: ${err.message}`);
    throw err;
  }
  if (log.malformed > 0) {
    const first = log.examples.map((e) => `line ${e.line}: ${e.reason}`).join('; ');
    io.err(`${label}: ${log.malformed} malformed rows skipped; first: ${first}\n`);
  }
  return { log, seconds: (performance.now() - started) / 1000 };
}

async function run(argv: string[], io: CommandIo): Promise<number> {
  const v = flags(argv, {
    transactions: { type: 'string' },
    split: { type: 'string' },
    'horizon-days': { type: 'string' },
    k: { type: 'string' },
    json: { type: 'boolean' },
    'user-col': { type: 'string' },
    'time-col': { type: 'string' },
    'item-col': { type: 'string' },
    'own-weight': { type: 'string' },
    'prior-strength': { type: 'string' },
    'min-support': { type: 'string' },
  });
  if (!v.transactions) throw new UsageError('--transactions FILE.csv is required');
  const d = DEFAULT_BASKET_EVAL;
  const options = {
    split: numberFlag(v.split, 'split', d.split, (n) => n > 0 && n < 1, 'in (0, 1)'),
    horizonDays: numberFlag(v['horizon-days'], 'horizon-days', d.horizonDays, positive, 'positive'),
    k: numberFlag(v.k, 'k', d.k, positiveInteger, 'a positive whole number'),
    ownWeight: numberFlag(v['own-weight'], 'own-weight', d.ownWeight, (n) => n >= 0 && n <= 1, 'in [0, 1]'),
    rank: {
      ...d.rank,
      priorStrength: numberFlag(
        v['prior-strength'],
        'prior-strength',
        d.rank.priorStrength,
        positive,
        'positive',
      ),
      minSupport: numberFlag(v['min-support'], 'min-support', d.rank.minSupport, (n) => n >= 0, '>= 0'),
    },
  };
  const { log, seconds: readS } = await readTransactions(
    v.transactions,
    {
      user: v['user-col'] ?? DEFAULT_PURCHASE_COLUMNS.user,
      time: v['time-col'] ?? DEFAULT_PURCHASE_COLUMNS.time,
      item: v['item-col'] ?? DEFAULT_PURCHASE_COLUMNS.item,
    },
    io,
    'basket',
  );
  const evalStarted = performance.now();
  const result = evaluateBasket(log, options);
  const evalS = (performance.now() - evalStarted) / 1000;
  io.err(
    `basket: ${log.length.toLocaleString('en-US')} rows, ${log.users.length.toLocaleString('en-US')} users, ` +
      `${log.items.length} categories; read in ${readS.toFixed(2)} s, evaluated in ${evalS.toFixed(2)} s\n`,
  );
  io.out(v.json ? `${JSON.stringify(toJson(result, log.malformed))}\n` : renderTable(result, log.malformed));
  return 0;
}

export function toJson(r: BasketEvalResult, malformed: number) {
  return {
    cases: r.scored,
    k: r.options.k,
    methods: rates(r),
    herald: { ranking: HERALD_RANKING, ownWeight: HERALD_OWN_WEIGHT },
    emptyTruth: r.cases - r.scored,
    malformed,
    rows: r.rows,
    trainRows: r.trainRows,
    categories: r.categories,
    split: Number.isFinite(r.splitAt) ? new Date(r.splitAt).toISOString() : null,
    horizonDays: r.options.horizonDays,
    miner: r.miner,
  };
}

export function renderTable(r: BasketEvalResult, malformed: number): string {
  const rt = rates(r);
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const names = methodNames();
  const rows = [
    ['method', `hit@${r.options.k}`, 'MRR', `+own hit@${r.options.k}`, '+own MRR'],
    ...names
      .filter((n) => !n.endsWith('+own'))
      .map((n) => {
        const own = rt[`${n}+own`];
        return [
          n === 'herald' ? `herald (${HERALD_RANKING} + own ${HERALD_OWN_WEIGHT})` : n,
          pct(rt[n]!.hit),
          rt[n]!.mrr.toFixed(3),
          own ? pct(own.hit) : '-',
          own ? own.mrr.toFixed(3) : '-',
        ];
      }),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  const line = (row: string[]) =>
    row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  const split = Number.isFinite(r.splitAt) ? new Date(r.splitAt).toISOString() : 'none';
  return [
    `basket: ${r.rows} rows (${malformed} malformed skipped), ${r.categories} categories mined; split at ${split} (quantile ${r.options.split}, ${r.trainRows} training rows)`,
    `cases: ${r.scored} scored, ${r.cases - r.scored} with nothing bought in the ${r.options.horizonDays} days after (not scored); miner: ${r.miner.pairs} pairs, ${r.miner.late} late rows`,
    '',
    line(rows[0]!),
    ...rows.slice(1).map(line),
    '',
  ].join('\n');
}

export const basketCommand: Subcommand = { usage: USAGE, run };
