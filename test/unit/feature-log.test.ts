import { planPushes } from '../../services/delivery/dispatcher';
import { createScoreStage, sampled } from '../../services/pipeline/score';
import { FEATURE_COUNT, FEATURE_NAMES, FEATURE_SCHEMA_HASH } from '../../services/ranking/features';
import { rankScore } from '../../services/ranking/heuristic';
import { joinPushLog } from '../../services/ranking/push-log';
import type { StrategyPlugin } from '../../services/strategies';
import type { UserState } from '../../services/state';
import type { PushSent } from '../../shared/schemas/events.schema';
import type { Group, Winner } from '../../shared/schemas/jobs.schema';

const NOW = Date.parse('2026-11-22T10:00:00Z');
const user = (userId: string, categories: Record<string, number>): UserState => ({
  userId,
  timeZone: 'Europe/Madrid',
  locale: 'en',
  optIn: true,
  devices: [{ platform: 'ios', token: `t-${userId}` }],
  categories,
});

describe('feature logging', () => {
  it('records the feature vector of each user’s pick, with the schema hash', async () => {
    const users = new Map([
      ['a', user('a', { books: 3 })],
      ['b', user('b', { shoes: 1 })],
    ]);
    const recorded: Array<{ userId: string; candidateId: string; json: string }> = [];
    const plugin = {
      name: 's',
      usesCategories: true,
      features: (c, u) => ({ affinity: u.categories?.[c.category] ? 1 : 0 }),
    } as Pick<StrategyPlugin, 'name' | 'features' | 'usesCategories'> as StrategyPlugin;
    const stage = createScoreStage({
      users: { getUsers: () => Promise.resolve(users) },
      strategies: new Map([['s', plugin]]),
      scorer: rankScore,
      featureLog: {
        decisions: {
          recordFeatures: (e) => {
            recorded.push(...e);
            return Promise.resolve();
          },
        },
        telemetry: {
          engagementOf: () => Promise.resolve(new Map([['a', { delivered: 4, opened: 2, clicked: 1 }]])),
        },
        timing: {
          read: () => Promise.resolve({ user: new Map(), zone: new Map(), all: { values: [], at: [] } }),
        },
      },
    });
    const group: Group = {
      strategy: 's',
      targetId: 't',
      at: NOW,
      userIds: ['a', 'b', 'nobody'],
      candidates: [
        { id: 'books-1', kind: 'sale', category: 'books', title: 'B', discount: 10, affinity: 0 },
        { id: 'shoes-1', kind: 'sale', category: 'shoes', title: 'S', discount: 10, affinity: 0 },
      ],
    };
    await stage({ groups: [group] }, {} as never);
    expect(recorded.map((r) => [r.userId, r.candidateId])).toEqual([
      ['a', 'books-1'],
      ['b', 'shoes-1'],
    ]);
    const a = JSON.parse(recorded[0]!.json) as { schema: string; values: number[] };
    expect(a.schema).toBe(FEATURE_SCHEMA_HASH);
    expect(a.values).toHaveLength(FEATURE_COUNT);
    expect(a.values[FEATURE_NAMES.indexOf('affinity')]).toBe(1);
    expect(a.values[FEATURE_NAMES.indexOf('open_rate')]).toBeCloseTo(3 / 9, 5);
  });

  it('puts the recorded vector on push.sent, and leaves out a malformed one', () => {
    const winner = (userId: string): Winner => ({
      decisionId: `push-${userId}`,
      strategy: 's',
      targetId: 't',
      candidate: { id: 'c', kind: 'sale', category: 'books', title: 'B', discount: 10, affinity: 0 },
      score: 0.5,
      at: NOW,
    });
    const values = Array.from({ length: FEATURE_COUNT }, (_, i) => i / 10);
    const { pushes } = planPushes(
      ['a', 'b'],
      new Map([
        ['a', winner('a')],
        ['b', winner('b')],
      ]),
      new Map([
        ['a', user('a', {})],
        ['b', user('b', {})],
      ]),
      new Map([['s', { render: () => ({ title: 't', body: 'b', deepLink: 'x://' }) }]]),
      NOW,
      new Map(),
      undefined,
      new Map([
        ['a', JSON.stringify({ schema: FEATURE_SCHEMA_HASH, values })],
        ['b', '{"schema": 7}'],
      ]),
    );
    expect(pushes[0]?.features).toEqual({ schema: FEATURE_SCHEMA_HASH, values });
    expect(pushes[1]?.features).toBeUndefined();
  });

  it('joins pushes with their feedback into labelled examples, each push once', () => {
    const push = (id: string, features?: PushSent['features']): PushSent => ({
      v: 1,
      pushId: id,
      userId: 'u',
      strategy: 's',
      targetId: 't',
      candidate: { id: 'c', kind: 'sale', category: 'books' },
      title: 't',
      body: 'b',
      deepLink: 'x://',
      devices: [],
      score: 0,
      sentAt: new Date(NOW).toISOString(),
      ...(features ? { features } : {}),
    });
    const f = { schema: FEATURE_SCHEMA_HASH, values: new Array<number>(FEATURE_COUNT).fill(0.5) };
    const fb = (pushId: string, type: 'delivered' | 'opened' | 'clicked') => ({
      v: 1 as const,
      eventId: `${pushId}-${type}`,
      pushId,
      userId: 'u',
      strategy: 's',
      type,
      at: new Date(NOW).toISOString(),
    });
    const log = joinPushLog(
      [push('p1', f), push('p1', f), push('p2', f), push('p3'), push('p4', { schema: 'other', values: [1] })],
      [fb('p1', 'delivered'), fb('p1', 'clicked'), fb('p2', 'delivered'), fb('gone', 'opened')],
    );
    expect(log.n).toBe(2);
    expect(Array.from(log.opened)).toEqual([1, 0]);
    expect(Array.from(log.clicked)).toEqual([1, 0]);
    expect(log.skipped).toBe(2);
    expect(log.orphanFeedback).toBe(1);
  });
});

describe('the feature log sample', () => {
  it('keeps about `rate` of (user, target) pairs, the same ones every time', () => {
    const ids = Array.from({ length: 10_000 }, (_, i) => `u${i}`);
    const kept = ids.filter((u) => sampled(u, 'ds-2026-11-22', 0.1));
    expect(kept.length).toBeGreaterThan(900);
    expect(kept.length).toBeLessThan(1100);
    expect(ids.filter((u) => sampled(u, 'ds-2026-11-22', 0.1))).toEqual(kept);
    expect(sampled('u1', 't', 1)).toBe(true);
    expect(sampled('u1', 't', 0)).toBe(false);
  });
});
