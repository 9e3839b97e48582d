/**
 * `npm run offline -- ope --config KEY=VALUE,...`: offline policy evaluation of a conciliation configuration
 * on the decision log (services/conciliation/ope.ts), read from a namespace's Kafka topics or from JSONL
 * files (decision-log.ts). Prints progress and skipped records on stderr, the table (or with --json one JSON
 * object) on stdout.
 */
import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { loadConfig } from '../../shared/config';
import { ConfigError } from '../../shared/errors';
import { createKafka } from '../../shared/kafka/client';
import {
  REWARDS,
  conciliationUnits,
  evaluate,
  evaluateRatio,
  type ColumnEstimates,
  type Estimate,
  type OpeResult,
} from '../conciliation/ope';
import { DEFAULT_POLICY, type PolicyConfig } from '../conciliation/policy';
import { UsageError, flags, type CommandIo, type Subcommand } from './command';
import {
  DecisionLogBuilder,
  MissingTopicError,
  readJsonl,
  readNamespace,
  type DecisionLog,
  type LogSource,
} from './decision-log';

const USAGE = `npm run offline -- ope --config KEY=VALUE,... (--namespace NS | --decisions F --pushes F --feedback F) [--json]
  --config K=V,...         the target: each decision's logging policy with these keys changed
                           (${Object.keys(DEFAULT_POLICY).join(', ')});
                           --config "": the logging policy itself
  --namespace NS           read the topics NS.push.decisions, NS.push.sent, NS.feedback (KAFKA_BROKERS)
  --decisions FILE.jsonl   or read files: decisions that sent nothing (DecisionV1 a line)
  --pushes FILE.jsonl      pushes sent (PushSentV1 a line, with its decision)
  --feedback FILE.jsonl    feedback on them (FeedbackV1 a line)
  --json                   one JSON object on stdout instead of the table`;

/** What each PolicyConfig key may be set to. */
const KEY_RULES: Record<keyof PolicyConfig, { ok: (n: number) => boolean; what: string }> = {
  minValue: { ok: (n) => n >= 0, what: '>= 0' },
  explore: { ok: (n) => n >= 0 && n <= 1, what: 'in [0, 1]' },
  clickWeight: { ok: (n) => n >= 0, what: '>= 0' },
  fatigue: { ok: (n) => n >= 0, what: '>= 0' },
  recoverPenalty: { ok: (n) => n >= 0 && n <= 1, what: 'in [0, 1]' },
  recoverHours: { ok: (n) => n > 0, what: 'positive' },
  userPrior: { ok: (n) => n >= 0, what: '>= 0' },
  draws: { ok: (n) => Number.isInteger(n) && n > 0, what: 'a positive whole number' },
};

/** `KEY=VALUE,...` as PolicyConfig overrides; an unknown key, a repeated one or a bad value is a UsageError. */
export function parseOverrides(text: string): Partial<PolicyConfig> {
  const out: Partial<PolicyConfig> = {};
  const known = Object.keys(KEY_RULES);
  for (const part of text.split(',')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    const key = (eq < 0 ? part : part.slice(0, eq)).trim();
    const value = eq < 0 ? '' : part.slice(eq + 1).trim();
    if (!Object.hasOwn(KEY_RULES, key))
      throw new UsageError(`--config: unknown key ${JSON.stringify(key)} (known: ${known.join(', ')})`);
    const k = key as keyof PolicyConfig;
    if (k in out) throw new UsageError(`--config: ${k} is given twice`);
    const n = Number(value);
    if (value === '' || !Number.isFinite(n))
      throw new UsageError(`--config: ${k} must be a number, got ${JSON.stringify(value)}`);
    if (!KEY_RULES[k].ok(n)) throw new UsageError(`--config: ${k} must be ${KEY_RULES[k].what}, got ${n}`);
    out[k] = n;
  }
  return out;
}

const NAMESPACE = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;
const count = (n: number) => n.toLocaleString('en-US');

async function readLog(
  v: { namespace?: string; decisions?: string; pushes?: string; feedback?: string },
  io: CommandIo,
): Promise<DecisionLog> {
  const log = new DecisionLogBuilder();
  const files = { decisions: v.decisions, pushes: v.pushes, feedback: v.feedback };
  const given = Object.values(files).filter((f) => f !== undefined).length;
  if (v.namespace !== undefined) {
    if (given > 0) throw new UsageError('give --namespace or the files, not both');
    if (!NAMESPACE.test(v.namespace))
      throw new UsageError(
        `--namespace: letters, digits, '.', '_' and '-' only, got ${JSON.stringify(v.namespace)}`,
      );
    let brokers: string[];
    try {
      brokers = loadConfig(process.env).KAFKA_BROKERS;
    } catch (err) {
      if (err instanceof ConfigError) throw new UsageError(err.message);
      throw err;
    }
    const kafka = createKafka(brokers, 'herald-offline-ope');
    // `herald` and `herald.` name the same namespace.
    const prefix = v.namespace.endsWith('.') ? v.namespace : `${v.namespace}.`;
    try {
      await readNamespace(kafka, prefix, log, (topic, read, total) =>
        io.err(`ope: ${topic}: ${count(read)} of ${count(total)} messages read\n`),
      );
    } catch (err) {
      if (err instanceof MissingTopicError)
        throw new UsageError(`--namespace ${v.namespace}: ${err.message}`);
      throw err;
    }
    return log.build();
  }
  if (given === 0) throw new UsageError('give --namespace NS, or --decisions, --pushes and --feedback files');
  if (given < 3) throw new UsageError('--decisions, --pushes and --feedback go together: give all three');
  const sources = Object.entries(files) as Array<[LogSource, string]>;
  for (const [source, file] of sources) {
    try {
      await access(file);
    } catch {
      throw new UsageError(`--${source}: cannot read ${file}`);
    }
  }
  for (const [source, file] of sources) {
    await readJsonl(createReadStream(file, { highWaterMark: 1 << 20 }), file, source, log, (lines) =>
      io.err(`ope: ${file}: ${count(lines)} lines read\n`),
    );
  }
  return log.build();
}

async function run(argv: string[], io: CommandIo): Promise<number> {
  const v = flags(argv, {
    config: { type: 'string' },
    namespace: { type: 'string' },
    decisions: { type: 'string' },
    pushes: { type: 'string' },
    feedback: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (v.config === undefined)
    throw new UsageError('--config KEY=VALUE,... is required (--config "" for none)');
  const overrides = parseOverrides(v.config);
  const started = performance.now();
  const log = await readLog(v, io);
  const readS = (performance.now() - started) / 1000;
  const skipped = [...log.skipped.values()].reduce((s, n) => s + n, 0);
  if (skipped > 0) {
    const reasons = [...log.skipped].map(([r, n]) => `${r} (${n})`).join('; ');
    const first = log.examples.map((e) => `${e.where}: ${e.reason}`).join('; ');
    io.err(`ope: ${skipped} records skipped: ${reasons}; first: ${first}\n`);
  }
  if (log.outcomes.length === 0) {
    throw new UsageError(
      `no decisions to evaluate: read ${count(log.read.decisions)} decisions and ${count(log.read.pushes)} ` +
        `pushes (${log.pushesWithoutDecision} without a decision), ${log.holdout.records} holdout, ` +
        `${skipped} skipped`,
    );
  }
  const evalStarted = performance.now();
  const units = conciliationUnits(log.outcomes, overrides, (done) =>
    io.err(`ope: ${count(done)} of ${count(log.outcomes.length)} decisions replayed\n`),
  );
  if (units.mismatched > 0) {
    io.err(
      `ope: warning: ${units.mismatched} decisions' logged probabilities differ from a recomputation under ` +
        `their policy by more than 1e-6 (largest ${units.maxMismatch.toPrecision(3)}); the logged ones are used\n`,
    );
  }
  const result = evaluate(units.units);
  const report: OpeReport = {
    log,
    overrides,
    mismatched: units.mismatched,
    maxMismatch: units.maxMismatch,
    policies: units.policies,
    result,
    openRate: evaluateRatio(units.units, REWARDS.indexOf('opens'), REWARDS.indexOf('pushes')),
  };
  io.err(
    `ope: ${count(log.outcomes.length)} decisions; read in ${readS.toFixed(2)} s, ` +
      `evaluated in ${((performance.now() - evalStarted) / 1000).toFixed(2)} s\n`,
  );
  io.out(v.json ? `${JSON.stringify(toJson(report))}\n` : renderTable(report));
  return 0;
}

export interface OpeReport {
  log: DecisionLog;
  overrides: Partial<PolicyConfig>;
  mismatched: number;
  maxMismatch: number;
  policies: Map<string, number>;
  result: OpeResult;
  openRate: ColumnEstimates;
}

/** The figures reported, with their labels in the table. */
const LABELS = {
  pushesPerDecision: 'pushes/decision',
  opensPerDecision: 'opens/decision',
  clicksPerDecision: 'clicks/decision',
  openRate: 'open rate',
} as const;

function metrics(r: OpeReport): Record<keyof typeof LABELS, ColumnEstimates> {
  const col = (k: (typeof REWARDS)[number]) => r.result.columns[REWARDS.indexOf(k)]!;
  return {
    pushesPerDecision: col('pushes'),
    opensPerDecision: col('opens'),
    clicksPerDecision: col('clicks'),
    openRate: r.openRate,
  };
}

export function toJson(r: OpeReport) {
  return {
    decisions: r.result.units,
    weighted: r.result.weighted,
    holdout: r.log.holdout,
    read: r.log.read,
    duplicates: r.log.duplicates,
    pushesWithoutDecision: r.log.pushesWithoutDecision,
    skipped: Object.fromEntries(r.log.skipped),
    logging: {
      policies: Object.fromEntries(r.policies),
      mismatched: r.mismatched,
      maxMismatch: r.maxMismatch,
    },
    target: r.overrides,
    metrics: metrics(r),
    ess: r.result.ess,
    maxWeight: r.result.maxWeight,
    unsupported: r.result.unsupported,
  };
}

function cell(e: Estimate | null): string {
  if (!e) return '-';
  const f = (x: number) => x.toFixed(4);
  return e.lo === null || e.hi === null ? f(e.value) : `${f(e.value)} [${f(e.lo)}, ${f(e.hi)}]`;
}

export function renderTable(r: OpeReport): string {
  const rows = [
    ['', 'logging (on-policy)', 'target IPS', 'target SNIPS', 'target DR', 'DR - logging'],
    ...Object.entries(metrics(r)).map(([key, e]) => [
      LABELS[key as keyof typeof LABELS],
      cell(e.onPolicy),
      cell(e.ips),
      cell(e.snips),
      cell(e.dr),
      cell(e.drGain),
    ]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  const line = (row: string[]) =>
    row.map((x, c) => (c === 0 ? x.padEnd(widths[c]!) : x.padStart(widths[c]!))).join('  ');
  const skipped = [...r.log.skipped.values()].reduce((s, n) => s + n, 0);
  const duplicates = Object.values(r.log.duplicates).reduce((s, n) => s + n, 0);
  const target = Object.entries(r.overrides).map(([k, v]) => `${k}=${v}`);
  const policies = [...r.policies].sort((a, b) => b[1] - a[1]);
  return [
    `ope: ${count(r.result.units)} decisions (${count(r.result.weighted)} weighted); ` +
      `${count(r.log.holdout.records)} holdout left out; ${count(skipped)} records skipped; ` +
      `${count(duplicates)} duplicates dropped; ${count(r.log.pushesWithoutDecision)} pushes without a decision`,
    `logging: ${policies.length} ${policies.length === 1 ? 'policy' : 'policies'}, most decisions by ${policies[0]![0]}; ` +
      `${r.mismatched} with probabilities that differ from a recomputation`,
    `target: each decision's logging policy with ${target.length > 0 ? target.join(', ') : 'nothing changed'}`,
    '',
    line(rows[0]!),
    ...rows.slice(1).map(line),
    '',
    `95% intervals (clustered by user); effective sample size ${r.result.ess.toFixed(1)} of ${count(r.result.units)}; ` +
      `max importance weight ${r.result.maxWeight.toFixed(2)}; ` +
      `target probability outside the logging policy's support ${r.result.unsupported.toFixed(4)} per decision`,
    '',
  ].join('\n');
}

export const opeCommand: Subcommand = { usage: USAGE, run };
