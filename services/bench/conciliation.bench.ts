/**
 * `npm run bench:conciliation`: what value conciliation costs per user, beside the compare-and-set it
 * replaces, in the same run, on the same picks, on the benchmark's own redis-server.
 *
 * A campaign's picks (every user, one daily-sale offer) go through each stage handler in jobs of BATCH_SIZE,
 * then a real-time wave (a market-basket offer for a fifth of the users) that meets the campaign's offers
 * already in the window. Each is run twice, on fresh state: `compare` (the compare-and-set of the winner key)
 * and `value` (offers, engagement, caps history, the bandit, the policy, holdouts, the decision log). It
 * prints µs per user (wall time of the handler, Redis round trips included), Redis commands per user and the
 * server's CPU per user, and the ratio of value to compare.
 *
 * Flags: --users 100000 --batch 500.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { systemClock } from '../../shared/clock';
import type { CandidatePick } from '../../shared/schemas/jobs.schema';
import type { StageContext } from '../../shared/stage';
import { DEFAULT_POLICY } from '../conciliation/policy';
import { createConciliateStage, createValueConciliateStage } from '../pipeline/conciliate';
import { createState } from '../state';
import { delta, resetRedis, snapshot, startOwnRedis } from './redis';
import { fmt, say } from './util';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const n = Number(process.argv[i + 1]);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive whole number`);
  return n;
}

const WINDOW_MS = 20 * 3_600_000;

function picks(users: readonly string[], strategy: string, now: number): CandidatePick[] {
  return [
    {
      strategy,
      targetId: `${strategy}-t1`,
      at: now,
      candidate: {
        id: `${strategy}-c1`,
        kind: 'sale',
        category: 'shoes',
        title: 'Sale',
        discount: 30,
        affinity: 0.6,
        deepLink: 'herald://sale/1',
        deadline: now + 86_400_000,
      },
      userIds: [...users],
      scores: users.map((_, i) => 0.5 + (i % 100) / 200),
    },
  ];
}

async function main(): Promise<void> {
  const users = arg('users', 100_000);
  const batch = arg('batch', 500);
  const logDir = join('out', 'bench', 'logs', `conc${Date.now().toString(36)}`);
  mkdirSync(logDir, { recursive: true });
  const own = await startOwnRedis(logDir);
  const redis = new Redis(own.url, { maxRetriesPerRequest: null });
  const ids = Array.from({ length: users }, (_, i) => `u${i}`);
  const realtime = ids.filter((_, i) => i % 5 === 0);
  say(
    `bench:conciliation: ${fmt(users)} users (+${fmt(realtime.length)} real-time offers), jobs of ${batch}, own redis ${own.url}`,
  );
  const rows: Array<{ mode: string; us: number; cmds: number; cpuUs: number; booked: number }> = [];
  try {
    for (const mode of ['compare', 'value'] as const) {
      await resetRedis(redis);
      const state = createState(redis, 'bench', systemClock, {
        contactWindowMs: WINDOW_MS,
        pushRecordMs: 8 * 86_400_000,
      });
      // Profiles: conciliation reads each user's zone (value mode).
      for (let i = 0; i < ids.length; i += 1000) {
        const p = redis.pipeline();
        for (const u of ids.slice(i, i + 1000)) p.hset(`bench:user:${u}`, 'timeZone', 'Europe/Madrid');
        await p.exec();
      }
      const handler =
        mode === 'compare'
          ? createConciliateStage({ decisions: state.decisions })
          : createValueConciliateStage({
              state,
              now: () => Date.now(),
              policy: DEFAULT_POLICY,
              rules: { all: { day: 1, week: 5 }, strategy: {} },
              holdouts: { share: 0.05, strategyShare: 0.05, salt: 'bench' },
              strategies: ['daily-sale', 'market-basket'],
              schedules: [],
              contactWindowMs: WINDOW_MS,
              logRate: 1,
            });
      const before = await snapshot(redis);
      const t0 = process.hrtime.bigint();
      let booked = 0;
      const ctx: StageContext = { jobId: 'bench', attempt: 1, lane: 'bulk' };
      for (const [strategy, list, lane] of [
        ['daily-sale', ids, 'bulk'],
        ['market-basket', realtime, 'realtime'],
      ] as const) {
        for (let i = 0; i < list.length; i += batch) {
          const out = await handler(
            { picks: picks(list.slice(i, i + batch), strategy, Date.now()) },
            { ...ctx, lane },
          );
          for (const o of out) booked += (o.payload as { userIds: string[] }).userIds.length;
        }
      }
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const d = delta(before, await snapshot(redis));
      const n = ids.length + realtime.length;
      rows.push({
        mode,
        us: (seconds * 1e6) / n,
        cmds: d.commands / n,
        cpuUs: (d.cpu * 1e6) / n,
        booked,
      });
      say(
        `${mode}: ${fmt(n)} offers in ${seconds.toFixed(2)} s, ${fmt(booked)} bookings; redis ${fmt(d.commands)} commands (${d.topCalls
          .slice(0, 6)
          .map(([k, v]) => `${k} ${fmt(v)}`)
          .join(', ')})`,
      );
    }
  } finally {
    await redis.quit();
    await own.stop();
  }
  const [c, v] = rows as [(typeof rows)[number], (typeof rows)[number]];
  say('');
  say('| conciliation | µs per offer | Redis commands per offer | Redis CPU µs per offer | bookings |');
  say('| --- | --- | --- | --- | --- |');
  for (const r of rows)
    say(
      `| ${r.mode} | ${r.us.toFixed(1)} | ${r.cmds.toFixed(2)} | ${r.cpuUs.toFixed(1)} | ${fmt(r.booked)} |`,
    );
  say(
    `| value / compare | ${(v.us / c.us).toFixed(2)}x | ${(v.cmds / c.cmds).toFixed(2)}x | ${(v.cpuUs / c.cpuUs).toFixed(2)}x | |`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:conciliation failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
