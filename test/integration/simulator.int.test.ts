/**
 * The simulator drives the real pipeline: one simulated day of a small world under the baseline policy, on
 * an accelerated clock, every worker its own process. Each reachable user gets the campaign's one push, and
 * the world's answers come back through Kafka into Herald's feedback counters.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../shared/config';
import { runSimulation } from '../../services/simulator/sim-run';
import { createWorld, pushOptInAt, userId, DAY_MS } from '../../services/simulator/world';

describe('simulator through the pipeline', () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-sim-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('delivers one campaign push per reachable user and folds the feedback it draws', async () => {
    const config = loadConfig();
    const affinity: unknown = JSON.parse(readFileSync('infra/data/affinity.json', 'utf8'));
    const start = new Date(Date.now() - 3 * DAY_MS).toISOString().slice(0, 10);
    const world = createWorld({ seed: 3, users: 200, stores: 40, salesPerDay: 6, days: 1, start, affinity });
    const run = await runSimulation({
      world,
      historyDays: 0,
      days: 1,
      daySeconds: 20,
      timeZone: 'Europe/Madrid',
      campaignHour: 9,
      env: { STRATEGIES: 'daily-sale', DAILY_SALE_POLICY: 'baseline', CONCILIATION: 'compare' },
      brokers: config.KAFKA_BROKERS.join(','),
      redisUrl: config.REDIS_URL,
      outDir: dir,
      label: 'test',
      progress: () => undefined,
    });

    expect(run.campaigns).toBe(1);
    expect(run.pipeline.failedJobs).toBe(0);
    const campaignAt = Date.parse(`${start}T08:00:00Z`); // 09:00 in Madrid, winter time
    const reachable = Array.from({ length: world.users.count }, (_, i) => i)
      .filter((i) => (world.users.deviceCount[i] ?? 0) > 0 && pushOptInAt(world, i, campaignAt))
      .map((i) => userId(world, i));
    const pushed = run.pushes.map((p) => p.userId);
    expect(new Set(pushed).size).toBe(pushed.length);
    // Profile changes during the day (opt-outs, new devices) may move a user or two across the line.
    expect(Math.abs(pushed.length - reachable.length)).toBeLessThanOrEqual(3);
    expect(new Set(run.pushes.map((p) => p.candidateId)).size).toBe(1);

    // Every push is answered with a delivered event, and opens drawn by the world reach Herald's counters.
    expect(run.pipeline.feedback['daily-sale:delivered']).toBe(run.pushes.length);
    const opened = run.pushes.filter((p) => p.opened).length;
    expect(run.pipeline.feedback['daily-sale:opened'] ?? 0).toBeLessThanOrEqual(opened);
    expect(run.pipeline.feedback['daily-sale:opened'] ?? 0).toBeGreaterThanOrEqual(Math.floor(opened * 0.8));
  });
});
