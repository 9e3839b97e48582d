/**
 * Strategies are plugins: a strategy the pipeline has never heard of plugs in through its own definition,
 * and no stage, the scheduler or the platform spells a registered strategy's name.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { planIngest } from '../../services/pipeline/ingest';
import { scoreGroup } from '../../services/pipeline/score';
import { rankScore } from '../../services/ranking/heuristic';
import { STRATEGY_NAMES } from '../../services/strategies';
import type { StrategyPlugin } from '../../services/strategies';
import type { Consumed } from '../../shared/kafka/consumer';
import type { IngestTopic } from '../../shared/topics';

const NOW = Date.parse('2026-11-22T10:00:00Z');

const nearby: StrategyPlugin = {
  name: 'nearby',
  events: {
    topics: ['locations'],
    trigger: (e) =>
      e.topic === 'locations'
        ? {
            strategy: 'nearby',
            triggerId: `nb-${e.event.eventId}`,
            at: NOW,
            userId: e.event.userId,
            data: {},
          }
        : null,
  },
  target: () => Promise.resolve(null),
  features: (c) => ({ affinity: c.category === 'coffee' ? 1 : 0 }),
  render: (c) => ({ title: c.title, body: '', deepLink: '' }),
};

describe('a strategy plugs in through its definition', () => {
  it('gets triggers from the topics it declares, and only those', () => {
    const c = (topic: IngestTopic, event: object) =>
      ({ topic, event, partition: 0, offset: '0' }) as Consumed<IngestTopic>;
    const plan = planIngest(
      [
        c('locations', { eventId: 'l1', userId: 'u1', lat: 1, lon: 2, at: '2026-11-22T09:59:00Z' }),
        c('purchases', { eventId: 'p1', userId: 'u2', category: 'wine', at: '2026-11-22T09:59:00Z' }),
      ],
      [nearby],
      NOW,
    );
    expect(plan.triggers.map((t) => t.triggerId)).toEqual(['nb-l1']);
    expect(plan.fold.purchases).toHaveLength(1);
  });

  it('is scored on the features it gives', () => {
    const cand = (id: string, category: string) => ({
      id,
      kind: 'store' as const,
      category,
      title: id,
      discount: 0,
      affinity: 0,
    });
    const picks = scoreGroup(
      {
        strategy: 'nearby',
        targetId: 't',
        at: NOW,
        candidates: [cand('tea', 'tea'), cand('cafe', 'coffee')],
        userIds: ['u1'],
      },
      new Map([['u1', { userId: 'u1', timeZone: 'UTC', locale: 'en', optIn: true, devices: [] }]]),
      nearby,
      rankScore,
    );
    expect(picks.map((p) => [p.candidate.id, p.scores[0]])).toEqual([['cafe', 0.5]]);
  });
});

describe('no strategy is spelled outside its own folder', () => {
  const root = join(__dirname, '..', '..');
  const files = (dir: string): string[] =>
    readdirSync(dir).flatMap((f) => {
      const p = join(dir, f);
      return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
    });
  const platform = [
    'shared',
    'workers',
    'services/pipeline',
    'services/campaigns',
    'services/ranking',
    'services/delivery',
    'services/state',
    'services/ops',
  ];

  it.each(STRATEGY_NAMES)('%s', (name) => {
    const spelled = platform
      .flatMap((d) => files(join(root, d)))
      .filter((f) => readFileSync(f, 'utf8').includes(`'${name}'`));
    expect(spelled).toEqual([]);
  });
});
