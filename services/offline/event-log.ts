/**
 * An event log read from CSV into columns: per row the user (an index into `users`), the instant (epoch ms)
 * and the time zone (an index into `zones`). Rows that cannot be used are counted with their line and reason,
 * never thrown; only a header without a required column stops the read (HeaderError).
 *
 * A timestamp is ISO 8601 (`2026-03-02T09:15:00Z`, `2026-03-02 09:15:00+01:00`, `2026-03-02T09:15`; no
 * offset means UTC) or epoch seconds, integer or decimal (`1772442900`, `1772442900.25`).
 */
import { CsvReader, readCsv, type CsvSink } from './csv';
import { isKnownZone } from './local-time';

export interface EventColumns {
  /** Column of the user id. Default `user_id`. */
  user: string;
  /** Column of the instant. Default `timestamp`. */
  time: string;
  /** Column of the IANA time zone; optional in the file. Default `time_zone`. */
  zone: string;
}

export const DEFAULT_COLUMNS: EventColumns = { user: 'user_id', time: 'timestamp', zone: 'time_zone' };

export interface ReadOptions {
  columns?: Partial<EventColumns>;
  /** Stop with a HeaderError when the zone column is missing (when it was named explicitly). Default false. */
  requireZoneColumn?: boolean;
  /** Zone of rows without one (no zone column, or an empty cell). Default `UTC`. */
  defaultZone?: string;
  /** Called every `progressEvery` rows with the rows read so far. */
  progress?: (rows: number) => void;
  /** Default 100000. */
  progressEvery?: number;
  /** How many malformed rows are kept as examples. Default 5. */
  examples?: number;
}

export interface MalformedRow {
  line: number;
  reason: string;
}

export interface EventLog {
  /** Rows kept. The arrays below are `length` long. */
  length: number;
  user: Int32Array;
  at: Float64Array;
  zone: Uint16Array;
  users: string[];
  zones: string[];
  /** Rows skipped. */
  malformed: number;
  /** The first few of them. */
  examples: MalformedRow[];
}

/** The header lacks a required column. */
export class HeaderError extends Error {
  constructor(
    readonly column: string,
    readonly header: readonly string[],
  ) {
    super(`the CSV has no column "${column}" (header: ${header.join(',') || '(empty)'})`);
    this.name = 'HeaderError';
  }
}

const EPOCH_SECONDS = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$/;
const MAX_MS = 8.64e15;
const DAY_MS = 86_400_000;

/** Epoch ms of a timestamp (see the module's header), or NaN. */
export function parseInstant(text: string): number {
  const s = text.trim();
  if (EPOCH_SECONDS.test(s)) {
    const ms = Math.round(Number(s) * 1000);
    return Math.abs(ms) <= MAX_MS ? ms : NaN;
  }
  const ms = parseIso(s);
  return Math.abs(ms) <= MAX_MS ? ms : NaN;
}

/** The number written by the `len` digits of `s` at `at`, or -1. */
function digits(s: string, at: number, len: number): number {
  if (at + len > s.length) return -1;
  let n = 0;
  for (let i = at; i < at + len; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Days from 1970-01-01 to a proleptic Gregorian date (Hinnant's days_from_civil). */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/**
 * `YYYY-MM-DD[(T| )HH:MM[:SS[(.|,)fraction]]][Z|(+|-)HH[[:]MM]]`, by hand: a regular expression and a Date
 * per row were most of the time of reading a large log.
 */
function parseIso(s: string): number {
  const year = digits(s, 0, 4);
  const month = digits(s, 5, 2);
  const day = digits(s, 8, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || s[4] !== '-' || s[7] !== '-') return NaN;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > DAYS_IN_MONTH[month - 1]! + (month === 2 && leap ? 1 : 0)) return NaN;
  let ms = 0;
  let i = 10;
  const sep = s[i];
  if (sep === 'T' || sep === 't' || sep === ' ') {
    const hour = digits(s, i + 1, 2);
    const minute = digits(s, i + 4, 2);
    if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || s[i + 3] !== ':') return NaN;
    ms = hour * 3_600_000 + minute * 60_000;
    i += 6;
    if (s[i] === ':') {
      const second = digits(s, i + 1, 2);
      if (second < 0 || second > 59) return NaN;
      ms += second * 1000;
      i += 3;
      if (s[i] === '.' || s[i] === ',') {
        const from = ++i;
        while (i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) i++;
        if (i === from) return NaN;
        ms += Math.round(Number(`0.${s.slice(from, i)}`) * 1000);
      }
    }
  }
  if (i < s.length) {
    const zone = s[i];
    if (zone === 'Z' || zone === 'z') {
      i++;
    } else if (zone === '+' || zone === '-') {
      const oh = digits(s, i + 1, 2);
      if (oh < 0 || oh > 23) return NaN;
      i += 3;
      let om = 0;
      const colon = s[i] === ':';
      if (colon) i++;
      if (colon || i < s.length) {
        om = digits(s, i, 2);
        if (om < 0 || om > 59) return NaN;
        i += 2;
      }
      ms -= (zone === '-' ? -1 : 1) * (oh * 60 + om) * 60_000;
    }
  }
  if (i !== s.length) return NaN;
  return daysFromCivil(year, month, day) * DAY_MS + ms;
}

/** Growable typed columns. */
class Columns {
  user = new Int32Array(1 << 16);
  at = new Float64Array(1 << 16);
  zone = new Uint16Array(1 << 16);
  length = 0;

  push(user: number, at: number, zone: number): void {
    if (this.length === this.user.length) {
      const grow = <T extends Int32Array | Float64Array | Uint16Array>(a: T, make: (n: number) => T) => {
        const b = make(a.length * 2);
        b.set(a);
        return b;
      };
      this.user = grow(this.user, (n) => new Int32Array(n));
      this.at = grow(this.at, (n) => new Float64Array(n));
      this.zone = grow(this.zone, (n) => new Uint16Array(n));
    }
    this.user[this.length] = user;
    this.at[this.length] = at;
    this.zone[this.length] = zone;
    this.length++;
  }
}

/**
 * Folds CSV records into an EventLog. Feed it through a CsvReader (see readEventLog); `finish` returns the
 * log. Exposed for tests, which feed strings.
 */
export class EventLogBuilder implements CsvSink {
  private readonly cols = new Columns();
  private readonly userIndex = new Map<string, number>();
  private readonly users: string[] = [];
  /** Zone name -> index, or -1 for a name that is not a zone. */
  private readonly zoneIndex = new Map<string, number>();
  private readonly zones: string[] = [];
  private readonly columns: EventColumns;
  private readonly defaultZone: number;
  private readonly examples: MalformedRow[] = [];
  private readonly maxExamples: number;
  private readonly progressEvery: number;
  private header: string[] | undefined;
  private width = 0;
  private userCol = 0;
  private timeCol = 0;
  private zoneCol = -1;
  private malformedRows = 0;
  private lastZoneName = '';
  private lastZone = -1;
  private records = 0;

  constructor(private readonly options: ReadOptions = {}) {
    this.columns = { ...DEFAULT_COLUMNS, ...options.columns };
    const tz = options.defaultZone ?? 'UTC';
    this.defaultZone = this.zoneOf(tz);
    if (this.defaultZone < 0) throw new RangeError(`unknown time zone "${tz}"`);
    this.maxExamples = options.examples ?? 5;
    this.progressEvery = options.progressEvery ?? 100_000;
  }

  record(fields: string[], line: number): void {
    if (!this.header) {
      this.readHeader(fields);
      return;
    }
    if (++this.records % this.progressEvery === 0) this.options.progress?.(this.records);
    if (fields.length !== this.width) {
      this.malformed(line, `expected ${this.width} fields, got ${fields.length}`);
      return;
    }
    const user = fields[this.userCol]!.trim();
    if (!user) {
      this.malformed(line, `empty ${this.columns.user}`);
      return;
    }
    const raw = fields[this.timeCol]!;
    const at = parseInstant(raw);
    if (Number.isNaN(at)) {
      this.malformed(line, `unparseable ${this.columns.time} ${JSON.stringify(raw)}`);
      return;
    }
    let zone = this.defaultZone;
    if (this.zoneCol >= 0) {
      const name = fields[this.zoneCol]!.trim();
      if (name) {
        zone = this.zoneOf(name);
        if (zone < 0) {
          this.malformed(line, `unknown ${this.columns.zone} ${JSON.stringify(name)}`);
          return;
        }
      }
    }
    let u = this.userIndex.get(user);
    if (u === undefined) {
      u = this.users.length;
      this.users.push(user);
      this.userIndex.set(user, u);
    }
    this.cols.push(u, at, zone);
  }

  malformed(line: number, reason: string): void {
    this.malformedRows++;
    if (this.examples.length < this.maxExamples) this.examples.push({ line, reason });
  }

  finish(): EventLog {
    if (!this.header) throw new HeaderError(this.columns.user, []);
    const { cols } = this;
    return {
      length: cols.length,
      user: cols.user.subarray(0, cols.length),
      at: cols.at.subarray(0, cols.length),
      zone: cols.zone.subarray(0, cols.length),
      users: this.users,
      zones: this.zones,
      malformed: this.malformedRows,
      examples: this.examples,
    };
  }

  private readHeader(fields: string[]): void {
    const header = fields.map((f) => f.trim());
    const find = (name: string) => header.indexOf(name);
    const required = [this.columns.user, this.columns.time];
    if (this.options.requireZoneColumn) required.push(this.columns.zone);
    for (const name of required) {
      if (find(name) < 0) throw new HeaderError(name, header);
    }
    this.header = header;
    this.width = header.length;
    this.userCol = find(this.columns.user);
    this.timeCol = find(this.columns.time);
    this.zoneCol = find(this.columns.zone);
  }

  private zoneOf(name: string): number {
    // Rows of one zone tend to come in runs; comparing with the last name is cheaper than hashing it.
    if (name === this.lastZoneName) return this.lastZone;
    let z = this.zoneIndex.get(name);
    if (z === undefined) {
      z = isKnownZone(name) && this.zones.length < 0xffff ? this.zones.push(name) - 1 : -1;
      this.zoneIndex.set(name, z);
    }
    this.lastZoneName = name;
    this.lastZone = z;
    return z;
  }
}

/** Reads an event log from a stream of CSV text (e.g. `createReadStream(path)`). */
export async function readEventLog(
  chunks: AsyncIterable<string | Buffer>,
  options: ReadOptions = {},
): Promise<EventLog> {
  const builder = new EventLogBuilder(options);
  await readCsv(chunks, builder);
  return builder.finish();
}

/** Reads an event log from CSV text already in memory (tests, small files). */
export function eventLogFromText(text: string, options: ReadOptions = {}): EventLog {
  const builder = new EventLogBuilder(options);
  const reader = new CsvReader(builder);
  reader.push(text);
  reader.end();
  return builder.finish();
}
