import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { CsvReader, csvField } from '../../services/offline/csv';
import { HeaderError, eventLogFromText, parseInstant, type EventLog } from '../../services/offline/event-log';
import { ZoneClock, dayOf, hourOf } from '../../services/offline/local-time';
import { main } from '../../services/offline/offline';
import {
  Predictor,
  circularDistance,
  evaluateSendTime,
  isHit,
  localize,
  splitInstant,
  train,
  truthCases,
  DEFAULT_SEND_TIME,
} from '../../services/offline/send-time';
import { localHour } from '../../services/timing/engagement';

function readAll(chunks: string[]) {
  const records: Array<{ fields: string[]; line: number }> = [];
  const malformed: Array<{ line: number; reason: string }> = [];
  const reader = new CsvReader({
    record: (fields, line) => records.push({ fields, line }),
    malformed: (line, reason) => malformed.push({ line, reason }),
  });
  for (const c of chunks) reader.push(c);
  reader.end();
  return { records, malformed };
}

describe('CsvReader', () => {
  const text =
    'user_id,timestamp,note\r\n' +
    'u1,2026-03-02T09:00:00Z,"a, b"\r\n' +
    '\r\n' +
    'u2,1772442900,"she said ""hi"""\n' +
    '"u,3",x,"two\nlines"\n' +
    'u4,,\n' +
    'u5,y,last';

  it('reads quoted commas, escaped quotes, line breaks in quotes, CRLF, blank lines, empty fields', () => {
    const { records, malformed } = readAll([text]);
    expect(malformed).toEqual([]);
    expect(records).toEqual([
      { fields: ['user_id', 'timestamp', 'note'], line: 1 },
      { fields: ['u1', '2026-03-02T09:00:00Z', 'a, b'], line: 2 },
      { fields: ['u2', '1772442900', 'she said "hi"'], line: 4 },
      { fields: ['u,3', 'x', 'two\nlines'], line: 5 },
      { fields: ['u4', '', ''], line: 7 },
      { fields: ['u5', 'y', 'last'], line: 8 },
    ]);
  });

  it('gives the same records however the input is cut into chunks', () => {
    const whole = readAll([text]);
    expect(readAll(text.split(''))).toEqual(whole);
    for (let cut = 1; cut < text.length; cut++) {
      expect(readAll([text.slice(0, cut), text.slice(cut)])).toEqual(whole);
    }
  });

  it('drops a byte-order mark and reports a quoted field never closed, with its line', () => {
    const { records, malformed } = readAll(['\uFEFFa,b\n1,2\n3,"open\n4,5\n']);
    expect(records).toEqual([
      { fields: ['a', 'b'], line: 1 },
      { fields: ['1', '2'], line: 2 },
    ]);
    expect(malformed).toEqual([{ line: 3, reason: 'a quoted field is never closed' }]);
  });

  it('quotes a field for writing only when it must', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "x"')).toBe('"say ""x"""');
    const { records } = readAll([[csvField('a,"b"\n'), csvField('c')].join(',')]);
    expect(records[0]!.fields).toEqual(['a,"b"\n', 'c']);
  });
});

describe('parseInstant', () => {
  it.each([
    ['2026-03-02T09:15:00Z', '2026-03-02T09:15:00.000Z'],
    ['2026-03-02T09:15:00.25Z', '2026-03-02T09:15:00.250Z'],
    ['2026-03-02T09:15:00+01:00', '2026-03-02T08:15:00.000Z'],
    ['2026-03-02 09:15:00-0530', '2026-03-02T14:45:00.000Z'],
    ['2026-03-02T09:15:00+05', '2026-03-02T04:15:00.000Z'],
    // No offset means UTC, whatever the machine's zone.
    ['2026-03-02T09:15:00', '2026-03-02T09:15:00.000Z'],
    ['2026-03-02T09:15', '2026-03-02T09:15:00.000Z'],
    ['2026-03-02', '2026-03-02T00:00:00.000Z'],
    ['2024-02-29T12:00:00Z', '2024-02-29T12:00:00.000Z'],
    // Epoch seconds, integer or decimal.
    ['1772442900', '2026-03-02T09:15:00.000Z'],
    ['1772442900.5', '2026-03-02T09:15:00.500Z'],
    [' 1772442900 ', '2026-03-02T09:15:00.000Z'],
  ])('%s is %s', (text, iso) => {
    expect(new Date(parseInstant(text)).toISOString()).toBe(iso);
  });

  it.each([
    '',
    'yesterday',
    '2026-02-29T00:00:00Z',
    '2026-13-01',
    '2026-04-31',
    '2026-03-02T24:00',
    '2026-03-02T09:60',
    '2026-03-02T09:15:00+01:',
    '2026-03-02T09:15:00Zjunk',
    '2026-03-02T',
    '1e3',
  ])('%j is not a timestamp', (text) => {
    expect(parseInstant(text)).toBeNaN();
  });
});

describe('reading an event log', () => {
  it('keeps good rows, and counts bad ones with their line and reason', () => {
    const log = eventLogFromText(
      [
        'event,user_id,timestamp,time_zone',
        '"view, quick",u1,2026-03-02T09:00:00Z,Europe/Madrid',
        'view,u2,1772442900.5,',
        'view,u3,2026-03-02T09:00:00Z',
        'view,,2026-03-02T09:00:00Z,UTC',
        'view,u4,next tuesday,UTC',
        'view,u5,2026-03-02T09:00:00Z,Mars/Olympus',
        '"view ""x""",u1,2026-03-02T10:00:00+01:00,Europe/Madrid',
      ].join('\n'),
      { defaultZone: 'Asia/Tokyo' },
    );
    expect(log.length).toBe(3);
    expect(log.users).toEqual(['u1', 'u2']);
    expect(Array.from(log.at)).toEqual([
      Date.parse('2026-03-02T09:00:00Z'),
      1772442900500,
      Date.parse('2026-03-02T09:00:00Z'),
    ]);
    // An empty zone cell takes the default zone.
    expect(Array.from(log.zone).map((z) => log.zones[z])).toEqual([
      'Europe/Madrid',
      'Asia/Tokyo',
      'Europe/Madrid',
    ]);
    expect(log.malformed).toBe(4);
    expect(log.examples).toEqual([
      { line: 4, reason: 'expected 4 fields, got 3' },
      { line: 5, reason: 'empty user_id' },
      { line: 6, reason: 'unparseable timestamp "next tuesday"' },
      { line: 7, reason: 'unknown time_zone "Mars/Olympus"' },
    ]);
  });

  it('reads renamed columns, and without a zone column uses the default zone', () => {
    const log = eventLogFromText('who,when\nu1,1772442900\n', {
      columns: { user: 'who', time: 'when' },
      defaultZone: 'America/New_York',
    });
    expect(log.length).toBe(1);
    expect(log.zones).toEqual(['America/New_York']);
  });

  it('stops on a header without a required column, naming it and the header found', () => {
    expect(() => eventLogFromText('user,timestamp\nu1,1772442900\n')).toThrow(
      new HeaderError('user_id', ['user', 'timestamp']),
    );
    expect(() => eventLogFromText('user,timestamp\n')).toThrow(
      'the CSV has no column "user_id" (header: user,timestamp)',
    );
    expect(() => eventLogFromText('user_id,timestamp\n', { requireZoneColumn: true })).toThrow(
      'no column "time_zone"',
    );
  });
});

describe('ZoneClock', () => {
  const luxonDay = (at: number, tz: string) => {
    const d = DateTime.fromMillis(at, { zone: tz });
    return Date.UTC(d.year, d.month - 1, d.day) / 86_400_000;
  };

  it.each([
    // Spring forward and fall back, a 30-minute DST, a 45-minute offset, a half-hour zone with DST.
    ['Europe/Madrid', '2026-03-29T00:00:00Z'],
    ['America/New_York', '2026-11-01T04:00:00Z'],
    ['Australia/Lord_Howe', '2026-04-04T14:00:00Z'],
    ['Asia/Kathmandu', '2026-03-02T17:00:00Z'],
    ['Australia/Adelaide', '2026-04-04T15:00:00Z'],
    // Before standard time: an offset of minutes and seconds, looked up per instant.
    ['Europe/Madrid', '1890-06-01T00:00:00Z'],
  ])('gives luxon`s local day and the model`s local hour in %s around %s', (tz, around) => {
    const clock = new ZoneClock(tz);
    const t0 = Date.parse(around) - 6 * 3_600_000;
    for (let at = t0; at < t0 + 12 * 3_600_000; at += 7 * 60_000 + 13_000) {
      const dh = clock.dayHour(at);
      expect([tz, at, dayOf(dh), hourOf(dh)]).toEqual([tz, at, luxonDay(at, tz), localHour(at, tz)]);
    }
  });
});

/** A log from rows [user, instant, zone]. */
function logOf(rows: Array<[string, string, string?]>): EventLog {
  const lines = rows.map(([u, at, tz]) => `${u},${at},${tz ?? ''}`);
  return eventLogFromText(['user_id,timestamp,time_zone', ...lines].join('\n'));
}

describe('the send-time protocol', () => {
  // Training ends at the 7th row in time (rank floor(0.43 * 14) = 6), 2026-03-04T00:30Z.
  const rows: Array<[string, string, string?]> = [
    ['a', '2026-03-01T09:10:00Z'],
    ['b', '2026-03-01T23:30:00Z'],
    ['a', '2026-03-02T09:20:00Z'],
    ['c', '2026-03-02T14:00:00Z', 'Asia/Tokyo'], // 23:00 in Tokyo
    ['a', '2026-03-03T10:05:00Z'],
    ['b', '2026-03-03T23:10:00Z'],
    // Test rows, out of order in the file.
    ['a', '2026-03-05T10:30:00Z'], // not a's first on the 5th
    ['a', '2026-03-04T00:30:00Z'], // the split instant: the split's day is not a truth day
    ['a', '2026-03-05T07:00:00Z'], // a, 5th: 7
    ['c', '2026-03-04T15:30:00Z', 'Asia/Tokyo'], // 00:30 on the 5th in Tokyo: c, 5th: 0
    ['b', '2026-03-05T00:15:00Z'], // b, 5th: 0
    ['d', '2026-03-05T12:00:00Z'], // d has no training row: no case
    ['a', '2026-03-06T13:00:00Z'],
    ['a', '2026-03-06T10:59:00Z'], // a, 6th: 10
  ];
  const log = logOf(rows);
  const user = (id: string) => log.users.indexOf(id);
  const local = localize(log);
  const splitAt = splitInstant(local, 0.43);
  const model = train(local, splitAt, DEFAULT_SEND_TIME.model);

  it('splits at the quantile and trains on the rows before it', () => {
    expect(new Date(splitAt).toISOString()).toBe('2026-03-04T00:30:00.000Z');
    expect(['a', 'b', 'c', 'd'].map((u) => model.trainRows[user(u)])).toEqual([3, 2, 1, 0]);
    expect(model.globalCounts[9]).toBe(2);
    expect(model.globalCounts[23]).toBe(3);
  });

  it('takes as truth the local hour of the first event of each local day after the split`s', () => {
    const day = (iso: string) => Date.parse(iso) / 86_400_000;
    expect(truthCases(local, model)).toEqual([
      { user: user('c'), day: day('2026-03-05'), hour: 0 },
      { user: user('b'), day: day('2026-03-05'), hour: 0 },
      { user: user('a'), day: day('2026-03-05'), hour: 7 },
      { user: user('a'), day: day('2026-03-06'), hour: 10 },
    ]);
  });

  it('counts a hit within one hour around the clock', () => {
    expect(circularDistance(23, 0)).toBe(1);
    expect(circularDistance(0, 23)).toBe(1);
    expect(circularDistance(22, 1)).toBe(3);
    expect(circularDistance(3, 15)).toBe(12);
    expect([isHit(23, 0), isHit(9, 10), isHit(9, 7), isHit(12, 12)]).toEqual([true, true, false, true]);
  });

  it('scores every method on the hand-computed cases', () => {
    const p = new Predictor(model);
    expect(p.predict(user('a'))).toEqual({ 'global-mode': 23, 'own-mode': 9, cohort: 23, herald: 9 });
    expect(p.predict(user('b'))).toMatchObject({ 'own-mode': 23, herald: 23 });
    const r = evaluateSendTime(log, { split: 0.43 });
    // a misses 7 with 9 (two hours) but hits 10; b and c hit 0 with 23.
    expect(r.all).toEqual({ cases: 4, hits: { 'global-mode': 2, 'own-mode': 3, cohort: 2, herald: 3 } });
    expect(r.few).toEqual({ cases: 2, hits: { 'global-mode': 2, 'own-mode': 2, cohort: 2, herald: 2 } });
    expect(r.many).toEqual({ cases: 2, hits: { 'global-mode': 0, 'own-mode': 1, cohort: 0, herald: 1 } });
    expect(r.users).toBe(3);
  });

  it('breaks a tie in the user`s own counts toward the earlier hour', () => {
    const tie = logOf([
      ['t', '2026-03-01T22:00:00Z'],
      ['t', '2026-03-02T06:00:00Z'],
      ['t', '2026-03-09T06:00:00Z'],
    ]);
    const l = localize(tie);
    const m = train(l, splitInstant(l, 0.67), DEFAULT_SEND_TIME.model);
    expect(new Predictor(m).predict(0)['own-mode']).toBe(6);
  });
});

describe('herald between the cohort and the user', () => {
  // A Madrid cohort active at 20:00 local; one heavy user at 07:00; one user seen only after the split.
  const rows: Array<[string, string, string?]> = [];
  for (let d = 1; d <= 20; d++) {
    const day = String(d).padStart(2, '0');
    for (let u = 0; u < 5; u++) rows.push([`c${u}`, `2026-03-${day}T19:${10 + u}:00Z`, 'Europe/Madrid']);
    rows.push(['heavy', `2026-03-${day}T06:05:00Z`, 'Europe/Madrid']);
    rows.push(['heavy', `2026-03-${day}T06:45:00Z`, 'Europe/Madrid']);
  }
  rows.push(['late', '2026-03-25T12:00:00Z', 'Europe/Madrid']);
  const log = logOf(rows);
  const l = localize(log);
  const model = train(l, Date.parse('2026-03-21T00:00:00Z'), DEFAULT_SEND_TIME.model);
  const p = new Predictor(model);

  it('gives a user with no events of their own the cohort`s hour', () => {
    const late = p.predict(log.users.indexOf('late'));
    expect(late.cohort).toBe(20);
    expect(late.herald).toBe(late.cohort);
  });

  it('gives a user with many events their own mode', () => {
    const heavy = p.predict(log.users.indexOf('heavy'));
    expect(heavy['own-mode']).toBe(7);
    expect(heavy.herald).toBe(7);
    expect(heavy.cohort).toBe(20);
  });
});

describe('npm run offline -- send-time', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'offline-send-time-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function run(argv: string[]) {
    let out = '';
    let err = '';
    const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
    return { code, out, err };
  }

  it('prints one JSON object of hit rates, and malformed rows on stderr', async () => {
    const file = join(dir, 'events.csv');
    const rows = ['user_id,timestamp'];
    for (let d = 1; d <= 9; d++) rows.push(`u1,2026-03-0${d}T08:30:00Z`, `u2,2026-03-0${d}T21:30:00Z`);
    rows.push('u3,not a time', 'u4');
    writeFileSync(file, rows.join('\n'));
    const { code, out, err } = await run(['send-time', '--events', file, '--json', '--split', '0.5']);
    expect(code).toBe(0);
    const json = JSON.parse(out) as Record<string, unknown>;
    expect(json).toMatchObject({
      cases: 8,
      methods: { 'own-mode': { hit: 1 }, herald: { hit: 1 } },
      few: { cases: 0 },
      malformed: 2,
    });
    expect(err).toContain(
      '2 malformed rows skipped; first: line 20: unparseable timestamp "not a time"; line 21',
    );
  });

  it('exits 2 with one line naming a missing column and the header', async () => {
    const file = join(dir, 'bad-header.csv');
    writeFileSync(file, 'user,when\nu1,1772442900\n');
    const { code, out, err } = await run(['send-time', '--events', file]);
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err).toBe(`offline send-time: ${file}: the CSV has no column "user_id" (header: user,when)\n`);
  });

  it('exits 2 on a bad flag or an unknown subcommand', async () => {
    expect((await run(['send-time', '--events', join(dir, 'none.csv')])).code).toBe(2);
    expect((await run(['send-time', '--events', 'x', '--split', '1.5'])).err).toContain(
      '--split must be in (0, 1)',
    );
    expect((await run(['send-time', '--events', 'x', '--tz', 'Nowhere/Land'])).code).toBe(2);
    expect((await run(['send-tim'])).err).toContain('unknown subcommand "send-tim"');
  });
});
