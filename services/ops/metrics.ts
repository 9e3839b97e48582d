/**
 * The operator server's /metrics: Herald-wide figures (services/ops/figures.ts) read from Redis and Kafka at
 * scrape time, in a registry of its own (not the workers' shared/metrics.ts registry), every name prefixed
 * `herald_`. The workers count what each process did since it started; these are what Herald recorded since
 * the namespace began, so they survive a worker's restart.
 *
 * The names and labels are a contract with dashboards and alerts: test/unit/ops-metrics.test.ts pins them.
 * Label values are bounded: strategy, feedback type, drop reason, topic, queue, job state, lane, group,
 * partition, holdout scope and bound.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import { JOB_STATES, LANES, type Figures, type Snapshot } from './figures';

export interface OpsMetrics {
  contentType: string;
  /** Reads every figure and renders the text exposition. */
  scrape(): Promise<string>;
}

/** The registry and its metrics, filled from a snapshot by `fill`. */
export function opsRegistry() {
  const registry = new Registry();
  const registers = [registry];
  const m = {
    pushes: new Counter({
      name: 'herald_pushes_recorded_total',
      help: 'Pushes confirmed sent, by strategy, as recorded in Redis by every worker.',
      labelNames: ['strategy'] as const,
      registers,
    }),
    feedback: new Counter({
      name: 'herald_feedback_recorded_total',
      help: 'Push feedback events folded (each once), by strategy and type (delivered, opened, clicked, converted).',
      labelNames: ['strategy', 'type'] as const,
      registers,
    }),
    drops: new Counter({
      name: 'herald_drops_recorded_total',
      help: 'Users dropped by filter, send-time or delivery, by reason.',
      labelNames: ['reason'] as const,
      registers,
    }),
    dead: new Counter({
      name: 'herald_dead_letters_recorded_total',
      help: 'Events dead-lettered by ingest.',
      registers,
    }),
    eventsIn: new Counter({
      name: 'herald_events_in_recorded_total',
      help: 'Input events folded into state (each once), by topic.',
      labelNames: ['topic'] as const,
      registers,
    }),
    jobs: new Gauge({
      name: 'herald_queue_jobs',
      help: 'Jobs of each stage queue by state (waiting, active, delayed, prioritized, failed, completed).',
      labelNames: ['queue', 'state'] as const,
      registers,
    }),
    dueUsers: new Gauge({
      name: 'herald_due_set_users',
      help: 'Users in the due sets per lane: state=booked (due now or later) or due (due now, waiting).',
      labelNames: ['lane', 'state'] as const,
      registers,
    }),
    dueWait: new Gauge({
      name: 'herald_due_set_oldest_wait_seconds',
      help: 'How long the oldest user due for delivery has waited past their due time, per lane (0: none due).',
      labelNames: ['lane'] as const,
      registers,
    }),
    lag: new Gauge({
      name: 'herald_kafka_consumer_lag',
      help: 'Messages behind the high watermark per consumer group, topic and partition (committed offsets).',
      labelNames: ['group', 'topic', 'partition'] as const,
      registers,
    }),
    holdoutUsers: new Gauge({
      name: 'herald_holdout_users',
      help: 'Users conciliation saw per holdout scope (all: the global control; or a strategy) and group (treated, holdout).',
      labelNames: ['scope', 'group'] as const,
      registers,
    }),
    holdoutLift: new Gauge({
      name: 'herald_holdout_lift_per_user',
      help: 'Per holdout scope, opens, clicks or conversions per user of treated users minus held-out users: the estimate and its 95% interval (bound=estimate, lo, hi).',
      labelNames: ['scope', 'measure', 'bound'] as const,
      registers,
    }),
    up: new Gauge({
      name: 'herald_ops_source_up',
      help: 'Whether the last scrape could read a source: redis, kafka (1 yes, 0 no).',
      labelNames: ['source'] as const,
      registers,
    }),
  };

  /** Replaces every value with the snapshot's (series absent from it disappear). */
  function fill(s: Snapshot | undefined): void {
    for (const metric of Object.values(m)) metric.reset();
    m.up.set({ source: 'redis' }, s ? 1 : 0);
    m.up.set({ source: 'kafka' }, s?.lag ? 1 : 0);
    if (!s) return;
    for (const [strategy, n] of Object.entries(s.pushes)) m.pushes.inc({ strategy }, n);
    for (const [strategy, types] of Object.entries(s.feedback)) {
      for (const [type, n] of Object.entries(types)) m.feedback.inc({ strategy, type }, n);
    }
    for (const [reason, n] of Object.entries(s.drops)) m.drops.inc({ reason }, n);
    m.dead.inc(s.dead);
    for (const [topic, n] of Object.entries(s.eventsIn)) m.eventsIn.inc({ topic }, n);
    for (const [queue, states] of Object.entries(s.jobs)) {
      for (const state of JOB_STATES) m.jobs.set({ queue, state }, states[state]);
    }
    for (const lane of LANES) {
      m.dueUsers.set({ lane, state: 'booked' }, s.due[lane].booked);
      m.dueUsers.set({ lane, state: 'due' }, s.due[lane].due);
      m.dueWait.set({ lane }, s.due[lane].oldestWaitMs / 1000);
    }
    for (const h of s.holdouts ?? []) {
      m.holdoutUsers.set({ scope: h.scope, group: 'treated' }, h.users.treated);
      m.holdoutUsers.set({ scope: h.scope, group: 'holdout' }, h.users.holdout);
      for (const [measure, l] of Object.entries(h.lift)) {
        if (l.diff !== null) m.holdoutLift.set({ scope: h.scope, measure, bound: 'estimate' }, l.diff);
        if (l.lo !== null) m.holdoutLift.set({ scope: h.scope, measure, bound: 'lo' }, l.lo);
        if (l.hi !== null) m.holdoutLift.set({ scope: h.scope, measure, bound: 'hi' }, l.hi);
      }
    }
    for (const l of s.lag ?? []) {
      m.lag.set({ group: l.group, topic: l.topic, partition: String(l.partition) }, l.lag);
    }
  }

  return { registry, metrics: m, fill };
}

export function createOpsMetrics(figures: Pick<Figures, 'snapshot'>): OpsMetrics {
  const { registry, fill } = opsRegistry();
  // Scrapes are serialised: two at once would interleave their resets and fills.
  let last: Promise<string> = Promise.resolve('');
  return {
    contentType: registry.contentType,
    scrape() {
      const next = last
        .catch(() => '')
        .then(async () => {
          fill(await figures.snapshot().catch(() => undefined));
          return registry.metrics();
        });
      last = next;
      return next;
    },
  };
}
