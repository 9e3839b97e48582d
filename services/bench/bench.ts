/**
 * `npm run bench`: Herald's speed and memory figures, each beside a reference measured in the same run.
 *
 *   1. fan-out: a daily campaign to 100k and 1M users through every stage until every push is booked,
 *      against BullMQ addBulk's raw rate and a naive one-job-per-user design;
 *   2. trigger latency: purchase -> push while a campaign fans out, against kafkajs and BullMQ floors;
 *   3. ingest: events/s through the ingest worker, against a no-op kafkajs consumer;
 *   4. memory: peak RSS of every worker process (VmHWM);
 *   5. providers: pushes/s through each provider path against its local server, beside the file sink, and
 *      the rate limiter's cost per push.
 *
 * It runs its own redis-server on a free port (so INFO is its alone), its own topics on the local Kafka,
 * and Herald's real worker processes with their own prefixes. It prints progress, a table of every figure
 * with its reference and ratio, and writes everything to out/bench/bench.json. Flags: see args.ts.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { Redis } from 'ioredis';
import { loadConfig } from '../../shared/config';
import { parseArgs, type BenchArgs } from './args';
import { runFanout, type BenchContext, type FanoutResult } from './fanout';
import { runIngest, type IngestResult } from './ingest';
import { runProviders, type ProvidersResult } from './providers';
import { BenchKafka } from './kafka';
import { runLatency, type LatencyResult } from './latency';
import { runNaive, type NaiveResult } from './naive';
import { killLiveSync, liveProcs, stopProc } from './procs';
import { resetRedis, startOwnRedis, type OwnRedis } from './redis';
import { runAddBulkRef, runDelayedRef, type AddBulkResult, type DelayedResult } from './refs';
import { Table, renderStageTable, renderTimings } from './report';
import { runMicro, runRedisMicro, type MicroFigure } from './micro';
import { loadAffinity } from '../affinity/affinity-table';
import { benchElapsedS, errorText, fmt, fmtBytes, label, say } from './util';

interface Results {
  micro?: MicroFigure[];
  addBulk: Record<string, AddBulkResult>;
  delayed?: DelayedResult;
  fanout: Record<string, FanoutResult>;
  /** The same fan-outs with SEND_MODE=predicted (the engagement model plans each user's hour). */
  fanoutPredicted?: Record<string, FanoutResult>;
  /** The same fan-outs with CONCILIATION=compare (the compare-and-set value conciliation replaced). */
  fanoutCompare?: Record<string, FanoutResult>;
  naive?: NaiveResult;
  latency?: LatencyResult;
  ingest?: IngestResult;
  providers?: ProvidersResult;
  errors: Array<{ part: string; error: string }>;
}

const BUDGET_1M_S = 600;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const runId = `b${Date.now().toString(36)}`;
  const logDir = join('out', 'bench', 'logs', runId);
  mkdirSync(logDir, { recursive: true });
  const brokers = loadConfig(process.env).KAFKA_BROKERS;
  say(
    `herald bench ${runId}: parts ${[...args.parts].join(', ')}; fan-out ${args.users.map(label).join(', ')}; ` +
      `naive ${label(args.naiveUsers)}; ${cpus().length} cores, ${fmtBytes(totalmem())}; node ${process.version}${args.quick ? '; QUICK' : ''}`,
  );
  const results: Results = { addBulk: {}, fanout: {}, errors: [] };
  const table = new Table();
  const write = () => writeJson(args, runId, results, table);

  const kafka = new BenchKafka(brokers);
  await kafka.connect();
  let own: OwnRedis | undefined;
  let redis: Redis | undefined;
  try {
    own = await startOwnRedis(logDir);
    redis = new Redis(own.url, { maxRetriesPerRequest: null, connectionName: 'herald-bench-control' });
    say(
      `own redis-server ${own.version} at ${own.url} (pid ${own.proc.pid}); kafka ${brokers.join(',')}; logs in ${logDir}`,
    );
    const ctx: BenchContext = {
      redis,
      redisUrl: own.url,
      redisProc: own.proc,
      kafka,
      runId,
      logDir,
      concurrency: args.concurrency,
      progressS: args.progressS,
      ...(args.profile ? { profileDir: join(logDir, 'profiles') } : {}),
    };
    const part = async (name: string, run: () => Promise<void>) => {
      const t = Date.now();
      try {
        await run();
        say(`${name}: done in ${((Date.now() - t) / 1000).toFixed(1)} s`);
      } catch (err) {
        say(`${name}: FAILED: ${errorText(err)}`);
        results.errors.push({ part: name, error: errorText(err) });
      }
      write();
    };

    if (args.parts.has('micro')) {
      await part('micro', async () => {
        await resetRedis(redis!);
        const categories = loadAffinity(
          join(__dirname, '..', '..', '..', 'infra', 'data', 'affinity.json'),
        ).categories;
        const scale = args.quick ? 0.25 : 1;
        results.micro = [
          ...runMicro(scale),
          ...(await runRedisMicro(own!.url, `${runId}-micro`, categories, scale)),
        ];
        for (const m of results.micro) {
          const unit = m.name.startsWith('state:') ? 'B' : 'us';
          say(
            `micro: ${m.name} ${m.us.toFixed(2)} ${unit} vs ${m.reference} ${m.refUs.toFixed(3)} ${unit} (${(m.us / m.refUs).toFixed(1)}x)`,
          );
        }
      });
    }
    if (args.parts.has('addbulk')) {
      for (const n of args.users) {
        const jobs = Math.ceil(n / 500);
        await part(`addBulk reference (${fmt(jobs)} jobs)`, async () => {
          const r = await runAddBulkRef(redis!, own!.url, `${runId}-ab`, jobs);
          results.addBulk[label(n)] = r;
          say(
            `addBulk: ${fmt(r.jobsPerS)} jobs/s of ${fmtBytes(r.payloadBytes)} (${fmt(r.usersPerS)} users/s at 500 per job), ` +
              `${fmtBytes(r.bytesPerJob)} and ${r.commandsPerJob.toFixed(2)} commands per job`,
          );
        });
      }
      await part('delayed-job reference', async () => {
        results.delayed = await runDelayedRef(redis!, own!.url, `${runId}-dl`, args.quick ? 5000 : 20_000);
        say(
          `delayed jobs: ${fmtBytes(results.delayed.bytesPerJob)} each, ${fmt(results.delayed.jobsPerS)} added/s`,
        );
      });
    }
    if (args.parts.has('fanout')) {
      const where = (what: string, r: FanoutResult) =>
        process.stdout.write(`\nwhere the time went (${what}):\n${renderTimings(r)}\n\n`);
      for (const n of args.users) {
        if (args.fanoutModes.has('fixed'))
          await part(`fan-out ${label(n)}`, async () => {
            const r = await runFanout(ctx, n, args.fanoutTimeoutS);
            results.fanout[label(n)] = r;
            where(`fan-out ${label(n)}`, r);
          });
        if (args.fanoutModes.has('predicted'))
          await part(`fan-out ${label(n)}, predicted send times`, async () => {
            const r = await runFanout(ctx, n, args.fanoutTimeoutS, 'predicted');
            (results.fanoutPredicted ??= {})[label(n)] = r;
            where(`fan-out ${label(n)}, predicted send times`, r);
          });
        if (args.fanoutModes.has('compare'))
          await part(`fan-out ${label(n)}, compare-and-set conciliation`, async () => {
            const r = await runFanout(ctx, n, args.fanoutTimeoutS, 'local-hour', 'compare');
            (results.fanoutCompare ??= {})[label(n)] = r;
            where(`fan-out ${label(n)}, compare-and-set conciliation`, r);
          });
      }
    }
    if (args.parts.has('naive')) {
      await part(`naive ${label(args.naiveUsers)}`, async () => {
        results.naive = await runNaive(ctx, args.naiveUsers, args.naiveConcurrency, args.fanoutTimeoutS);
      });
    }
    if (args.parts.has('latency')) {
      await part('latency', async () => {
        results.latency = await runLatency(ctx, {
          rate: args.latencyRate,
          seconds: args.latencySeconds,
          fanoutUsers: args.latencyFanoutUsers,
          fanoutAtS: args.latencyFanoutAtS,
          lowRate: args.latencyLowRate,
          lowSeconds: args.latencyLowSeconds,
          floorSeconds: args.floorSeconds,
        });
        const l = results.latency;
        process.stdout.write(
          `\nwhere the time went in the quiet phase (${fmt(l.lowRate)}/s, no campaign; jobs added then):\n${renderStageTable(l.lowTimings, {})}\n`,
        );
        process.stdout.write(
          `\nwhere the time went in the main phase (jobs added from its start, campaign's included):\n${renderStageTable(l.timings, l.procs)}\n` +
            `CPU over the ${l.wallS.toFixed(1)} s run: the machine was busy ${l.machineBusyS.toFixed(1)} s, ${l.otherCpuS.toFixed(1)} s of it in processes not ours\n\n`,
        );
        say(
          `latency: ${fmt(l.delivered)}/${fmt(l.produced)} pushes; p50 ${fmt(l.all.p50)} ms p99 ${fmt(l.all.p99)} ms max ${fmt(l.all.max)} ms ` +
            `(floor p50 ${fmt(l.floors.p50)} ms); campaign ${fmt(l.fanoutDelivered)} pushes done at ${l.fanoutDoneS.toFixed(1)} s`,
        );
      });
    }
    if (args.parts.has('ingest')) {
      await part('ingest', async () => {
        results.ingest = await runIngest(ctx, args.ingestEvents);
      });
    }
    if (args.parts.has('providers')) {
      await part('providers', async () => {
        await resetRedis(redis!);
        results.providers = await runProviders(own!.url, runId, args.providerPushes);
      });
    }
  } finally {
    await redis?.quit().catch(() => undefined);
    for (const p of liveProcs()) if (p !== own?.proc) await stopProc(p);
    await own?.stop();
    await kafka.close().catch(() => undefined);
  }

  fillTable(table, args, results);
  process.stdout.write(
    `\nHerald bench ${runId}, ${benchElapsedS().toFixed(0)} s in all\n${table.render()}\n`,
  );
  if (results.errors.length)
    process.stdout.write(
      `\n${results.errors.length} part(s) failed: ${results.errors.map((e) => e.part).join(', ')}\n`,
    );
  const out = write();
  process.stdout.write(`\nwritten ${out}\n`);
  // Worker logs (and CPU profiles) are kept only when something failed or --profile asked for them.
  if (results.errors.length === 0 && !args.profile) rmSync(logDir, { recursive: true, force: true });
  else process.stdout.write(`worker logs kept in ${logDir}\n`);
  if (results.errors.length) process.exitCode = 1;
}

function fillTable(t: Table, args: BenchArgs, r: Results): void {
  if (r.providers) {
    const file = r.providers.paths.find((p) => p.path === 'file sink');
    for (const p of r.providers.paths) {
      if (p === file || !file) continue;
      t.add(
        'providers',
        `pushes/s via ${p.path}`,
        p.pushesPerS,
        '/s',
        'file sink, same dispatcher',
        file.pushesPerS,
      );
    }
    const fcm = r.providers.paths.find((p) => p.path === 'fcm');
    if (fcm)
      t.add(
        'providers',
        'rate limiter take: CPU per push',
        r.providers.takeCpuUs,
        'us',
        'an FCM push without it',
        fcm.cpuUsPerPush,
      );
    if (fcm)
      t.add(
        'providers',
        'rate limiter CPU per push, end to end',
        r.providers.limiterCpuUsPerPush,
        'us',
        'an FCM push without it',
        fcm.cpuUsPerPush,
      );
    if (fcm)
      t.add(
        'providers',
        'rate limiter wall time per push',
        r.providers.limiterUsPerPush,
        'us',
        'an FCM push without it',
        1e6 / fcm.pushesPerS,
      );
  }
  const naive = r.naive;
  const nl = naive ? `naive ${label(naive.users)}` : '';
  for (const [n, p] of Object.entries(r.fanoutPredicted ?? {})) {
    const f = r.fanout[n];
    if (!f) continue;
    const part = `fanout ${n} predicted`;
    t.add(
      part,
      'wall time trigger -> all booked',
      p.seconds,
      's',
      'fixed-hour booking, same users, same run',
      f.seconds,
    );
    t.add(part, 'Redis commands per user', p.commandsPerUser, '', 'fixed-hour booking', f.commandsPerUser);
    t.add(part, 'users booked', p.booked, '', 'fixed-hour booking', f.booked);
  }
  for (const [n, c] of Object.entries(r.fanoutCompare ?? {})) {
    const f = r.fanout[n];
    if (!f) continue;
    const part = `fanout ${n} value conciliation`;
    t.add(
      part,
      'wall time trigger -> all booked',
      f.seconds,
      's',
      'compare-and-set conciliation, same users, same run',
      c.seconds,
    );
    t.add(part, 'Redis commands per user', f.commandsPerUser, '', 'compare-and-set', c.commandsPerUser);
  }
  for (const [n, f] of Object.entries(r.fanout)) {
    const part = `fanout ${n}`;
    const ab = r.addBulk[n];
    if (ab)
      t.add(
        part,
        'users/s, trigger -> all booked',
        f.usersPerS,
        '/s',
        `addBulk ${fmt(ab.jobs)} jobs x 500 users`,
        ab.usersPerS,
      );
    if (naive) {
      t.add(
        part,
        'users/s, trigger -> all booked',
        f.usersPerS,
        '/s',
        `${nl}: one job per user per stage`,
        naive.usersPerS,
      );
      t.add(
        part,
        'Redis commands per user',
        f.commandsPerUser,
        '',
        `${nl} commands per user`,
        naive.commandsPerUser,
      );
      t.add(
        part,
        'Redis memory per user after booking',
        f.memoryPerUser,
        'B',
        `${nl} memory per user`,
        naive.memoryPerUser,
      );
      t.add(
        part,
        'Redis peak memory per user, campaign',
        f.peakMemoryPerUser,
        'B',
        `${nl} peak memory per user`,
        naive.peakMemoryPerUser,
      );
    }
    if (r.delayed)
      t.add(
        part,
        'Redis memory per user after booking',
        f.memoryPerUser,
        'B',
        'one delayed BullMQ job per user',
        r.delayed.bytesPerJob,
      );
    t.add(
      part,
      'state memory per user (before campaign)',
      f.state.bytesPerUser,
      'B',
      'raw bytes of its keys, fields, values',
      f.state.rawBytesPerUser,
    );
    for (const k of ['filter', 'score', 'conciliate', 'sendTime']) {
      t.add(
        part,
        `jobs completed: ${k}`,
        f.jobs[k]?.completed ?? NaN,
        '',
        'batches: ceil(users / 500)',
        f.expectedBatchJobs,
      );
    }
    t.add(
      part,
      'jobs completed: audience',
      f.jobs.audience?.completed ?? NaN,
      '',
      'ceil(batches / 10 pages per job)',
      Math.ceil(f.expectedBatchJobs / 10),
    );
    t.add(part, 'jobs completed: target', f.jobs.target?.completed ?? NaN, '', 'one trigger', 1);
    if (f.users >= 1_000_000 || f.users === Math.max(...args.users)) {
      t.add(part, 'wall time trigger -> all booked', f.seconds, 's', 'budget for 1M on 2 cores', BUDGET_1M_S);
    }
    for (const [name, p] of Object.entries(f.procs)) {
      t.add(part, `peak RSS ${name}`, p.peakRss, 'B', `idle RSS of ${name} at start`, p.idleRss);
    }
  }
  if (naive) {
    for (const [name, p] of Object.entries(naive.procs)) {
      t.add(nl, `peak RSS ${name}`, p.peakRss, 'B', `idle RSS of ${name} at start`, p.idleRss);
    }
  }
  const l = r.latency;
  if (l) {
    const part = `latency ${fmt(l.rate)}/s`;
    const floor = `floor: kafka + ${l.floors.hops} x BullMQ hop`;
    t.add(
      `latency ${fmt(l.lowRate)}/s`,
      'purchase -> push p50, no campaign',
      l.low.p50,
      'ms',
      `${floor} p50`,
      l.floors.p50,
    );
    t.add(
      `latency ${fmt(l.lowRate)}/s`,
      'purchase -> push p99, no campaign',
      l.low.p99,
      'ms',
      `${floor} p99`,
      l.floors.p99,
    );
    t.add(
      `latency ${fmt(l.lowRate)}/s`,
      'purchase -> push max, no campaign',
      l.low.max,
      'ms',
      `${floor} max`,
      l.floors.max,
    );
    t.add(part, 'purchase -> push p50 (all)', l.all.p50, 'ms', `${floor} p50`, l.floors.p50);
    t.add(part, 'purchase -> push p99 (all)', l.all.p99, 'ms', `${floor} p99`, l.floors.p99);
    t.add(part, 'purchase -> push max (all)', l.all.max, 'ms', `${floor} max`, l.floors.max);
    t.add(part, 'p50 before the campaign', l.quiet.p50, 'ms', `${floor} p50`, l.floors.p50);
    t.add(part, 'p99 before the campaign', l.quiet.p99, 'ms', `${floor} p99`, l.floors.p99);
    t.add(part, 'p50 during the campaign', l.duringFanout.p50, 'ms', `${floor} p50`, l.floors.p50);
    t.add(part, 'p99 during the campaign', l.duringFanout.p99, 'ms', `${floor} p99`, l.floors.p99);
    t.add(part, 'max during the campaign', l.duringFanout.max, 'ms', `${floor} max`, l.floors.max);
    t.add(part, 'pushes delivered', l.delivered, '', 'purchases produced', l.produced);
    t.add(part, 'pushes/s while producing', l.pushesPerSWhileProducing, '/s', 'purchases/s produced', l.rate);
    for (const [name, p] of Object.entries(l.procs))
      t.add(part, `peak RSS ${name}`, p.peakRss, 'B', `idle RSS of ${name}`, p.idleRss);
  }
  for (const m of r.micro ?? [])
    t.add('micro', m.name, m.us, m.name.startsWith('state:') ? 'B' : 'us', m.reference, m.refUs);
  const g = r.ingest;
  if (g) {
    t.add(
      'ingest',
      'events/s steady (first commit -> all)',
      g.ingest.steadyPerS,
      '/s',
      'no-op eachBatch consumer, steady',
      g.noop.steadyPerS,
    );
    t.add(
      'ingest',
      'events/s from process spawn',
      g.ingest.wallPerS,
      '/s',
      'no-op consumer from connect',
      g.noop.wallPerS,
    );
    if (g.ingest.proc)
      t.add(
        'ingest',
        'peak RSS ingest',
        g.ingest.proc.peakRss,
        'B',
        'RSS of an idle, joined ingest',
        g.idleRss,
      );
  }
}

function writeJson(args: BenchArgs, runId: string, results: Results, table: Table): string {
  const out = args.out;
  mkdirSync(dirname(out), { recursive: true });
  const body = {
    runId,
    at: new Date().toISOString(),
    totalS: benchElapsedS(),
    machine: { cores: cpus().length, cpu: cpus()[0]?.model, memBytes: totalmem(), node: process.version },
    args: { ...args, parts: [...args.parts] },
    table: table.rows,
    results,
  };
  writeFileSync(
    out,
    `${JSON.stringify(body, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`,
  );
  return out;
}

process.on('exit', killLiveSync);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    process.stderr.write(`\nbench: ${sig}: stopping its processes\n`);
    killLiveSync();
    process.exit(130);
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${errorText(err)}\n`);
  killLiveSync();
  process.exit(1);
});
