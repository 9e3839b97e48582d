/**
 * Implicit feedback strength of a (user, product) pair from what the user bought: how much more than their
 * usual they spent on it and how many more units they took, mixed 50/50, on a log scale, clamped to
 * [0.1, 5.0]. A product bought like the user's average one scores 1; ten times their average spend and
 * quantity scores 1 + ln 10 = 3.3. The Spark job (infra/spark, RecsJob.strengths) computes the same
 * formula in SQL; test/unit/recs.test.ts pins both to hand-computed values.
 */

/** The formula's knobs. */
export interface StrengthOptions {
  /** Weight of the spending ratio; the quantity ratio gets the rest. Default 0.5. */
  spendWeight: number;
  /** Lower clamp. Default 0.1. */
  min: number;
  /** Upper clamp. Default 5.0. */
  max: number;
}

export const DEFAULT_STRENGTH: StrengthOptions = { spendWeight: 0.5, min: 0.1, max: 5.0 };

/**
 * clamp(1 + ln(w * spend / meanSpend + (1 - w) * qty / meanQty), min, max). A user with no prices (spend
 * 0 everywhere) is read on quantity alone.
 */
export function implicitStrength(
  spend: number,
  qty: number,
  meanSpend: number,
  meanQty: number,
  o: StrengthOptions = DEFAULT_STRENGTH,
): number {
  const qtyRatio = meanQty > 0 ? qty / meanQty : 1;
  const spendRatio = meanSpend > 0 ? spend / meanSpend : qtyRatio;
  const mixed = o.spendWeight * spendRatio + (1 - o.spendWeight) * qtyRatio;
  const s = mixed > 0 ? 1 + Math.log(mixed) : o.min;
  return Math.min(o.max, Math.max(o.min, s));
}

/** One line item of a history: product, quantity, unit price (0 when unknown), instant (ms). */
export interface Line {
  item: number;
  qty: number;
  price: number;
  at: number;
}

/** The strengths of one user's products, from their line items. */
export function userStrengths(
  lines: readonly Line[],
  o: StrengthOptions = DEFAULT_STRENGTH,
): Map<number, number> {
  const spend = new Map<number, number>();
  const qty = new Map<number, number>();
  for (const l of lines) {
    spend.set(l.item, (spend.get(l.item) ?? 0) + l.qty * l.price);
    qty.set(l.item, (qty.get(l.item) ?? 0) + l.qty);
  }
  const n = qty.size;
  let totalSpend = 0;
  let totalQty = 0;
  for (const v of spend.values()) totalSpend += v;
  for (const v of qty.values()) totalQty += v;
  const out = new Map<number, number>();
  for (const [item, q] of qty) {
    out.set(item, implicitStrength(spend.get(item)!, q, totalSpend / n, totalQty / n, o));
  }
  return out;
}
