import { holdQuiet, planPushes, toSend } from '../../services/delivery/dispatcher';
import type { UserState } from '../../services/state';
import type { Winner } from '../../shared/schemas/jobs.schema';

const NOW = Date.parse('2026-11-22T10:00:00Z');
const user = (userId: string, over: Partial<UserState> = {}): UserState => ({
  userId,
  timeZone: 'UTC',
  locale: 'en',
  optIn: true,
  devices: [{ platform: 'ios', token: `device-token-${userId}` }],
  ...over,
});
const winner = (userId: string, over: Partial<Winner['candidate']> = {}): Winner => ({
  decisionId: `push-${userId}`,
  strategy: 'daily-sale',
  targetId: 'ds-2026-11-22',
  candidate: {
    id: 'sale-1',
    kind: 'sale',
    category: 'shoes',
    title: 'Shoes',
    discount: 20,
    affinity: 0,
    ...over,
  },
  score: 0.5,
  at: NOW,
});
const strategies = new Map([
  ['daily-sale', { render: (c: Winner['candidate']) => ({ title: c.title, body: 'b', deepLink: 'x://s' }) }],
]);

describe('planPushes', () => {
  it('drops a user who withdrew location opt-in after filter, for a strategy that needs it', () => {
    const near = new Map([
      ['near', { needsLocationOptIn: true, render: () => ({ title: 't', body: 'b', deepLink: 'x://' }) }],
    ]);
    const w = { ...winner('a'), strategy: 'near' };
    const plan = (u: UserState) => planPushes(['a'], new Map([['a', w]]), new Map([['a', u]]), near, NOW);
    expect(plan(user('a', { locationOptIn: false })).drops.map((d) => d.reason)).toEqual([
      'no_location_opt_in',
    ]);
    expect(plan(user('a', { locationOptIn: true })).pushes.map((p) => p.userId)).toEqual(['a']);
    // A strategy that does not need it sends regardless.
    expect(
      planPushes(['a'], new Map([['a', winner('a')]]), new Map([['a', user('a')]]), strategies, NOW).pushes,
    ).toHaveLength(1);
  });

  it('renders the winner at delivery time for each reachable user, once per user', () => {
    const { pushes, drops } = planPushes(
      ['a', 'b', 'a'],
      new Map([
        ['a', winner('a')],
        ['b', winner('b')],
      ]),
      new Map([
        ['a', user('a')],
        ['b', user('b')],
      ]),
      strategies,
      NOW,
    );
    expect(pushes.map((p) => [p.userId, p.pushId, p.title])).toEqual([
      ['a', 'push-a', 'Shoes'],
      ['b', 'push-b', 'Shoes'],
    ]);
    expect(pushes[0]!.devices).toEqual([{ platform: 'ios', token: 'device-token-a' }]);
    expect(drops).toEqual([]);
  });

  it('drops with a reason who can no longer be reached, an expired candidate and an unknown strategy', () => {
    const { pushes, drops } = planPushes(
      ['out', 'late', 'gone', 'odd', 'nowinner'],
      new Map([
        ['out', winner('out')],
        ['late', winner('late', { deadline: NOW })],
        ['gone', winner('gone')],
        ['odd', { ...winner('odd'), strategy: 'telepathy' }],
      ]),
      new Map([
        ['out', user('out', { optIn: false })],
        ['late', user('late')],
        ['odd', user('odd')],
      ]),
      strategies,
      NOW,
    );
    expect(pushes).toEqual([]);
    expect(drops.map((d) => [d.userId, d.reason])).toEqual([
      ['out', 'opted_out'],
      ['late', 'expired'],
      ['gone', 'unknown_user'],
      ['odd', 'unknown_strategy'],
    ]);
  });
});

describe('toSend', () => {
  it('sends a new reservation, resends a dead delivery’s push as it was, and nothing else', () => {
    const { pushes } = planPushes(
      ['a', 'b', 'c', 'd', 'e'],
      new Map(['a', 'b', 'c', 'd', 'e'].map((u) => [u, winner(u)])),
      new Map(['a', 'b', 'c', 'd', 'e'].map((u) => [u, user(u)])),
      strategies,
      NOW,
    );
    const before = { ...pushes[1]!, title: 'the push reserved before the crash' };
    const out = toSend(pushes, [
      { state: 'new' },
      { state: 'pending', json: JSON.stringify(before) },
      { state: 'sent' },
      { state: 'taken' },
      { state: 'busy', until: NOW + 1 },
    ]);
    expect(out.map((p) => [p.userId, p.title])).toEqual([
      ['a', 'Shoes'],
      ['b', 'the push reserved before the crash'],
    ]);
  });
});

describe('holdQuiet', () => {
  // 23:30 in Madrid: inside 22-8.
  const night = Date.parse('2026-11-22T22:30:00Z');
  const quiet = { start: 22, end: 8 };
  const madrid = (id: string) => user(id, { timeZone: 'Europe/Madrid' });
  const planned = (ids: string[], winners: Map<string, Winner>, users: Map<string, UserState>) =>
    planPushes(ids, winners, users, strategies, night).pushes;

  it('holds a lagging push until quiet hours end, drops one whose candidate ends first, sends the rest', () => {
    const winners = new Map([
      ['a', winner('a')],
      ['b', winner('b', { deadline: night + 3_600_000 })],
      ['c', winner('c')],
    ]);
    const users = new Map([
      ['a', madrid('a')],
      ['b', madrid('b')],
      ['c', user('c', { timeZone: 'America/New_York' })], // 17:30 there
    ]);
    const r = holdQuiet(planned(['a', 'b', 'c'], winners, users), users, winners, night, quiet);
    expect(r.now.map((p) => p.userId)).toEqual(['c']);
    // 08:00 in Madrid the next morning.
    expect(r.later).toEqual([{ userId: 'a', at: Date.parse('2026-11-23T07:00:00Z') }]);
    expect(r.drops.map((d) => [d.userId, d.reason])).toEqual([['b', 'quiet_hours']]);
  });
});
