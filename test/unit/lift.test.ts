import {
  addUser,
  emptySums,
  lift,
  liftTable,
  summarize,
  type GroupSums,
} from '../../services/conciliation/lift';

const Z = 1.959963984540054;
const sums = (xs: number[]): GroupSums => {
  const g = emptySums();
  for (const x of xs) addUser(g, x);
  return g;
};

describe('holdout lift', () => {
  it('difference of means with a Welch interval, and the relative lift (hand-computed)', () => {
    // Treated opens per user 1, 0, 2, 1: n 4, mean 1, s² = (6 − 4 × 1) / 3 = 2/3.
    // Holdout 0, 1, 0: n 3, mean 1/3, s² = (1 − 3 × 1/9) / 2 = 1/3.
    const l = lift(sums([1, 0, 2, 1]), sums([0, 1, 0]));
    expect(l.treated).toEqual({ n: 4, mean: 1, variance: expect.closeTo(2 / 3, 12) as number });
    expect(l.holdout.mean).toBeCloseTo(1 / 3, 12);
    expect(l.diff).toBeCloseTo(2 / 3, 12);
    // se² = (2/3) / 4 + (1/3) / 3 = 1/6 + 1/9 = 5/18.
    const se = Math.sqrt(5 / 18);
    expect(l.lo).toBeCloseTo(2 / 3 - Z * se, 12);
    expect(l.hi).toBeCloseTo(2 / 3 + Z * se, 12);
    // Relative: 1 / (1/3) − 1 = 2; se² = (1/6) / (1/3)² + (1/9) × 1² / (1/3)⁴ = 1.5 + 9.
    expect(l.relative).toBeCloseTo(2, 12);
    expect(l.relLo).toBeCloseTo(2 - Z * Math.sqrt(10.5), 12);
    expect(l.relHi).toBeCloseTo(2 + Z * Math.sqrt(10.5), 12);
    expect(l.note).toBeNull();
  });

  it('says "not enough users" for an empty or one-user group, never NaN', () => {
    for (const l of [lift(emptySums(), sums([1, 2])), lift(sums([1, 2]), sums([3]))]) {
      expect(l.note).toBe('not enough users');
      expect(l.lo).toBeNull();
      for (const v of [l.diff, l.relative, l.lo, l.hi]) expect(Number.isNaN(v)).toBe(false);
    }
    expect(lift(emptySums(), emptySums()).diff).toBeNull();
    // One holdout user: a difference, no interval.
    expect(lift(sums([1, 2]), sums([3])).diff).toBeCloseTo(-1.5, 12);
    expect(summarize(emptySums())).toEqual({ n: 0, mean: null, variance: null });
  });

  it('gives a zero-width interval for zero variance, and no relative lift over a zero holdout', () => {
    const l = lift(sums([1, 1, 1]), sums([0, 0]));
    expect([l.diff, l.lo, l.hi]).toEqual([1, 1, 1]);
    expect(l.relative).toBeNull();
    expect(l.note).toBe('holdout mean is 0: no relative lift');
  });

  it('does not go negative on a variance that rounds below 0', () => {
    const g = sums([0.1, 0.1, 0.1]);
    expect(summarize(g).variance).toBeGreaterThanOrEqual(0);
  });

  it('lifts every metric', () => {
    const t = { opens: sums([1, 1]), clicks: sums([0, 1]), conversions: sums([]) };
    const h = { opens: sums([0, 1]), clicks: sums([0, 0]), conversions: sums([0]) };
    const table = liftTable(t, h);
    expect(table.opens.diff).toBeCloseTo(0.5, 12);
    expect(table.clicks.diff).toBeCloseTo(0.5, 12);
    expect(table.conversions.note).toBe('not enough users');
  });
});
