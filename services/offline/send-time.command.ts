/**
 * `npm run offline -- send-time --events FILE.csv`: the send-time evaluation (send-time.ts) on an event log.
 * Streams the file, prints progress and malformed rows on stderr, and the table (or with --json one JSON
 * object) on stdout.
 */
import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { UsageError, flags, numberFlag, positive, type CommandIo, type Subcommand } from './command';
import { DEFAULT_COLUMNS, HeaderError, readEventLog, type EventLog } from './event-log';
import { isKnownZone } from './local-time';
import {
  DEFAULT_SEND_TIME,
  METHODS,
  evaluateSendTime,
  hitRates,
  type Score,
  type SendTimeResult,
} from './send-time';

const USAGE = `npm run offline -- send-time --events FILE.csv [flags]
  --events FILE.csv        the event log: a header, then one row per event (required)
  --tz ZONE                zone of rows without one (default UTC)
  --split 0.8              quantile of the timestamps where training ends
  --json                   one JSON object on stdout instead of the table
  --user-col user_id       column names (the zone column is optional in the file)
  --time-col timestamp
  --tz-col time_zone
  --half-life-days 30      the model's options (default DEFAULT_ENGAGEMENT's), for experiments
  --prior-strength 4
  --cohort-strength 20`;

async function run(argv: string[], io: CommandIo): Promise<number> {
  const v = flags(argv, {
    events: { type: 'string' },
    tz: { type: 'string' },
    split: { type: 'string' },
    json: { type: 'boolean' },
    'user-col': { type: 'string' },
    'time-col': { type: 'string' },
    'tz-col': { type: 'string' },
    'half-life-days': { type: 'string' },
    'prior-strength': { type: 'string' },
    'cohort-strength': { type: 'string' },
  });
  if (!v.events) throw new UsageError('--events FILE.csv is required');
  const tz = v.tz ?? 'UTC';
  if (!isKnownZone(tz)) throw new UsageError(`--tz: unknown time zone ${JSON.stringify(tz)}`);
  const split = numberFlag(v.split, 'split', DEFAULT_SEND_TIME.split, (n) => n > 0 && n < 1, 'in (0, 1)');
  const d = DEFAULT_SEND_TIME.model;
  const model = {
    halfLifeDays: numberFlag(v['half-life-days'], 'half-life-days', d.halfLifeDays, positive, 'positive'),
    priorStrength: numberFlag(v['prior-strength'], 'prior-strength', d.priorStrength, positive, 'positive'),
    cohortStrength: numberFlag(
      v['cohort-strength'],
      'cohort-strength',
      d.cohortStrength,
      positive,
      'positive',
    ),
  };
  try {
    await access(v.events);
  } catch {
    throw new UsageError(`--events: cannot read ${v.events}`);
  }

  const started = performance.now();
  let log: EventLog;
  try {
    log = await readEventLog(createReadStream(v.events, { highWaterMark: 1 << 20 }), {
      columns: {
        user: v['user-col'] ?? DEFAULT_COLUMNS.user,
        time: v['time-col'] ?? DEFAULT_COLUMNS.time,
        zone: v['tz-col'] ?? DEFAULT_COLUMNS.zone,
      },
      requireZoneColumn: v['tz-col'] !== undefined,
      defaultZone: tz,
      progress: (rows) => io.err(`send-time: ${rows.toLocaleString('en-US')} rows read\n`),
    });
  } catch (err) {
    if (err instanceof HeaderError) throw new UsageError(`${v.events}: ${err.message}`);
    throw err;
  }
  const readS = (performance.now() - started) / 1000;
  if (log.malformed > 0) {
    const first = log.examples.map((e) => `line ${e.line}: ${e.reason}`).join('; ');
    io.err(`send-time: ${log.malformed} malformed rows skipped; first: ${first}\n`);
  }
  const evalStarted = performance.now();
  const result = evaluateSendTime(log, { split, model });
  const evalS = (performance.now() - evalStarted) / 1000;
  io.err(
    `send-time: ${log.length.toLocaleString('en-US')} rows, ${log.users.length.toLocaleString('en-US')} users; ` +
      `read in ${readS.toFixed(2)} s, evaluated in ${evalS.toFixed(2)} s\n`,
  );
  io.out(v.json ? `${JSON.stringify(toJson(result, log.malformed))}\n` : renderTable(result, log.malformed));
  return 0;
}

export function toJson(r: SendTimeResult, malformed: number) {
  const all = hitRates(r.all);
  return {
    cases: all.cases,
    methods: all.methods,
    few: hitRates(r.few),
    many: hitRates(r.many),
    malformed,
    rows: r.rows,
    users: r.users,
    trainRows: r.trainRows,
    split: Number.isFinite(r.splitAt) ? new Date(r.splitAt).toISOString() : null,
    model: r.options.model,
  };
}

export function renderTable(r: SendTimeResult, malformed: number): string {
  const few = `< ${r.options.fewBelow} events`;
  const many = `${r.options.fewBelow}+ events`;
  const pct = (s: Score, m: (typeof METHODS)[number]) =>
    s.cases > 0 ? `${((100 * s.hits[m]) / s.cases).toFixed(1)}%` : '-';
  const rows = [
    ['method', 'hit rate', few, many],
    ...METHODS.map((m) => [m, pct(r.all, m), pct(r.few, m), pct(r.many, m)]),
    ['cases', String(r.all.cases), String(r.few.cases), String(r.many.cases)],
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  const line = (row: string[]) =>
    row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  const split = Number.isFinite(r.splitAt) ? new Date(r.splitAt).toISOString() : 'none';
  const m = r.options.model;
  return [
    `send-time: ${r.rows} rows (${malformed} malformed skipped), ${r.users} users with training events; split at ${split} (quantile ${r.options.split}, ${r.trainRows} training rows)`,
    `model: halfLifeDays ${m.halfLifeDays}, priorStrength ${m.priorStrength}, cohortStrength ${m.cohortStrength}; a hit is within 1 hour of the first event of each later local day`,
    '',
    line(rows[0]!),
    ...rows.slice(1).map(line),
    '',
  ].join('\n');
}

export const sendTimeCommand: Subcommand = { usage: USAGE, run };
