/** Shared inputs of the simulator tests: the real affinity table and small worlds built once per file. */
import affinity from '../../infra/data/affinity.json';
import { createWorld, type World, type WorldOptions } from '../../services/simulator/world';

export { affinity };

/** 2026-03-23 is a Monday; day 6 (Sunday 29 March) is the EU spring-forward day. */
export const START = '2026-03-23';

export function makeWorld(overrides: Partial<WorldOptions> = {}): World {
  return createWorld({
    seed: 42,
    users: 500,
    stores: 120,
    salesPerDay: 30,
    days: 14,
    start: START,
    affinity,
    ...overrides,
  });
}
