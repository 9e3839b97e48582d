/**
 * The operator server's /metrics names and labels (a contract with dashboards and alerts), and the
 * dashboard's pages rendered from fixed answers: strategies come from the data, a viewer gets no action
 * buttons, a dry run's report offers the confirmation.
 */
import type { ReplayReport } from '../../services/ops/api';
import { cookieOf, redriveBody, replayBody } from '../../services/ops/dashboard/routes';
import { failedPage, overviewPage, replayReportPage } from '../../services/ops/dashboard/pages';
import { esc } from '../../services/ops/dashboard/html';
import { feedbackByStrategy, holdoutFigures, type Snapshot } from '../../services/ops/figures';
import { opsRegistry } from '../../services/ops/metrics';
import { parseMetrics, valueOf } from '../helpers/prometheus';

const counts = (n: number) => ({
  waiting: n,
  active: 0,
  delayed: 0,
  prioritized: 0,
  failed: 1,
  completed: 5,
});

const snapshot: Snapshot = {
  at: Date.UTC(2026, 2, 2, 10),
  pushes: { alpha: 7, beta: 3 },
  feedback: { alpha: { opened: 4, clicked: 1 }, beta: { opened: 2 } },
  drops: { opted_out: 2, cooldown: 5 },
  dead: 3,
  eventsIn: { purchases: 10, profiles: 4 },
  jobs: { filter: counts(2), 'send-time': counts(0) },
  due: { realtime: { booked: 1, due: 1, oldestWaitMs: 2500 }, bulk: { booked: 4, due: 0, oldestWaitMs: 0 } },
  lag: [
    { group: 'herald-ingest', topic: 'purchases', partition: 0, lag: 2 },
    { group: 'herald-ingest', topic: 'purchases', partition: 1, lag: 0 },
  ],
  holdouts: holdoutFigures([
    // 100 treated users with 10 opens (8 users with 1, 1 with 2: Σx² = 12), 20 held out with none.
    { scope: 'all', group: 'treated', users: 100, sums: { opened: { sum: 10, sq: 12 } } },
    { scope: 'all', group: 'holdout', users: 20, sums: {} },
  ]),
};

describe('ops /metrics', () => {
  it('pins every name and its labels, and fills them from a snapshot', async () => {
    const { registry, fill } = opsRegistry();
    fill(snapshot);
    const s = parseMetrics(await registry.metrics());
    const labels = new Map<string, string>();
    for (const x of s) labels.set(x.name, Object.keys(x.labels).sort().join(','));
    expect(Object.fromEntries(labels)).toEqual({
      herald_pushes_recorded_total: 'strategy',
      herald_feedback_recorded_total: 'strategy,type',
      herald_drops_recorded_total: 'reason',
      herald_dead_letters_recorded_total: '',
      herald_events_in_recorded_total: 'topic',
      herald_queue_jobs: 'queue,state',
      herald_due_set_users: 'lane,state',
      herald_due_set_oldest_wait_seconds: 'lane',
      herald_kafka_consumer_lag: 'group,partition,topic',
      herald_ops_source_up: 'source',
      herald_holdout_users: 'group,scope',
      herald_holdout_lift_per_user: 'bound,measure,scope',
    });
    expect(valueOf(s, 'herald_pushes_recorded_total', { strategy: 'alpha' })).toBe(7);
    expect(valueOf(s, 'herald_feedback_recorded_total', { strategy: 'alpha', type: 'clicked' })).toBe(1);
    expect(valueOf(s, 'herald_drops_recorded_total', { reason: 'cooldown' })).toBe(5);
    expect(valueOf(s, 'herald_dead_letters_recorded_total')).toBe(3);
    expect(valueOf(s, 'herald_queue_jobs', { queue: 'filter', state: 'waiting' })).toBe(2);
    expect(valueOf(s, 'herald_due_set_oldest_wait_seconds', { lane: 'realtime' })).toBe(2.5);
    expect(valueOf(s, 'herald_kafka_consumer_lag', { partition: '0' })).toBe(2);
    expect(valueOf(s, 'herald_holdout_users', { scope: 'all', group: 'holdout' })).toBe(20);
    // 0.1 opens per user against 0; the interval is the treated mean's: var = (12 − 100 × 0.01) / 99.
    expect(
      valueOf(s, 'herald_holdout_lift_per_user', { scope: 'all', measure: 'opens', bound: 'estimate' }),
    ).toBeCloseTo(0.1, 12);
    const se = Math.sqrt((12 - 100 * 0.01) / 99 / 100);
    expect(
      valueOf(s, 'herald_holdout_lift_per_user', { scope: 'all', measure: 'opens', bound: 'lo' }),
    ).toBeCloseTo(0.1 - 1.959963984540054 * se, 9);

    // A later snapshot replaces the values; a source that failed says so and its series go.
    fill({ ...snapshot, pushes: { alpha: 8 }, lag: null });
    const t = parseMetrics(await registry.metrics());
    expect(valueOf(t, 'herald_pushes_recorded_total', { strategy: 'alpha' })).toBe(8);
    expect(
      t.filter((x) => x.labels.strategy === 'beta' && x.name === 'herald_pushes_recorded_total'),
    ).toEqual([]);
    expect(valueOf(t, 'herald_ops_source_up', { source: 'kafka' })).toBe(0);
    expect(t.some((x) => x.name === 'herald_kafka_consumer_lag')).toBe(false);
  });

  it('reads the per-strategy feedback fields', () => {
    expect(feedbackByStrategy({ 'a:opened': 2, 'a:clicked': 1, 'b-c:opened': 3, junk: 1 })).toEqual({
      a: { opened: 2, clicked: 1 },
      'b-c': { opened: 3 },
    });
  });
});

describe('dashboard pages', () => {
  const operator = { name: 'alice', role: 'operator', mayAct: true };
  const viewer = { name: 'vic', role: 'viewer', mayAct: false };

  it('shows each strategy of the data with its click-to-open and its holdout lift where there is one', () => {
    const earlier = { at: snapshot.at - 60_000, pushes: { alpha: 1 }, feedback: {}, drops: {} };
    const page = overviewPage(operator, snapshot, [earlier]);
    expect(page).toContain('data-figure="pushes" data-strategy="alpha">7<');
    expect(page).toContain('data-figure="pushes" data-strategy="beta">3<');
    expect(page).toContain('25.0%'); // alpha: 1 click of 4 opens
    // alpha has no holdout of its own: not measured; Herald against the global control: +0.1 opens per user.
    expect(page).toMatch(/data-strategy="alpha">[\s\S]*?not measured/);
    expect(page).toMatch(/data-figure="lift" data-strategy="all"\s*>\+0\.1000 \[\+0\.03\d\d, \+0\.16\d\d\]/);
    expect(page).toContain('data-chart="Pushes sent"');
    expect(page).not.toMatch(/<script|https?:\/\//);
  });

  it('gives operators a dry-run replay button and viewers none', () => {
    const jobs = {
      items: [
        {
          queue: 'filter' as const,
          id: 'f1',
          reason: 'bad <devices>',
          attempts: 5,
          failedAt: 0,
          createdAt: 0,
          strategies: ['alpha'],
          users: 3,
          data: {},
        },
      ],
    };
    expect(failedPage(operator, jobs, {})).toContain('Replay (dry run)');
    const seen = failedPage(viewer, jobs, {});
    expect(seen).not.toContain('Replay (dry run)');
    expect(seen).toContain(esc('bad <devices>'));
  });

  it('offers the confirmation with the dry run’s selection, and only after a dry run', () => {
    const report: ReplayReport = {
      dryRun: true,
      jobs: 1,
      replayed: 0,
      users: 3,
      pushes: 2,
      deferred: 0,
      dropped: { opted_out: 1 },
      perJob: [],
    };
    const dry = replayReportPage(operator, report, { job: ['filter/f1'] });
    expect(dry).toContain('id="replay-confirm"');
    expect(dry).toContain('name="job" value="filter/f1"');
    expect(dry).toContain('opted_out: 1');
    expect(replayReportPage(operator, { ...report, dryRun: false, replayed: 1 }, {})).not.toContain(
      'replay-confirm',
    );
    expect(replayReportPage(viewer, report, {})).not.toContain('replay-confirm');
  });

  it('turns forms into API bodies: dry run unless confirmed', () => {
    expect(replayBody({ job: ['filter/f:1'] }).body).toEqual({
      jobs: [{ queue: 'filter', id: 'f:1' }],
      dryRun: true,
    });
    expect(replayBody({ queue: ['score'], all: ['1'], confirm: ['1'] }).body).toEqual({
      filter: { queue: 'score' },
      dryRun: false,
    });
    expect(redriveBody({ id: ['0:4'] })).toMatchObject({ body: { ids: ['0:4'], dryRun: true } });
    expect(redriveBody({ fixId: ['0:4'], fix: ['{"a":1}'] })).toMatchObject({
      body: { fix: { id: '0:4', value: { a: 1 } }, dryRun: true },
    });
    const bad = redriveBody({ fixId: ['0:4'], fix: ['{'] });
    expect('error' in bad && bad.error).toMatch(/^fix: not JSON/);
    const none = redriveBody({});
    expect('error' in none && none.error).toMatch(/^id:/);
    expect(cookieOf('a=1; herald_token=hrld_x%2By', 'herald_token')).toBe('hrld_x+y');
    expect(cookieOf('a=1', 'herald_token')).toBeUndefined();
  });
});
