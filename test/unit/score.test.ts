import { heuristicScore } from '../../services/ranking/heuristic';
import { distanceKm } from '../../shared/geo';
import { scoreGroup } from '../../services/pipeline/score';
import { offers } from '../../services/pipeline/conciliate';
import type { UserState } from '../../services/state';
import type { Candidate } from '../../shared/schemas/jobs.schema';

const here = { lat: 40.4168, lon: -3.7038 };
const store = (
  id: string,
  affinity: number,
  discount: number,
  location?: { lat: number; lon: number },
): Candidate => ({
  id,
  kind: 'store',
  category: 'wine',
  title: id,
  discount,
  affinity,
  ...(location ? { location } : {}),
});

describe('heuristic score', () => {
  it('is 0.5 affinity + 0.3 nearness within 5 km + 0.2 discount', () => {
    expect(heuristicScore(store('a', 1, 100, here), 1, here)).toBeCloseTo(1.0, 6);
    expect(heuristicScore(store('b', 0.4, 50), 0.4, here)).toBeCloseTo(0.2 + 0.1, 6); // no location: no distance credit
    const twoKmNorth = { lat: here.lat + 2 / 111.195, lon: here.lon };
    expect(distanceKm(here, twoKmNorth)).toBeCloseTo(2, 2);
    expect(heuristicScore(store('c', 0, 0, twoKmNorth), 0, here)).toBeCloseTo(0.3 * 0.6, 3);
    expect(heuristicScore(store('d', 0, 0, { lat: here.lat + 0.1, lon: here.lon }), 0, here)).toBe(0); // 11 km
  });
});

describe('scoreGroup', () => {
  const u = (userId: string, location?: { lat: number; lon: number }): UserState => ({
    userId,
    timeZone: 'UTC',
    locale: 'en',
    optIn: true,
    devices: [],
    ...(location ? { location } : {}),
  });
  const far = { lat: here.lat + 0.2, lon: here.lon };
  const near = store('near', 0.3, 0, here);
  const deal = store('deal', 0.3, 60, far);

  it("keeps each user's best candidate and gathers users per candidate", () => {
    const users = new Map([
      ['local', u('local', here)],
      ['away', u('away', far)],
      ['nowhere', u('nowhere')],
    ]);
    const picks = scoreGroup(
      {
        strategy: 'market-basket',
        targetId: 't',
        at: 0,
        candidates: [near, deal],
        userIds: ['local', 'away', 'nowhere', 'ghost'],
      },
      users,
      { features: (c) => ({ affinity: c.affinity }) },
      (c, user, f) => heuristicScore(c, f.affinity, user.location),
    );
    const byCandidate = Object.fromEntries(picks.map((p) => [p.candidate.id, p.userIds]));
    expect(byCandidate).toEqual({ near: ['local'], deal: ['away', 'nowhere'] });
    const local = picks.find((p) => p.candidate.id === 'near')!;
    expect(local.scores[0]).toBeCloseTo(0.15 + 0.3, 6);
  });

  it('gives the same push id to the same trigger and user, and another to another trigger', () => {
    const pick = {
      strategy: 's',
      targetId: 't1',
      at: 0,
      candidate: near,
      userIds: ['a', 'b'],
      scores: [0.5, 0.4],
    };
    const [a1, b1] = offers([pick]);
    const [a2] = offers([pick]);
    const [a3] = offers([{ ...pick, targetId: 't2' }]);
    expect(a1!.winner.decisionId).toBe(a2!.winner.decisionId);
    expect(a1!.winner.decisionId).not.toBe(b1!.winner.decisionId);
    expect(a1!.winner.decisionId).not.toBe(a3!.winner.decisionId);
    expect(a1!.winner.decisionId).not.toContain(':');
  });
});
