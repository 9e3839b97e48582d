import { Rng, createRng, hashHex, hashSeed } from '../../services/simulator/world';

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const draws = (n: number, f: () => number): number[] => Array.from({ length: n }, f);

describe('Rng', () => {
  it('repeats its sequence for a seed and changes with the seed', () => {
    const seq = (seed: number): number[] => {
      const r = new Rng(seed);
      return draws(100, () => r.next());
    };
    const a = seq(7);
    const b = seq(7);
    const c = seq(8);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(Math.min(...a)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...a)).toBeLessThan(1);
  });

  it('hashes parts into distinct seeds', () => {
    expect(hashSeed(1, 'user', 2)).toBe(hashSeed(1, 'user', 2));
    expect(hashSeed(1, 'user', 2)).not.toBe(hashSeed(1, 'user', 3));
    expect(hashSeed(1, 'user', 2)).not.toBe(hashSeed(1, 'usex', 2));
    expect(hashSeed(1_700_000_000_000)).not.toBe(hashSeed(1_700_000_000_000 + 2 ** 32));
    expect(hashHex(4, 'a')).toMatch(/^[0-9a-f]{32}$/);
    expect(hashHex(4, 'a')).not.toBe(hashHex(4, 'b'));
  });

  it('draws from the distributions it names', () => {
    const r = createRng(1);
    const normals = draws(20_000, () => r.normal(3, 2));
    expect(mean(normals)).toBeCloseTo(3, 1);
    const sd = Math.sqrt(mean(normals.map((x) => (x - 3) ** 2)));
    expect(sd).toBeGreaterThan(1.9);
    expect(sd).toBeLessThan(2.1);
    expect(mean(draws(20_000, () => r.poisson(0.3)))).toBeCloseTo(0.3, 1);
    expect(mean(draws(20_000, () => r.poisson(4)))).toBeCloseTo(4, 0);
    expect(mean(draws(5_000, () => r.poisson(50)))).toBeGreaterThan(49);
    expect(mean(draws(20_000, () => r.exponential(5)))).toBeCloseTo(5, 0);
    const betas = draws(20_000, () => r.beta(2, 6));
    expect(mean(betas)).toBeCloseTo(0.25, 1);
    expect(betas.every((x) => x > 0 && x < 1)).toBe(true);
    expect(mean(draws(20_000, () => r.gamma(0.5)))).toBeCloseTo(0.5, 1);
    const ints = draws(10_000, () => r.intBetween(2, 4));
    expect(new Set(ints)).toEqual(new Set([2, 3, 4]));
  });

  it('picks by weight, never a zero weight', () => {
    const r = createRng(2);
    const counts = [0, 0, 0];
    for (let k = 0; k < 30_000; k++) counts[r.weightedIndex([1, 0, 3])]! += 1;
    expect(counts[1]).toBe(0);
    expect(counts[2]! / counts[0]!).toBeGreaterThan(2.7);
    expect(counts[2]! / counts[0]!).toBeLessThan(3.3);
    expect(r.weightedIndex([0, 0])).toBe(-1);
    expect(r.weightedPick(['a', 'b'], (x) => (x === 'b' ? 1 : 0))).toBe('b');
    expect(() => r.pick([])).toThrow(RangeError);
  });

  it('shuffles into a permutation', () => {
    const r = createRng(3);
    const xs = Array.from({ length: 50 }, (_, i) => i);
    const s = r.shuffle([...xs]);
    expect(s).not.toEqual(xs);
    expect([...s].sort((a, b) => a - b)).toEqual(xs);
  });
});
