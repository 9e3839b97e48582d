/**
 * The oracle policy: each reachable user, each day, gets the best push under the ground truth (any of the
 * day's sales or any store) at their best hour. It needs no pipeline: it is the ceiling, computed.
 */
import {
  DAY_MS,
  NO_FATIGUE,
  createRng,
  oraclePush,
  recordPush,
  sampleResponse,
  userId,
  type FatigueState,
  type OracleCandidate,
  type World,
} from './world';
import { sendTimeTruth, type PushRecord } from './sim-run';

/** The oracle over `days` days that follow `historyDays` days of history; `day` in the records counts from 0. */
export function runOracle(world: World, days: number, historyDays = 0): PushRecord[] {
  const evalStart = world.startMs + historyDays * DAY_MS;
  const out: PushRecord[] = [];
  const stores: OracleCandidate[] = world.stores.map((s) => ({
    id: s.id,
    kind: 'store',
    category: s.category,
    discount: s.discount,
    storeLocation: { lat: s.lat, lon: s.lon },
  }));
  const fatigue: FatigueState[] = [];
  for (let day = historyDays; day < historyDays + days; day++) {
    const sales: OracleCandidate[] = (world.sales[day] ?? []).map((s) => ({
      id: s.id,
      kind: 'sale',
      category: s.category,
      discount: s.discount,
      validFrom: s.validFrom,
      validTo: s.validTo,
    }));
    const candidates = [...sales, ...stores];
    for (let i = 0; i < world.users.count; i++) {
      const state = fatigue[i] ?? NO_FATIGUE;
      const choice = oraclePush(world, i, day, candidates, { fatigue: state });
      if (!choice) continue;
      const c = choice.candidate;
      const pushId = `oracle-${day}-${i}`;
      const outcome = sampleResponse(
        createRng(world.seed, 'response', pushId),
        world,
        i,
        c,
        choice.atMs,
        state,
      );
      fatigue[i] = recordPush(state, choice.atMs, outcome.opened);
      out.push({
        pushId,
        userId: userId(world, i),
        strategy: 'oracle',
        candidateId: c.id,
        kind: c.kind,
        category: c.category,
        sentAt: choice.atMs,
        day: Math.floor((choice.atMs - evalStart) / DAY_MS),
        pOpen: outcome.probabilities.pOpen,
        ...sendTimeTruth(world, userId(world, i), c, choice.atMs, state),
        pClick: outcome.probabilities.pClick,
        opened: outcome.opened,
        clicked: outcome.clicked,
        factors: outcome.probabilities.factors,
      });
    }
  }
  return out;
}
