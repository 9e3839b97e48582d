/**
 * Every worker's Prometheus /metrics after a known small run on real Kafka and Redis: the counts equal the
 * pushes, drops and dead letters that happened, under the pinned names and labels.
 */
import { createServer } from 'node:net';
import { metricsPort, type WorkerName } from '../../shared/workers';
import type { TestEnv } from '../helpers/env';
import { profile, purchase, store } from '../helpers/fixtures';
import { produce } from '../helpers/kafka';
import { readSink, type PipelineProbe } from '../helpers/pipeline';
import { startPipeline, type RunningPipeline } from '../helpers/running-pipeline';
import { waitFor } from '../helpers/wait';
import type { Workers } from '../helpers/workers';

/** A base port with the nine ports after it free on 127.0.0.1. */
async function freeBase(): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, () => s.close(() => resolve(true)));
    });
  for (;;) {
    // Below Linux's ephemeral range (32768-60999): no outgoing connection (Kafka, Redis) is handed one of
    // these ports between this check and the workers' listen.
    const base = 20_000 + Math.floor(Math.random() * 12_000);
    const ok = await Promise.all(Array.from({ length: 9 }, (_, i) => free(base + i)));
    if (ok.every(Boolean)) return base;
  }
}

type Sample = { name: string; labels: Record<string, string>; value: number };

/** The text exposition format, as far as these tests read it. */
function parse(text: string): Sample[] {
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(l);
      if (!m) throw new Error(`unparsable metrics line: ${l}`);
      const labels = Object.fromEntries(
        [...(m[2] ?? '').matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1]!, x[2]!]),
      );
      return { name: m[1]!, labels, value: Number(m[3]) };
    });
}

describe('metrics: every worker serves /metrics', () => {
  let pipeline: RunningPipeline;
  let env: TestEnv;
  let workers: Workers;
  let probe: PipelineProbe;
  let base: number;

  const scrape = async (w: WorkerName): Promise<Sample[]> => {
    const res = await fetch(`http://127.0.0.1:${metricsPort(base, w)}/metrics`);
    expect(res.status).toBe(200);
    return parse(await res.text());
  };
  const value = (samples: Sample[], name: string, labels: Record<string, string>) =>
    samples
      .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
      .reduce((sum, s) => sum + s.value, 0);

  beforeAll(async () => {
    base = await freeBase();
    pipeline = await startPipeline({ METRICS_PORT: String(base) }, async (e) => {
      await produce(e.config, 'stores', [store('wine-1', 'wine', { discount: 20 })]);
      await produce(e.config, 'profiles', [
        profile('alice'),
        profile('bob'),
        profile('dave', { pushOptIn: false }),
      ]);
    });
    ({ env, workers, probe } = pipeline);
  });

  afterAll(() => pipeline?.stop());

  afterEach(() => {
    const failed = expect.getState().assertionCalls !== expect.getState().numPassingAsserts;
    if (failed) process.stderr.write(workers.logs());
  });

  it('counts the pushes, drops and dead letters that happened', async () => {
    await produce(env.config, 'purchases', [
      purchase('alice', 'groceries'),
      purchase('bob', 'groceries'),
      purchase('dave', 'groceries'),
      purchase('erin', 'groceries', { amount: -1 }),
      '{"v":1,"userId":',
    ]);
    await waitFor(() => readSink(env.sinkFile).length === 2, 'two pushes');
    await probe.settle();

    const sendTime = await scrape('send-time');
    expect(value(sendTime, 'herald_pushes_sent_total', { strategy: 'market-basket' })).toBe(
      readSink(env.sinkFile).length,
    );
    expect(sendTime.find((s) => s.name === 'herald_pushes_sent_total')?.labels.worker).toBe('send-time');
    expect(value(sendTime, 'herald_due_users', { lane: 'realtime', state: 'booked' })).toBe(0);

    const filter = await scrape('filter');
    expect(value(filter, 'herald_drops_total', { reason: 'opted_out', strategy: 'market-basket' })).toBe(1);

    const ingest = await scrape('ingest');
    expect(value(ingest, 'herald_events_total', { topic: 'purchases', outcome: 'accepted' })).toBe(3);
    expect(value(ingest, 'herald_events_total', { topic: 'purchases', outcome: 'dead' })).toBe(2);
    expect(value(ingest, 'herald_dead_letters_total', { topic: 'purchases', reason: 'amount' })).toBe(1);
    expect(value(ingest, 'herald_dead_letters_total', { topic: 'purchases', reason: 'invalid JSON' })).toBe(
      1,
    );
    expect(value(ingest, 'herald_consumer_lag', { topic: 'purchases' })).toBe(0);

    for (const [w, stage] of [
      ['target', 'target'],
      ['audience', 'audience'],
      ['filter', 'filter'],
      ['score', 'score'],
      ['conciliate', 'conciliate'],
      ['send-time', 'sendTime'],
    ] as const) {
      const s = w === 'send-time' ? sendTime : w === 'filter' ? filter : await scrape(w);
      const started = value(s, 'herald_stage_jobs_total', { stage, outcome: 'started' });
      expect(started).toBeGreaterThan(0);
      expect(value(s, 'herald_stage_jobs_total', { stage, outcome: 'completed' })).toBe(started);
      expect(value(s, 'herald_stage_jobs_total', { stage, outcome: 'failed' })).toBe(0);
      expect(value(s, 'herald_stage_duration_seconds_count', { stage })).toBe(started);
    }
  });
});
