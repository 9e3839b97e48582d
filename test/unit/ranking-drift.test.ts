import { DriftMonitor, binOf, psi, references } from '../../services/ranking/drift';
import { driftWarnings } from '../../services/ranking/model-server';
import { seededRandom } from '../../services/ranking/trainer';

function columns(n: number, shift: number, seed: number): Float64Array {
  const r = seededRandom(seed);
  const x = new Float64Array(n * 2);
  for (let i = 0; i < n; i++) {
    x[i * 2] = r(); // stays put
    x[i * 2 + 1] = r() + shift; // moves by `shift`
  }
  return x;
}

describe('drift', () => {
  it('bins values by upper edges', () => {
    expect(binOf([0.1, 0.5], 0)).toBe(0);
    expect(binOf([0.1, 0.5], 0.1)).toBe(0);
    expect(binOf([0.1, 0.5], 0.3)).toBe(1);
    expect(binOf([0.1, 0.5], 9)).toBe(2);
  });

  it('takes deciles of the training rows, each holding about a tenth', () => {
    const refs = references(columns(10_000, 0, 1), 10_000, 2);
    expect(refs).toHaveLength(2);
    expect(refs[0]?.edges).toHaveLength(9);
    for (const share of refs[0]?.expected ?? []) expect(share).toBeCloseTo(0.1, 2);
    // A constant feature has one edge and all rows in its first bin.
    const flat = references(new Float64Array(100).fill(1), 100, 1);
    expect(flat[0]?.edges).toEqual([1]);
    expect(flat[0]?.expected).toEqual([1, 0]);
  });

  it('finds no drift in rows like the training rows and flags the feature that moved', () => {
    const refs = references(columns(20_000, 0, 1), 20_000, 2);
    const monitor = new DriftMonitor(['steady', 'moving'], refs, '2026-03-07');
    monitor.observe(columns(5_000, 0.3, 2), 5_000, '2026-03-07');
    const r = monitor.report();
    expect(r.rows).toBe(5_000);
    expect(r.psi.steady).toBeLessThan(0.02);
    expect(r.psi.moving).toBeGreaterThan(0.5);
    expect(driftWarnings(r.psi, 0.2).map(([f]) => f)).toEqual(['moving']);
    // A new day starts a new count.
    monitor.observe(columns(100, 0, 3), 100, '2026-03-08');
    expect(monitor.report()).toMatchObject({ day: '2026-03-08', rows: 100 });
  });

  it('counts a batch as it counts its rows one by one (runs of equal values, NaN, -0, edges)', () => {
    const refs = [
      { edges: [0, 0.25, 0.5, 1], expected: [0.2, 0.2, 0.2, 0.2, 0.2] },
      { edges: [0.5], expected: [0.5, 0.5] },
      { edges: [0.1, 0.2, 0.3], expected: [0.25, 0.25, 0.25, 0.25] },
    ];
    const r = seededRandom(4);
    const d = refs.length;
    const n = 37;
    const x = new Float32Array(n * d);
    for (let i = 0; i < n; i++) {
      x[i * d] = Math.floor(i / 5) / 8; // runs of 5, some on an edge
      x[i * d + 1] = [Number.NaN, -0, 0, 0.5, 2][Math.floor(r() * 5)] as number;
      x[i * d + 2] = r() < 0.5 ? 0.2 : r() * 0.4;
    }
    const batch = new DriftMonitor(['a', 'b', 'c'], refs, 'd');
    const one = new DriftMonitor(['a', 'b', 'c'], refs, 'd');
    batch.observe(x, n, 'd');
    for (let i = 0; i < n; i++) one.observe(x.subarray(i * d, (i + 1) * d), 1, 'd');
    expect(batch.report()).toEqual(one.report());
    expect(batch.report().rows).toBe(n);
  });

  it('PSI is zero for equal shares and grows with the gap', () => {
    expect(psi([0.5, 0.5], [0.5, 0.5])).toBe(0);
    expect(psi([0.5, 0.5], [0.6, 0.4])).toBeLessThan(psi([0.5, 0.5], [0.8, 0.2]));
  });
});
