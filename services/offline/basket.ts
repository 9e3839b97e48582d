/**
 * The market-basket evaluation behind `npm run offline -- basket`: how well each ranking of follow-up
 * categories predicts what a user buys next, mined with the production miner (services/affinity) on the
 * rows before a time split.
 *
 * Protocol. Rows are sorted by time; the split instant is the `split` quantile of their timestamps, the
 * instant of the row at rank floor(split * n). Rows before it are folded through `BasketMiner` (the same
 * `foldPurchase` production runs). A test case is a user's first purchase of a category A on a UTC day
 * after the split's (that day is partly training); its truth is the set of other categories the user buys
 * in the `horizon` after it. Cases with an empty truth are counted, not scored. For each method, the
 * ranking of every category but A: hit@k is the share of scored cases with a true category in the first k,
 * MRR the mean of 1 / the rank of the first true category.
 *
 * Each method is also blended with the user's own purchases before the case (`<method>+own`): the method's
 * score scaled to its best for A, plus `ownWeight` times the user's share of purchases in B. `herald` is
 * what production scores: HERALD_RANKING's score, unscaled, blended with HERALD_OWN_WEIGHT of that share.
 */
import { BasketMiner, DEFAULT_MINER } from '../affinity/basket-counts';
import {
  DEFAULT_RANK,
  HERALD_OWN_WEIGHT,
  HERALD_RANKING,
  RANKINGS,
  rankAfter,
  viewCounts,
  type RankOptions,
  type Ranking,
} from '../affinity/basket-rank';
import { CsvReader, readCsv, type CsvSink } from './csv';
import { HeaderError, parseInstant, type MalformedRow } from './event-log';

const DAY_MS = 86_400_000;

export interface PurchaseColumns {
  user: string;
  time: string;
  item: string;
  /** Column of the units bought; optional in the file (absent or empty: 1). */
  quantity?: string;
  /** Column of the unit price; optional in the file (absent or empty: 0, unknown). */
  price?: string;
}

export const DEFAULT_PURCHASE_COLUMNS: PurchaseColumns = {
  user: 'user_id',
  time: 'timestamp',
  item: 'category',
};

export interface PurchaseLog {
  length: number;
  user: Int32Array;
  at: Float64Array;
  item: Int32Array;
  /** Units bought per row (1 without a quantity column). */
  qty: Float64Array;
  /** Unit price per row (0 without a price column or with an empty cell). */
  price: Float64Array;
  users: string[];
  items: string[];
  malformed: number;
  examples: MalformedRow[];
}

/** Folds CSV records into a PurchaseLog; malformed rows are counted with their line, never thrown. */
export class PurchaseLogBuilder implements CsvSink {
  private header: string[] | undefined;
  private width = 0;
  private cols = [0, 0, 0];
  /** Columns of quantity and price, -1 when the file has none. */
  private extra = [-1, -1];
  private length = 0;
  private user = new Int32Array(1 << 16);
  private at = new Float64Array(1 << 16);
  private item = new Int32Array(1 << 16);
  private qty = new Float64Array(1 << 16);
  private price = new Float64Array(1 << 16);
  private readonly userIndex = new Map<string, number>();
  private readonly itemIndex = new Map<string, number>();
  private readonly users: string[] = [];
  private readonly items: string[] = [];
  private malformedRows = 0;
  private readonly examples: MalformedRow[] = [];
  private records = 0;

  constructor(
    private readonly columns: PurchaseColumns = DEFAULT_PURCHASE_COLUMNS,
    private readonly progress?: (rows: number) => void,
    private readonly maxExamples = 5,
  ) {}

  record(fields: string[], line: number): void {
    if (!this.header) {
      const header = fields.map((f) => f.trim());
      for (const name of [this.columns.user, this.columns.time, this.columns.item]) {
        if (!header.includes(name)) throw new HeaderError(name, header);
      }
      this.header = header;
      this.width = header.length;
      this.cols = [this.columns.user, this.columns.time, this.columns.item].map((c) => header.indexOf(c));
      this.extra = [this.columns.quantity, this.columns.price].map((c) => (c ? header.indexOf(c) : -1));
      return;
    }
    if (++this.records % 100_000 === 0) this.progress?.(this.records);
    if (fields.length !== this.width) {
      this.malformed(line, `expected ${this.width} fields, got ${fields.length}`);
      return;
    }
    const user = fields[this.cols[0]!]!.trim();
    const item = fields[this.cols[2]!]!.trim();
    if (!user) return this.malformed(line, `empty ${this.columns.user}`);
    if (!item) return this.malformed(line, `empty ${this.columns.item}`);
    if (item.includes('|')) return this.malformed(line, `${this.columns.item} may not contain "|"`);
    const raw = fields[this.cols[1]!]!;
    const at = parseInstant(raw);
    if (Number.isNaN(at))
      return this.malformed(line, `unparseable ${this.columns.time} ${JSON.stringify(raw)}`);
    const [qty, price] = this.extra.map((c, i) => {
      const cell = c >= 0 ? fields[c]!.trim() : '';
      return cell === '' ? (i === 0 ? 1 : 0) : Number(cell);
    }) as [number, number];
    if (!Number.isFinite(qty) || qty <= 0)
      return this.malformed(line, `${this.columns.quantity} must be a positive number`);
    if (!Number.isFinite(price) || price < 0)
      return this.malformed(line, `${this.columns.price} must be a number >= 0`);
    if (this.length === this.user.length) this.grow(this.length * 2);
    this.user[this.length] = this.indexOf(this.userIndex, this.users, user);
    this.item[this.length] = this.indexOf(this.itemIndex, this.items, item);
    this.at[this.length] = at;
    this.qty[this.length] = qty;
    this.price[this.length] = price;
    this.length++;
  }

  malformed(line: number, reason: string): void {
    this.malformedRows++;
    if (this.examples.length < this.maxExamples) this.examples.push({ line, reason });
  }

  finish(): PurchaseLog {
    if (!this.header) throw new HeaderError(this.columns.user, []);
    return {
      length: this.length,
      user: this.user.subarray(0, this.length),
      at: this.at.subarray(0, this.length),
      item: this.item.subarray(0, this.length),
      qty: this.qty.subarray(0, this.length),
      price: this.price.subarray(0, this.length),
      users: this.users,
      items: this.items,
      malformed: this.malformedRows,
      examples: this.examples,
    };
  }

  private grow(n: number): void {
    const copy = <A extends Int32Array | Float64Array>(a: A, make: (n: number) => A): A => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.user = copy(this.user, (k) => new Int32Array(k));
    this.item = copy(this.item, (k) => new Int32Array(k));
    this.at = copy(this.at, (k) => new Float64Array(k));
    this.qty = copy(this.qty, (k) => new Float64Array(k));
    this.price = copy(this.price, (k) => new Float64Array(k));
  }

  private indexOf(index: Map<string, number>, list: string[], key: string): number {
    let i = index.get(key);
    if (i === undefined) {
      i = list.push(key) - 1;
      index.set(key, i);
    }
    return i;
  }
}

export async function readPurchaseLog(
  chunks: AsyncIterable<string | Buffer>,
  columns: PurchaseColumns = DEFAULT_PURCHASE_COLUMNS,
  progress?: (rows: number) => void,
): Promise<PurchaseLog> {
  const b = new PurchaseLogBuilder(columns, progress);
  await readCsv(chunks, b);
  return b.finish();
}

export function purchaseLogFromText(text: string, columns = DEFAULT_PURCHASE_COLUMNS): PurchaseLog {
  const b = new PurchaseLogBuilder(columns);
  const r = new CsvReader(b);
  r.push(text);
  r.end();
  return b.finish();
}

export interface BasketEvalOptions {
  /** Quantile of the timestamps where mining ends. Default 0.8. */
  split: number;
  /** Days after a case in which the user's purchases are its truth; also the miner's window. Default 14. */
  horizonDays: number;
  /** Default 3. */
  k: number;
  /** Weight of the user's own purchase shares in the `+own` blends. Default 0.5. */
  ownWeight: number;
  rank: RankOptions;
}

export const DEFAULT_BASKET_EVAL: BasketEvalOptions = {
  split: 0.8,
  horizonDays: 14,
  k: 3,
  ownWeight: 0.5,
  rank: DEFAULT_RANK,
};

export interface MethodScore {
  /** Scored cases with a true category in the top k. */
  hits: number;
  /** Sum of 1 / rank of the first true category. */
  rr: number;
}

export interface BasketEvalResult {
  rows: number;
  trainRows: number;
  splitAt: number;
  /** Cases in all, and those with a non-empty truth (scored). */
  cases: number;
  scored: number;
  /** Method name (`herald`, each ranking, each `+own`) -> score. */
  methods: Map<string, MethodScore>;
  categories: number;
  miner: { users: number; duplicates: number; late: number; pairs: number };
  options: BasketEvalOptions;
}

/** Method names in report order. */
export function methodNames(): string[] {
  return [...RANKINGS, ...RANKINGS.map((n) => `${n}+own`), 'herald'];
}

export function evaluateBasket(log: PurchaseLog, options: Partial<BasketEvalOptions> = {}): BasketEvalResult {
  const o = { ...DEFAULT_BASKET_EVAL, ...options };
  if (!(o.split > 0 && o.split < 1)) throw new RangeError(`split must be between 0 and 1, got ${o.split}`);
  const n = log.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => log.at[x]! - log.at[y]! || x - y);
  const splitAt = n > 0 ? log.at[order[Math.min(n - 1, Math.floor(o.split * n))]!]! : NaN;
  const horizonMs = o.horizonDays * DAY_MS;
  const miner = new BasketMiner({ ...DEFAULT_MINER, windowMs: horizonMs });
  let trainRows = 0;
  for (const i of order) {
    if (!(log.at[i]! < splitAt)) break;
    // Rows carry no event id: their position in the file is one, so a row repeated verbatim counts twice.
    miner.add(String(log.user[i]), {
      eventId: String(i),
      category: log.items[log.item[i]!]!,
      at: log.at[i]!,
    });
    trainRows++;
  }
  const view = viewCounts(miner.counts);
  const names = methodNames();
  const methods = new Map<string, MethodScore>(names.map((m) => [m, { hits: 0, rr: 0 }]));
  const result: BasketEvalResult = {
    rows: n,
    trainRows,
    splitAt,
    cases: 0,
    scored: 0,
    methods,
    categories: view.categories.length,
    miner: {
      users: miner.users,
      duplicates: miner.duplicates,
      late: miner.late,
      pairs: [...miner.counts.pairs.values()].reduce((s, r) => s + r.size, 0),
    },
    options: o,
  };
  if (n === 0) return result;

  // Rows per user in time order.
  const byUser: number[][] = log.users.map(() => []);
  for (const i of order) byUser[log.user[i]!]!.push(i);
  const firstTestDay = Math.floor(splitAt / DAY_MS) + 1;

  const rankings = new Map<string, Indexed>();
  const ranked = (method: Ranking, a: string) => {
    const key = `${method}\u0000${a}`;
    let r = rankings.get(key);
    if (!r) rankings.set(key, (r = indexed(rankAfter(view, method, a, o.rank))));
    return r;
  };

  for (const rows of byUser) {
    const own = new Map<string, number>();
    let ownTotal = 0;
    const seenInTest = new Set<number>();
    for (let j = 0; j < rows.length; j++) {
      const i = rows[j]!;
      const at = log.at[i]!;
      const itemIdx = log.item[i]!;
      const a = log.items[itemIdx]!;
      if (Math.floor(at / DAY_MS) >= firstTestDay && !seenInTest.has(itemIdx)) {
        seenInTest.add(itemIdx);
        result.cases++;
        const truth = new Set<string>();
        for (let q = j + 1; q < rows.length; q++) {
          const r = rows[q]!;
          if (log.at[r]! - at > horizonMs) break;
          if (log.at[r]! > at && log.item[r] !== itemIdx) truth.add(log.items[log.item[r]!]!);
        }
        if (truth.size > 0) {
          result.scored++;
          for (const method of RANKINGS) {
            const list = ranked(method, a);
            record(methods.get(method)!, firstHit(list, truth), o.k);
            record(
              methods.get(`${method}+own`)!,
              firstHitBlended(list, truth, own, ownTotal, o.ownWeight, true),
              o.k,
            );
          }
          // What production scores: the ranking's own score (a probability), blended unscaled with the
          // user's share, as the market-basket strategy's features do.
          record(
            methods.get('herald')!,
            firstHitBlended(ranked(HERALD_RANKING, a), truth, own, ownTotal, HERALD_OWN_WEIGHT, false),
            o.k,
          );
        }
      }
      own.set(a, (own.get(a) ?? 0) + 1);
      ownTotal++;
    }
  }
  return result;
}

function record(s: MethodScore, rank: number, k: number): void {
  if (rank <= 0) return;
  if (rank <= k) s.hits++;
  s.rr += 1 / rank;
}

/** A ranking with each category's position, to rank a truth without walking the list. */
interface Indexed {
  list: ReadonlyArray<{ category: string; score: number }>;
  pos: Map<string, number>;
}

function indexed(list: ReadonlyArray<{ category: string; score: number }>): Indexed {
  return { list, pos: new Map(list.map((e, i) => [e.category, i])) };
}

/** 1-based rank of the first true category, 0 when none is ranked. */
function firstHit(r: Indexed, truth: ReadonlySet<string>): number {
  let best = Infinity;
  for (const c of truth) {
    const p = r.pos.get(c);
    if (p !== undefined && p < best) best = p;
  }
  return Number.isFinite(best) ? best + 1 : 0;
}

/**
 * The same under the blend `(1 - w) × score / best + w × own share` (scores scaled to 0..1 over the list).
 * Only the user's own categories move: a category of theirs goes before every other whose blended score is
 * not above its own; the others keep their order.
 */
function firstHitBlended(
  r: Indexed,
  truth: ReadonlySet<string>,
  own: ReadonlyMap<string, number>,
  ownTotal: number,
  w: number,
  scaled: boolean,
): number {
  const { list } = r;
  if (ownTotal === 0 || list.length === 0) return firstHit(r, truth);
  const min = scaled ? Math.min(0, list[list.length - 1]!.score) : 0;
  const span = scaled ? list[0]!.score - min : 1;
  const base = (s: number) => (1 - w) * (span > 0 ? (s - min) / span : 0);
  const boosted: Array<{ category: string; pos: number; score: number }> = [];
  for (const [c, n] of own) {
    const p = r.pos.get(c);
    if (p !== undefined)
      boosted.push({ category: c, pos: p, score: base(list[p]!.score) + (w * n) / ownTotal });
  }
  boosted.sort((x, y) => y.score - x.score || x.pos - y.pos);
  const ownPos = boosted.map((b) => b.pos).sort((x, y) => x - y);
  /** Own categories in the first `p` positions of the list. */
  const ownBefore = (p: number) => {
    let n = 0;
    while (n < ownPos.length && ownPos[n]! < p) n++;
    return n;
  };
  let best = Infinity;
  for (const c of truth) {
    const p = r.pos.get(c);
    if (p === undefined) continue;
    const b = boosted.findIndex((x) => x.category === c);
    let rank: number;
    if (b < 0) {
      const s = base(list[p]!.score);
      rank = p - ownBefore(p) + boosted.filter((x) => x.score >= s).length + 1;
    } else {
      // Others strictly above its blended score: a prefix of the list, found by bisection.
      const s = boosted[b]!.score;
      let lo = 0;
      let hi = list.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (base(list[mid]!.score) > s) lo = mid + 1;
        else hi = mid;
      }
      rank = lo - ownBefore(lo) + b + 1;
    }
    if (rank < best) best = rank;
  }
  return Number.isFinite(best) ? best : 0;
}

export interface MethodRates {
  hit: number;
  mrr: number;
}

export function rates(r: BasketEvalResult): Record<string, MethodRates> {
  const out: Record<string, MethodRates> = {};
  const round = (x: number) => Math.round(x * 1e4) / 1e4;
  for (const [name, s] of r.methods) {
    out[name] =
      r.scored > 0 ? { hit: round(s.hits / r.scored), mrr: round(s.rr / r.scored) } : { hit: 0, mrr: 0 };
  }
  return out;
}
