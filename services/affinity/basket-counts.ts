/**
 * The market-basket miner's streaming counts: for each purchase episode (a user's purchase in category A),
 * whether the user bought each other category B within the window after it. Pure: a user's recent purchases
 * (their history) and a purchase go in; the new history and what to add to the counts come out. Production
 * keeps histories and counts in Redis (services/state/basket.store.ts), the offline command in memory
 * (BasketMiner below); both fold with `foldPurchase`, so they count the same.
 *
 * Counts, for categories A and B (A != B):
 * - `n[A]`: purchase episodes in A;
 * - `next[A]`: episodes in A followed within the window by a purchase in another category (the population
 *   that made a second purchase, the case study's variant);
 * - `pairs[A][B]`: episodes in A followed within the window by at least one purchase in B.
 *
 * Guarantees:
 * - **Idempotent**: a purchase whose event id is in the user's history changes nothing, so a redelivered
 *   event counts once. A purchase older than the user's newest purchase minus the window (`late`) is not
 *   counted either: its duplicate could no longer be recognised, and it would pair with nothing still held.
 * - **Order-free within the window**: a purchase that arrives after a later one still credits both ways.
 * - **Bounded**: a history holds the purchases of the last window, at most `maxHistory`; the counts are
 *   sparse, bounded by the category pairs actually seen (at most C² but in practice far fewer).
 */
import { fnv1a } from '../../shared/ids';

/** One purchase held in a user's history. */
export interface HistoryEntry {
  /** Category. */
  c: string;
  /** Instant (ms). */
  t: number;
  /** A short hash of the event id, to recognise a redelivery. */
  id: string;
  /** Categories already credited as following this episode. */
  f: string[];
}

export interface BasketPurchase {
  eventId: string;
  category: string;
  /** Instant (ms). */
  at: number;
}

/** What one purchase adds to the counts. */
export interface CountsDelta {
  n: Map<string, number>;
  next: Map<string, number>;
  /** `A|B` -> episodes of A followed by B. */
  pairs: Map<string, number>;
}

export interface MinerOptions {
  /** How long after a purchase in A a purchase in B counts as following it. Default 14 days. */
  windowMs: number;
  /** Purchases kept per user (the oldest go first). Default 64. */
  maxHistory: number;
}

export const DEFAULT_MINER: MinerOptions = { windowMs: 14 * 86_400_000, maxHistory: 64 };

export type FoldResult =
  { kind: 'counted'; history: HistoryEntry[] } | { kind: 'duplicate' } | { kind: 'late' };

export const PAIR_SEP = '|';
export const pairKey = (a: string, b: string) => `${a}${PAIR_SEP}${b}`;

/** FNV-1a of the event id, base 36: 32 bits is plenty to tell apart a user's last few dozen purchases. */
export function eventHash(eventId: string): string {
  return fnv1a(eventId).toString(36);
}

export function emptyDelta(): CountsDelta {
  return { n: new Map(), next: new Map(), pairs: new Map() };
}

const bump = (m: Map<string, number>, k: string, by = 1) => m.set(k, (m.get(k) ?? 0) + by);

/**
 * Folds one purchase into a user's history (not modified; the result is a new array whose entries may be
 * new objects) and adds what it counts to `delta`.
 */
export function foldPurchase(
  history: readonly HistoryEntry[],
  p: BasketPurchase,
  delta: CountsDelta,
  opts: MinerOptions = DEFAULT_MINER,
): FoldResult {
  const id = eventHash(p.eventId);
  let newest = -Infinity;
  for (const e of history) {
    if (e.id === id && e.t === p.at && e.c === p.category) return { kind: 'duplicate' };
    if (e.t > newest) newest = e.t;
  }
  if (p.at < newest - opts.windowMs) return { kind: 'late' };
  const horizon = Math.max(newest, p.at) - opts.windowMs;
  const entry: HistoryEntry = { c: p.category, t: p.at, id, f: [] };
  const out: HistoryEntry[] = [];
  bump(delta.n, p.category);
  for (const old of history) {
    if (old.t < horizon) continue; // out of the window of anything still to come
    let e = old;
    if (e.c !== p.category) {
      if (e.t <= p.at && p.at - e.t <= opts.windowMs) {
        // An earlier episode is followed by this purchase.
        if (!e.f.includes(p.category)) {
          if (e.f.length === 0) bump(delta.next, e.c);
          e = { ...e, f: [...e.f, p.category] };
          bump(delta.pairs, pairKey(e.c, p.category));
        }
      } else if (e.t > p.at && e.t - p.at <= opts.windowMs) {
        // A later purchase that arrived first follows this one.
        if (!entry.f.includes(e.c)) {
          if (entry.f.length === 0) bump(delta.next, p.category);
          entry.f.push(e.c);
          bump(delta.pairs, pairKey(p.category, e.c));
        }
      }
    }
    out.push(e);
  }
  out.push(entry);
  out.sort((a, b) => a.t - b.t);
  if (out.length > opts.maxHistory) out.splice(0, out.length - opts.maxHistory);
  return { kind: 'counted', history: out };
}

/** Counts merged: what the rankings read. */
export interface BasketCounts {
  /** Episodes per category. */
  n: Map<string, number>;
  /** Episodes per category followed by another category's purchase. */
  next: Map<string, number>;
  /** A -> (B -> episodes of A followed by B). */
  pairs: Map<string, Map<string, number>>;
}

export function emptyCounts(): BasketCounts {
  return { n: new Map(), next: new Map(), pairs: new Map() };
}

/** Adds a delta (or the flat fields of one) into merged counts. */
export function addDelta(counts: BasketCounts, delta: CountsDelta): void {
  for (const [k, v] of delta.n) bump(counts.n, k, v);
  for (const [k, v] of delta.next) bump(counts.next, k, v);
  for (const [k, v] of delta.pairs) addPair(counts, k, v);
}

export function addPair(counts: BasketCounts, key: string, v: number): void {
  const at = key.indexOf(PAIR_SEP);
  if (at <= 0) return;
  const a = key.slice(0, at);
  const b = key.slice(at + 1);
  let row = counts.pairs.get(a);
  if (!row) counts.pairs.set(a, (row = new Map<string, number>()));
  row.set(b, (row.get(b) ?? 0) + v);
}

/**
 * The miner in memory (the offline command, tests, benchmarks): histories per user and the merged counts.
 * Production runs the same `foldPurchase` against Redis.
 */
export class BasketMiner {
  readonly counts = emptyCounts();
  private readonly histories = new Map<string, HistoryEntry[]>();
  duplicates = 0;
  late = 0;
  private delta = emptyDelta();

  constructor(readonly options: MinerOptions = DEFAULT_MINER) {}

  add(userId: string, p: BasketPurchase): FoldResult['kind'] {
    const r = foldPurchase(this.histories.get(userId) ?? [], p, this.delta, this.options);
    if (r.kind === 'duplicate') this.duplicates++;
    else if (r.kind === 'late') this.late++;
    else this.histories.set(userId, r.history);
    addDelta(this.counts, this.delta);
    this.delta.n.clear();
    this.delta.next.clear();
    this.delta.pairs.clear();
    return r.kind;
  }

  /** Users with a history held. */
  get users(): number {
    return this.histories.size;
  }

  /** Drops the histories whose newest purchase is older than `now` minus the window. */
  prune(now: number): void {
    for (const [u, h] of this.histories) {
      if (h[h.length - 1]!.t < now - this.options.windowMs) this.histories.delete(u);
    }
  }
}
