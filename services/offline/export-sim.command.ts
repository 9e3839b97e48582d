/**
 * `npm run offline -- export-sim --users N --days D`: the simulated world's event log as CSV, the data the
 * README's figures are measured on, for the offline commands (and anyone's notebook). One row per purchase
 * and per browse event, `user_id,timestamp,time_zone,event,category`, in time order; the zone is the one the
 * user's profile event carries. The world is built as `npm run eval` builds it, through its public API only:
 * exporting changes nothing in it.
 */
import { createWriteStream, readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import {
  DAY_MS,
  createWorld,
  generateDay,
  initialEvents,
  type AnySimEvent,
  type World,
} from '../simulator/world';
import { UsageError, flags, numberFlag, positiveInteger, type CommandIo, type Subcommand } from './command';
import { csvField } from './csv';

const USAGE = `npm run offline -- export-sim --users N --days D [flags]
  --users N                users of the world (required)
  --days D                 days of events (required)
  --seed 7                 the world's seed
  --start 2026-03-02       day 0 (a UTC date); fixed by default so a seed always gives the same file
  --stores N               default max(60, users / 10), as npm run eval
  --sales-per-day 20
  --truth FILE.json        the world's follow-up table (default infra/data/affinity.json)
  --out FILE.csv           default stdout`;

export const SIM_CSV_HEADER = 'user_id,timestamp,time_zone,event,category';

/** The `event` column: `purchase`, or `browse.` and the browse action (`view`, `add_to_cart`, `purchase`). */
function eventRow(e: AnySimEvent, zones: Map<string, string>): string | undefined {
  if (e.topic === 'profiles') {
    zones.set(e.value.userId, e.value.timeZone);
    return undefined;
  }
  let event: string;
  if (e.topic === 'purchases') event = 'purchase';
  else if (e.topic === 'browse') event = `browse.${e.value.action}`;
  else return undefined;
  const user = e.value.userId;
  const zone = zones.get(user) ?? '';
  return `${csvField(user)},${e.value.at},${csvField(zone)},${event},${csvField(e.value.category)}\n`;
}

/** The CSV in chunks: the header, then one chunk per day of the world (days 0 .. days - 1). */
export function* simCsv(world: World, days: number): Generator<string> {
  const zones = new Map<string, string>();
  for (const e of initialEvents(world)) eventRow(e, zones);
  yield `${SIM_CSV_HEADER}\n`;
  for (let day = 0; day < days; day++) {
    let chunk = '';
    for (const e of generateDay(world, day, { includeSales: false })) chunk += eventRow(e, zones) ?? '';
    yield chunk;
  }
}

async function write(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await new Promise<void>((resolve) => out.once('drain', resolve));
}

async function run(argv: string[], io: CommandIo): Promise<number> {
  const v = flags(argv, {
    users: { type: 'string' },
    days: { type: 'string' },
    seed: { type: 'string' },
    start: { type: 'string' },
    stores: { type: 'string' },
    'sales-per-day': { type: 'string' },
    truth: { type: 'string' },
    out: { type: 'string' },
  });
  if (v.users === undefined || v.days === undefined)
    throw new UsageError('--users N and --days D are required');
  const whole = 'a positive whole number';
  const users = numberFlag(v.users, 'users', 0, positiveInteger, whole);
  const days = numberFlag(v.days, 'days', 0, positiveInteger, whole);
  const seed = numberFlag(v.seed, 'seed', 7, Number.isInteger, 'a whole number');
  const stores = numberFlag(v.stores, 'stores', Math.max(60, Math.round(users / 10)), positiveInteger, whole);
  const salesPerDay = numberFlag(v['sales-per-day'], 'sales-per-day', 20, positiveInteger, whole);
  const start = v.start ?? '2026-03-02';
  if (!/^\d{4}-\d{2}-\d{2}$/.test(start) || !Number.isFinite(Date.parse(`${start}T00:00:00Z`)))
    throw new UsageError(`--start must be a date like 2026-03-02, got ${JSON.stringify(start)}`);
  const truthPath = v.truth ?? 'infra/data/affinity.json';
  let affinity: unknown;
  try {
    affinity = JSON.parse(readFileSync(truthPath, 'utf8'));
  } catch (err) {
    throw new UsageError(
      `--truth: cannot read ${truthPath}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }

  const started = performance.now();
  const world = createWorld({ seed, users, stores, salesPerDay, days, start, affinity });
  const out: Writable = v.out ? createWriteStream(v.out) : process.stdout;
  let bytes = 0;
  let rows = -1;
  let day = -1;
  for (const chunk of simCsv(world, days)) {
    await write(out, chunk);
    bytes += chunk.length;
    for (let i = chunk.indexOf('\n'); i >= 0; i = chunk.indexOf('\n', i + 1)) rows++;
    if (day >= 0)
      io.err(
        `export-sim: day ${day + 1}/${days} (${new Date(world.startMs + day * DAY_MS).toISOString().slice(0, 10)})\n`,
      );
    day++;
  }
  if (v.out)
    await new Promise<void>((resolve, reject) =>
      out.end((err?: Error | null) => (err ? reject(err) : resolve())),
    );
  io.err(
    `export-sim: ${users} users, ${days} days from ${start}, seed ${seed}: ${rows} rows, ${(bytes / 1e6).toFixed(1)} MB ` +
      `${v.out ? `to ${v.out} ` : ''}in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
  );
  return 0;
}

export const exportSimCommand: Subcommand = { usage: USAGE, run };
