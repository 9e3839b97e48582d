/**
 * Delivery through each provider path, against its local server (FCM v1 + OAuth, APNs over HTTP/2 + TLS,
 * Web Push with encryption, the signed webhook), beside the file sink in the same run: pushes per second
 * through the whole dispatcher (claim, plan, reserve the ledger, send, confirm into the outbox) on the
 * benchmark's own Redis, one device per user. The servers run in a process of their own. Then the rate
 * limiter's overhead: the FCM path again with a bucket that never runs dry, and the raw cost of a take.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { systemClock } from '../../shared/clock';
import { loadConfig } from '../../shared/config';
import { createLogger } from '../../shared/logger';
import type { Device } from '../../shared/schemas/common';
import { createDispatcher, type DispatcherDeps } from '../delivery/dispatcher';
import { createRateLimiter, limitsFrom } from '../delivery/limiter';
import { createRoutes } from '../delivery/providers';
import { createProviderSender, type SendLimiter } from '../delivery/router';
import { openFileSink } from '../delivery/sink';
import { createState } from '../state';
import { createStrategies } from '../strategies';
import { loadHeraldConfig } from '../config';
import { say } from './util';

export interface ProviderFigure {
  path: string;
  pushes: number;
  seconds: number;
  pushesPerS: number;
  /**
   * CPU of the delivering process per push (user + system), microseconds: steadier than wall time on a
   * shared machine. Excludes Redis' and the servers' CPU.
   */
  cpuUsPerPush: number;
}

export interface ProvidersResult {
  paths: ProviderFigure[];
  /** The FCM path with a rate limiter that never waits, vs without: extra wall microseconds per push. */
  limiterUsPerPush: number;
  /** The same in the delivering process' CPU per push. */
  limiterCpuUsPerPush: number;
  /** One take() round trip, sequential, microseconds. */
  takeUs: number;
  /** The delivering process' CPU per take with 64 in flight, microseconds: the limiter's own cost per push. */
  takeCpuUs: number;
  /** takes per second with 64 in flight. */
  takesPerS: number;
}

async function startServers(): Promise<{
  env: Record<string, string>;
  webToken: string;
  stop(): Promise<void>;
}> {
  const proc = spawn(process.execPath, [join(__dirname, 'provider-servers.js')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout });
    rl.once('line', resolve);
    proc.once('exit', (code) => reject(new Error(`provider servers exited ${code}`)));
  });
  const { env, webToken } = JSON.parse(line) as { env: Record<string, string>; webToken: string };
  return {
    env,
    webToken,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        const kill = setTimeout(() => proc.kill('SIGKILL'), 5000);
        proc.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        proc.kill('SIGTERM');
      }),
  };
}

export async function runProviders(
  redisUrl: string,
  runId: string,
  pushes: number,
): Promise<ProvidersResult> {
  const servers = await startServers();
  const dir = mkdtempSync(join(tmpdir(), 'herald-bench-providers-'));
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const logger = createLogger('bench', 'silent');
  const strategies = createStrategies(loadHeraldConfig({}));
  const [strategy] = [...strategies.keys()];
  try {
    const run = async (
      path: string,
      device: (i: number) => Device,
      delivery: Pick<DispatcherDeps, 'sink' | 'sender'>,
      close: () => Promise<void> = () => Promise.resolve(),
      round = 0,
      n = pushes,
    ): Promise<ProviderFigure> => {
      const state = createState(redis, `${runId}-pv-${path.replace(/\W/g, '')}-${round}`, systemClock);
      const now = Date.now();
      const users = Array.from({ length: n }, (_, i) => `u${i}`);
      for (let i = 0; i < users.length; i += 1000) {
        const page = users.slice(i, i + 1000);
        await state.users.fold({
          profiles: page.map((userId, k) => ({
            v: 1 as const,
            eventId: `p-${userId}`,
            userId,
            timeZone: 'Europe/Madrid',
            locale: 'en',
            pushOptIn: true,
            devices: [device(i + k)],
            at: new Date(now).toISOString(),
          })),
        });
        await state.decisions.offerWinners(
          page.map((userId) => ({
            userId,
            winner: {
              decisionId: `push-${userId}`,
              strategy: strategy!,
              targetId: 'bench',
              candidate: {
                id: 'sale-1',
                kind: 'sale',
                category: 'shoes',
                title: 'Shoes',
                discount: 20,
                affinity: 0,
              },
              score: 0.5,
              at: now,
            },
          })),
        );
        await state.delivery.book(page.map((userId) => ({ userId, due: now })));
      }
      const dispatcher = createDispatcher({
        state,
        strategies,
        ...delivery,
        clock: systemClock,
        batchSize: 500,
        logger,
      });
      const t0 = process.hrtime.bigint();
      const cpu0 = process.cpuUsage();
      let sent = 0;
      for (;;) {
        const r = await dispatcher.tick();
        sent += r.sent;
        if (r.claimed === 0) break;
      }
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const cpu = process.cpuUsage(cpu0);
      await close();
      if (sent !== n) throw new Error(`${path}: ${sent} of ${n} pushes delivered`);
      const cpuUsPerPush = (cpu.user + cpu.system) / n;
      const f = { path, pushes: n, seconds, pushesPerS: n / seconds, cpuUsPerPush };
      if (round < 0) return f;
      say(
        `providers: ${path}: ${n} pushes in ${seconds.toFixed(2)} s, ${Math.round(f.pushesPerS)} pushes/s, ` +
          `${Math.round(cpuUsPerPush)} us CPU per push`,
      );
      return f;
    };
    const viaProviders = (env: Record<string, string>, limiter?: SendLimiter) => {
      const routes = createRoutes(
        loadConfig({ ...servers.env, ...env, SINK_FILE: join(dir, 'mixed.jsonl') }),
      )!;
      const sender = createProviderSender({ routes, concurrency: 64, ...(limiter ? { limiter } : {}) });
      return { sender, close: () => sender.close() };
    };
    const paths: ProviderFigure[] = [];
    const android = (i: number): Device => ({ platform: 'android', token: `bench-android-token-${i}` });
    const fileSink = openFileSink(join(dir, 'pushes.jsonl'));
    await run('file sink', android, { sink: fileSink }, undefined, -1, Math.ceil(pushes / 5));
    paths.push(await run('file sink', android, { sink: fileSink }));
    for (const [path, env, device] of [
      ['fcm', { PUSH_ANDROID: 'fcm' }, android],
      [
        'apns',
        { PUSH_IOS: 'apns' },
        (i: number): Device => ({ platform: 'ios', token: `bench-ios-token-${i}` }),
      ],
      ['webpush', { PUSH_WEB: 'webpush' }, (): Device => ({ platform: 'web', token: servers.webToken })],
      ['webhook', { PUSH_ANDROID: 'webhook' }, android],
    ] as const) {
      // A warm-up run first (the JIT, connections, the OAuth token), not reported.
      const w = viaProviders(env);
      await run(path, device, { sender: w.sender }, w.close, -1, Math.ceil(pushes / 5));
      const v = viaProviders(env);
      paths.push(await run(path, device, { sender: v.sender }, v.close));
    }
    const limitState = createState(redis, `${runId}-pv-limits`, systemClock);
    const limiter = createRateLimiter({
      store: limitState.rateLimits,
      limits: limitsFrom({ fcm: 1e9 }, 1),
      logger,
    });
    // The difference is small beside the noise of a shared machine: each side runs twice, alternating,
    // and the faster run of each counts.
    const fcmRuns = [paths.find((p) => p.path === 'fcm')!];
    const limitedRuns: ProviderFigure[] = [];
    for (let round = 0; round < 2; round++) {
      const limited = viaProviders({ PUSH_ANDROID: 'fcm' }, limiter);
      limitedRuns.push(
        await run(`fcm + rate limiter`, android, { sender: limited.sender }, limited.close, round),
      );
      if (round === 0) {
        const again = viaProviders({ PUSH_ANDROID: 'fcm' });
        fcmRuns.push(await run('fcm', android, { sender: again.sender }, again.close, 1));
      }
    }
    const best = (runs: ProviderFigure[]) => runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    const fcm = best(fcmRuns);
    const withLimiter = best(limitedRuns);
    paths.splice(paths.indexOf(fcmRuns[0]!), 1, fcm);
    paths.push(withLimiter);
    const limiterUsPerPush = ((withLimiter.seconds - fcm.seconds) / pushes) * 1e6;
    const cpuOf = (runs: ProviderFigure[]) => Math.min(...runs.map((r) => r.cpuUsPerPush));
    const limiterCpuUsPerPush = cpuOf(limitedRuns) - cpuOf(fcmRuns);

    const takes = 5000;
    let t0 = process.hrtime.bigint();
    for (let i = 0; i < takes; i++) await limitState.rateLimits.take('fcm', 'bench', 1e9, 1e9);
    const takeUs = Number(process.hrtime.bigint() - t0) / 1000 / takes;
    t0 = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    let next = 0;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next++ < takes) await limitState.rateLimits.take('fcm', 'bench', 1e9, 1e9);
      }),
    );
    const takesPerS = takes / (Number(process.hrtime.bigint() - t0) / 1e9);
    const cpu = process.cpuUsage(cpu0);
    const takeCpuUs = (cpu.user + cpu.system) / takes;
    say(
      `providers: rate limiter ${limiterUsPerPush.toFixed(1)} us wall and ${limiterCpuUsPerPush.toFixed(1)} us CPU ` +
        `per push through FCM; a take ${takeUs.toFixed(1)} us ` +
        `sequential, ${Math.round(takesPerS)} takes/s and ${takeCpuUs.toFixed(1)} us CPU each with 64 in flight`,
    );
    return { paths, limiterUsPerPush, limiterCpuUsPerPush, takeUs, takeCpuUs, takesPerS };
  } finally {
    await redis.quit().catch(() => undefined);
    await servers.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
