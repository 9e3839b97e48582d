import { measure } from '../../services/simulator/metrics';
import type { PushRecord } from '../../services/simulator/sim-run';

function push(over: Partial<PushRecord>): PushRecord {
  return {
    pushId: 'p',
    userId: 'u',
    strategy: 'market-basket',
    candidateId: 'c',
    kind: 'store',
    category: 'books',
    sentAt: 0,
    day: 0,
    pOpen: 0,
    pClick: 0,
    opened: false,
    clicked: false,
    pOpenBestHour: 0,
    nearBestHour: false,
    ...over,
  };
}

describe('measure: where the open rate comes from', () => {
  it('averages each factor and recovers the users’ responsiveness from the open probability', () => {
    const m = measure(
      [
        // 0.1 × 0.5 × 1 × 0.4 × 1 × 1 = 0.02
        push({
          pOpen: 0.02,
          factors: { category: 0.5, discount: 1, distance: 0.4, hour: 1, fatigue: 1 },
        }),
        // 0.3 × 1 × 0.5 × 1 × 0.5 × 0.8 = 0.06
        push({
          pOpen: 0.06,
          factors: { category: 1, discount: 0.5, distance: 1, hour: 0.5, fatigue: 0.8 },
        }),
        // unreachable: its factors count, its responsiveness cannot be read
        push({ pOpen: 0, factors: { category: 1, discount: 1, distance: 1, hour: 1, fatigue: 1 } }),
      ],
      3,
      [],
    );
    expect(m.factors?.category).toBeCloseTo(2.5 / 3, 12);
    expect(m.factors?.discount).toBeCloseTo(2.5 / 3, 12);
    expect(m.factors?.distance).toBeCloseTo(2.4 / 3, 12);
    expect(m.factors?.hour).toBeCloseTo(2.5 / 3, 12);
    expect(m.factors?.fatigue).toBeCloseTo(2.8 / 3, 12);
    expect(m.factors?.user).toBeCloseTo((0.1 + 0.3) / 2, 12);
  });

  it('reports no factors for pushes that carry none', () => {
    expect(measure([push({ pOpen: 0.1 })], 1, []).factors).toBeUndefined();
  });
});
