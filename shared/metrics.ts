/**
 * Prometheus metrics of a worker process (prom-client), every name prefixed `herald_`, served on
 * METRICS_PORT at /metrics. They count what this process did; the operator server adds the Herald-wide
 * figures it reads from Redis. Label values are bounded: stage, topic, strategy, drop reason, lane, and the
 * dead-letter reason's class (the field or the kind of fault, never the offending value).
 *
 * The names and labels are a contract with dashboards and alerts (infra/grafana, infra/prometheus): a test
 * pins them.
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from './logger';

export const registry = new Registry();

export const metrics = {
  stageJobs: new Counter({
    name: 'herald_stage_jobs_total',
    help: 'Stage jobs by outcome: started, completed, retried (an attempt failed, another follows), failed (to the failed set).',
    labelNames: ['stage', 'outcome'] as const,
    registers: [registry],
  }),
  stageSeconds: new Histogram({
    name: 'herald_stage_duration_seconds',
    help: 'Time a stage job took, from taking it to enqueuing its outputs.',
    labelNames: ['stage'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  }),
  events: new Counter({
    name: 'herald_events_total',
    help: 'Kafka events read, by topic and outcome: accepted (passed their contract) or dead (dead-lettered).',
    labelNames: ['topic', 'outcome'] as const,
    registers: [registry],
  }),
  deadLetters: new Counter({
    name: 'herald_dead_letters_total',
    help: 'Events dead-lettered, by source topic and reason class (the field at fault or the kind of fault).',
    labelNames: ['topic', 'reason'] as const,
    registers: [registry],
  }),
  consumerLag: new Gauge({
    name: 'herald_consumer_lag',
    help: 'Messages behind the high watermark after the last batch, per consumer group, topic and partition.',
    labelNames: ['group', 'topic', 'partition'] as const,
    registers: [registry],
  }),
  pushes: new Counter({
    name: 'herald_pushes_sent_total',
    help: 'Pushes handed to the provider and confirmed in the contact ledger, by strategy.',
    labelNames: ['strategy'] as const,
    registers: [registry],
  }),
  drops: new Counter({
    name: 'herald_drops_total',
    help: 'Users dropped by filter, send-time or delivery, by reason and strategy.',
    labelNames: ['reason', 'strategy'] as const,
    registers: [registry],
  }),
  feedback: new Counter({
    name: 'herald_feedback_total',
    help: 'Push feedback events folded (each once), by strategy and type.',
    labelNames: ['strategy', 'type'] as const,
    registers: [registry],
  }),
};

/**
 * Gauges read from Redis when scraped: the process that owns the figure registers how to read it (the
 * send-time worker, its due sets). Errors leave the last value.
 */
export function dueGauges(
  read: () => Promise<Record<'realtime' | 'bulk', { booked: number; due: number; oldestWaitMs: number }>>,
): void {
  const latest = { value: undefined as Awaited<ReturnType<typeof read>> | undefined };
  const refresh = async () => {
    latest.value = await read().catch(() => latest.value);
  };
  new Gauge({
    name: 'herald_due_users',
    help: 'Users booked for delivery per lane: state=booked (due now or later) or due (due now, waiting).',
    labelNames: ['lane', 'state'] as const,
    registers: [registry],
    async collect() {
      await refresh();
      for (const lane of ['realtime', 'bulk'] as const) {
        const v = latest.value?.[lane];
        if (!v) continue;
        this.set({ lane, state: 'booked' }, v.booked);
        this.set({ lane, state: 'due' }, v.due);
      }
    },
  });
  new Gauge({
    name: 'herald_due_oldest_wait_seconds',
    help: 'How long the oldest user due for delivery has waited past their due time, per lane (0: none due).',
    labelNames: ['lane'] as const,
    registers: [registry],
    collect() {
      for (const lane of ['realtime', 'bulk'] as const) {
        const v = latest.value?.[lane];
        if (v) this.set({ lane }, v.oldestWaitMs / 1000);
      }
    },
  });
}

/**
 * The class of a dead-letter reason, for a label: `amount` for "amount: Too small ...", `invalid JSON`,
 * `unknown version`; at most 40 characters, never the offending value.
 */
export function reasonClass(reason: string): string {
  const known = ['invalid JSON', 'unknown version', 'empty message', 'not a JSON object'];
  const hit = known.find((k) => reason.startsWith(k));
  if (hit) return hit;
  const field = /^([A-Za-z0-9_.()[\]-]+):/.exec(reason)?.[1];
  return (field ?? 'other').slice(0, 40);
}

let defaults = false;

/** Serves /metrics (and /healthz) on `port`; 0 serves nothing. A port in use is logged, not fatal. */
export async function serveMetrics(
  port: number,
  worker: string,
  logger: Logger,
  extra: Registry[] = [],
): Promise<Server | undefined> {
  if (port === 0) return undefined;
  if (!defaults) {
    collectDefaultMetrics({ register: registry, prefix: 'herald_process_' });
    defaults = true;
  }
  registry.setDefaultLabels({ worker });
  const merged = extra.length ? Registry.merge([registry, ...extra]) : registry;
  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      merged.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': merged.contentType });
          res.end(text);
        },
        (err: unknown) => {
          logger.warn({ err: (err as Error).message }, 'metrics: collecting failed');
          res.writeHead(500).end();
        },
      );
    } else if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else res.writeHead(404).end();
  });
  return new Promise((resolve) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      logger.warn({ port, err: err.message }, 'metrics: cannot listen; this worker serves no /metrics');
      resolve(undefined);
    });
    server.listen(port, () => {
      logger.info({ port }, 'metrics on /metrics');
      resolve(server);
    });
  });
}
