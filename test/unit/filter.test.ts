import { filterGroup } from '../../services/pipeline/filter';
import type { UserState } from '../../services/state';
import type { Group } from '../../shared/schemas/jobs.schema';

const device = { platform: 'ios' as const, token: 'token-123456' };
const user = (userId: string, over: Partial<UserState> = {}): UserState => ({
  userId,
  timeZone: 'UTC',
  locale: 'en',
  optIn: true,
  devices: [device],
  ...over,
});
const candidate = {
  id: 's1',
  kind: 'store' as const,
  category: 'wine',
  title: 'Cellar',
  discount: 10,
  affinity: 0.4,
};
const group: Group = {
  strategy: 'market-basket',
  targetId: 't1',
  at: 0,
  candidates: [candidate],
  userIds: ['ok', 'out', 'nodev', 'cool', 'ghost'],
};

describe('filterGroup', () => {
  const users = new Map([
    ['ok', user('ok')],
    ['out', user('out', { optIn: false })],
    ['nodev', user('nodev', { devices: [] })],
    ['cool', user('cool')],
  ]);

  it('keeps the reachable users and records why each other one was dropped', () => {
    const r = filterGroup(group, users, new Set(['cool']), 1000);
    expect(r.kept?.userIds).toEqual(['ok']);
    expect(Object.fromEntries(r.drops.map((d) => [d.userId, d.reason]))).toEqual({
      out: 'opted_out',
      nodev: 'no_device',
      cool: 'cooldown',
      ghost: 'unknown_user',
    });
  });

  it('drops everyone when every candidate is past its deadline', () => {
    const expired = { ...group, candidates: [{ ...candidate, deadline: 500 }] };
    const r = filterGroup(expired, users, new Set(), 1000);
    expect(r.kept).toBeNull();
    expect(new Set(r.drops.map((d) => d.reason))).toEqual(new Set(['expired']));
  });
});
