/**
 * `npm run eval`: runs the simulated world for N days through the real pipeline under each policy and
 * writes the report (out/eval/report.md, summary.json, report.html).
 *
 *   npm run eval -- --users 3000 --days 2 [--history-days 2] [--replay-days 14] [--seed 7] [--stores 300]
 *                   [--sales-per-day 20] [--day-seconds 30] [--policies baseline,segments,herald,herald-alt,herald-compare,herald-model,herald-timed,oracle]
 *                   [--model-users 10000] [--model-days 7]
 *                   [--herald-env KEY=VALUE,...] [--variant NAME:KEY=VALUE,...]... [--out out/eval]
 *
 * Replay days are the world's first days, published at once before each run (behaviour only: no pushes),
 * so state and the engagement model start from weeks of history; burn-in days then run through the pipeline
 * unmeasured, and the evaluated days are measured.
 *
 * The stack must be up (`npm run stack:up`). `--herald-env` backtests a configuration of Herald (every
 * herald policy gets it).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../shared/config';
import { policyResult, type PolicyResult } from './metrics';
import { runOracle } from './oracle-run';
import { summarize, writeReport } from './report';
import { runSimulation } from './sim-run';
import { DAY_MS, createWorld, userId } from './world';
import { stateKeys } from '../../shared/keys';
import { createRedis } from '../../shared/redis';
import { createModelsStore } from '../state/models.store';
import { trainEvalModel, type EvalModel } from './model-policy';
import { holdoutLifts, opeFromRun } from './conciliation-report';
import { conciliationSettings } from '../conciliation/settings';
import { loadHeraldConfig } from '../config';
import { createStrategies } from '../strategies';

const POLICIES: Record<string, { description: string; env: Record<string, string> }> = {
  baseline: {
    description: "v1.0: the day's most-clicked sale to everyone at the campaign hour",
    env: { STRATEGIES: 'daily-sale', DAILY_SALE_POLICY: 'baseline', CONCILIATION: 'compare' },
  },
  segments: {
    description: 'v1.1: dominant-category segments, the most-clicked sale of each segment',
    env: { STRATEGIES: 'daily-sale', DAILY_SALE_POLICY: 'segments', CONCILIATION: 'compare' },
  },
  herald: {
    description:
      'Herald as configured: market basket and online-to-offline in real time, the daily sale picked per user, conciliated on value (bandit, fatigue, caps, holdouts)',
    env: {},
  },
  'herald-alt': {
    description:
      'Herald as configured with a second conciliation configuration (a lower minimum value, the previous default): the offline estimate from herald’s log is checked against it',
    env: { CONCILIATE_MIN_VALUE: '0.01' },
  },
  'herald-compare': {
    description:
      'Herald as configured but conciliated by the compare-and-set it began with (the higher score takes the window)',
    env: { CONCILIATION: 'compare' },
  },
  'herald-model': {
    description:
      'Herald as configured, scored by the learned model (trained on another world’s push log) instead of the heuristic',
    env: { SCORE_MODEL: 'registry' },
  },
  'herald-timed': {
    description:
      'Herald as configured, each push at the user’s predicted engagement hour (SEND_MODE=predicted)',
    env: { SEND_MODE: 'predicted' },
  },
};

/** Registers and promotes the model in a run's namespace, before its workers start. */
function promoteIn(model: EvalModel) {
  return async (vars: { REDIS_URL: string; HERALD_PREFIX: string }) => {
    const redis = createRedis(vars.REDIS_URL, 'herald-eval');
    try {
      const models = createModelsStore(redis, stateKeys(vars.HERALD_PREFIX));
      await models.register('eval', model.bytes, JSON.stringify({ auc: model.aucOpen }), Date.now());
      await models.promote('eval');
    } finally {
      await redis.quit();
    }
  };
}

/**
 * KEY=VALUE pairs split on commas; a piece without '=' continues the previous value (a list such as
 * STRATEGIES=daily-sale,market-basket).
 */
function envPairs(text: string, flag: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const piece of text.split(',').filter(Boolean)) {
    const eq = piece.indexOf('=');
    if (eq > 0) pairs.push([piece.slice(0, eq), piece.slice(eq + 1)]);
    else if (pairs.length > 0) pairs[pairs.length - 1]![1] += `,${piece}`;
    else throw new Error(`${flag}: expected KEY=VALUE, got ${piece}`);
  }
  return pairs;
}

function int(v: string | undefined, name: string, def: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0)
    throw new Error(`--${name} must be a positive whole number, got ${JSON.stringify(v)}`);
  return n;
}

async function main() {
  const { values } = parseArgs({
    options: {
      users: { type: 'string' },
      days: { type: 'string' },
      'history-days': { type: 'string' },
      'replay-days': { type: 'string' },
      seed: { type: 'string' },
      stores: { type: 'string' },
      'sales-per-day': { type: 'string' },
      'day-seconds': { type: 'string' },
      policies: { type: 'string' },
      'herald-env': { type: 'string' },
      out: { type: 'string' },
      start: { type: 'string' },
      /** The world's ground-truth follow-up table (JSON). Default infra/data/affinity.json. */
      truth: { type: 'string' },
      /** `NAME:KEY=VALUE,...`, repeatable: one more Herald policy, `herald-NAME`, with those settings. */
      variant: { type: 'string', multiple: true },
      'model-users': { type: 'string' },
      'model-days': { type: 'string' },
    },
  });
  const users = int(values.users, 'users', 3000);
  const days = int(values.days, 'days', 2);
  const historyDays = values['history-days'] === '0' ? 0 : int(values['history-days'], 'history-days', 2);
  const replayDays = values['replay-days'] === '0' ? 0 : int(values['replay-days'], 'replay-days', 14);
  const seed = int(values.seed, 'seed', 7);
  const stores = int(values.stores, 'stores', Math.max(60, Math.round(users / 10)));
  const salesPerDay = int(values['sales-per-day'], 'sales-per-day', 20);
  const daySeconds = int(values['day-seconds'], 'day-seconds', 30);
  const outDir = values.out ?? join('out', 'eval');
  // The evaluated days end a little before today, so every event is in the past of the real clock too.
  const start =
    values.start ??
    new Date(Date.now() - (replayDays + historyDays + days + 1) * 86_400_000).toISOString().slice(0, 10);
  const policies = (
    values.policies ?? 'baseline,segments,herald,herald-compare,herald-model,herald-timed,oracle'
  )
    .split(',')
    .map((p) => p.trim());
  // Every Herald policy gets them, so herald and its variants stay comparable.
  for (const [k, v] of envPairs(values['herald-env'] ?? '', '--herald-env'))
    for (const [name, policy] of Object.entries(POLICIES)) if (name.startsWith('herald')) policy.env[k] = v;
  for (const v of values.variant ?? []) {
    const colon = v.indexOf(':');
    const name = colon > 0 ? v.slice(0, colon).trim() : '';
    if (!/^[a-z0-9][a-z0-9-]*$/.test(name))
      throw new Error(
        `--variant: expected NAME:KEY=VALUE,... with a lower-case NAME, got ${JSON.stringify(v)}`,
      );
    const env = envPairs(v.slice(colon + 1), '--variant');
    if (env.length === 0) throw new Error(`--variant ${name}: no KEY=VALUE given`);
    const policy = `herald-${name}`;
    if (POLICIES[policy]) throw new Error(`--variant: ${policy} is a built-in policy; pick another name`);
    POLICIES[policy] = {
      description: `Herald as configured with ${env.map(([k, x]) => `${k}=${x}`).join(', ')}`,
      env: { ...POLICIES.herald!.env, ...Object.fromEntries(env) },
    };
    if (!policies.includes(policy)) policies.push(policy);
  }
  for (const p of policies)
    if (p !== 'oracle' && !POLICIES[p])
      throw new Error(`--policies: unknown policy ${p} (known: ${Object.keys(POLICIES).join(', ')}, oracle)`);
  const config = loadConfig();
  const say = (s: string) => process.stdout.write(`${s}\n`);
  // The world's ground truth of what follows what. Herald reads its own seed table (AFFINITY_PATH); that
  // both default to one file is the world's choice, not a dependency.
  const affinity: unknown = JSON.parse(readFileSync(values.truth ?? 'infra/data/affinity.json', 'utf8'));
  const world = createWorld({
    seed,
    users,
    stores,
    salesPerDay,
    days: replayDays + historyDays + days,
    start,
    affinity,
  });
  const timeZone = 'Europe/Madrid';
  // Sales available on a day: every sale valid at some moment of it, whichever day published it.
  const allSales = world.sales.flat();
  const salesAvailable = Array.from({ length: days }, (_, d) => {
    const from = world.startMs + (replayDays + historyDays + d) * DAY_MS;
    return allSales.filter((s) => s.validFrom < from + DAY_MS && s.validTo > from).length;
  });
  say(
    `eval: ${users} users, ${stores} stores, ${salesPerDay} sales a day, ${replayDays} days replayed, ${historyDays} burn-in days, then ${days} evaluated days from ${start} (a day = ${daySeconds} s); policies ${policies.join(', ')}`,
  );

  const results: PolicyResult[] = [];
  const runs = new Map<string, Awaited<ReturnType<typeof runSimulation>>>();
  let model: EvalModel | undefined;
  // Policies scored by a model (herald-model, and any variant with SCORE_MODEL=registry) share one.
  const usesModel = (p: string) => POLICIES[p]?.env.SCORE_MODEL === 'registry';
  if (policies.some(usesModel)) {
    model = trainEvalModel({
      users: int(values['model-users'], 'model-users', 10_000),
      days: int(values['model-days'], 'model-days', 7),
      seed: seed + 1,
      say,
    });
  }
  for (const p of policies) {
    if (p === 'oracle') {
      const t = Date.now();
      const pushes = runOracle(world, days, replayDays + historyDays);
      results.push(
        policyResult(
          'oracle',
          'the best push per user under the ground truth, at their best hour',
          pushes,
          users,
          salesAvailable,
          { realSeconds: (Date.now() - t) / 1000, eventsPublished: 0 },
        ),
      );
      say(`oracle: ${pushes.length} pushes`);
      continue;
    }
    const policy = POLICIES[p]!;
    const run = await runSimulation({
      world,
      replayDays,
      historyDays,
      days,
      daySeconds,
      timeZone,
      campaignHour: 9,
      env: policy.env,
      brokers: config.KAFKA_BROKERS.join(','),
      redisUrl: config.REDIS_URL,
      outDir,
      label: p,
      progress: say,
      ...(usesModel(p) && model ? { prepare: promoteIn(model) } : {}),
    });
    runs.set(p, run);
    results.push(policyResult(p, policy.description, run.pushes, users, salesAvailable, run));
    say(
      `${p}: ${run.pushes.length} pushes measured, ${run.campaigns} campaigns, ${run.eventsPublished} events, ${run.realSeconds.toFixed(0)} s`,
    );
    say(`${p}: pipeline ${JSON.stringify(run.pipeline)}`);
  }
  const summary = summarize(
    { seed, users, stores, salesPerDay, days, historyDays, replayDays, start },
    results,
  );
  if (model) summary.learningCurve = model.curve;
  // Value conciliation: its holdouts' lift, and the offline estimate of herald-alt from herald's log.
  const userIds = Array.from({ length: users }, (_, i) => userId(world, i));
  summary.holdouts = [...runs]
    .filter(([p]) => POLICIES[p]!.env.CONCILIATION !== 'compare')
    .map(([policy, run]) => {
      const config = loadHeraldConfig(POLICIES[policy]!.env);
      const settings = conciliationSettings(config, createStrategies(config));
      return { policy, lifts: holdoutLifts(userIds, run.pushes, settings.holdouts, settings.strategies) };
    });
  const logged = runs.get('herald');
  const alt = runs.get('herald-alt');
  if (logged && alt) {
    const evalEnd = logged.evalStart + days * DAY_MS;
    const minValue = Number(POLICIES['herald-alt']!.env.CONCILIATE_MIN_VALUE);
    const check = opeFromRun(logged.logs, logged.pushes, logged.evalStart, evalEnd, { minValue });
    const m = (label: string) => results.find((r) => r.policy === label)!.overall;
    summary.ope = {
      from: new Date(logged.evalStart).toISOString(),
      to: new Date(evalEnd).toISOString(),
      check,
      measured: {
        expectedOpenRate: m('herald-alt').expectedOpenRate,
        pushesPerUser: m('herald-alt').pushesPerUser,
      },
      logged: { expectedOpenRate: m('herald').expectedOpenRate, pushesPerUser: m('herald').pushesPerUser },
    };
  }
  const paths = writeReport(outDir, summary);
  const md = readFileSync(paths.md, 'utf8');
  say('');
  say(md.split('\n## Per strategy')[0]!.trim());
  say('');
  say(`wrote ${paths.md}, ${paths.json}, ${paths.html}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`eval failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
