import { DateTime } from 'luxon';
import { dueTime, nextLocalHour } from '../../services/timing/send-time';

const at = (iso: string) => DateTime.fromISO(iso, { setZone: true }).toMillis();
const local = (ms: number, tz: string) =>
  DateTime.fromMillis(ms, { zone: tz }).toFormat("yyyy-MM-dd'T'HH:mmZZ");

describe('nextLocalHour', () => {
  it('picks today when the hour is still ahead in the user zone, tomorrow otherwise', () => {
    const now = at('2026-11-22T08:30:00Z'); // 09:30 in Madrid, 03:30 in New York
    expect(local(nextLocalHour(now, 'Europe/Madrid', 10), 'Europe/Madrid')).toBe('2026-11-22T10:00+01:00');
    expect(local(nextLocalHour(now, 'Europe/Madrid', 9), 'Europe/Madrid')).toBe('2026-11-23T09:00+01:00');
    expect(local(nextLocalHour(now, 'America/New_York', 10), 'America/New_York')).toBe(
      '2026-11-22T10:00-05:00',
    );
    expect(local(nextLocalHour(now, 'Asia/Kolkata', 10), 'Asia/Kolkata')).toBe('2026-11-23T10:00+05:30');
  });

  it('moves an hour that does not exist (spring forward) past the gap', () => {
    // Madrid, 2026-03-29: 02:00 jumps to 03:00.
    const now = at('2026-03-28T23:30:00Z');
    expect(local(nextLocalHour(now, 'Europe/Madrid', 2), 'Europe/Madrid')).toBe('2026-03-29T03:00+02:00');
  });

  it('takes the first of an hour that happens twice (fall back)', () => {
    // New York, 2026-11-01: 01:00-02:00 happens twice.
    const now = at('2026-11-01T04:00:00Z'); // 00:00 EDT
    const due = nextLocalHour(now, 'America/New_York', 1);
    expect(new Date(due).toISOString()).toBe('2026-11-01T05:00:00.000Z'); // 01:00 EDT, not 01:00 EST
  });
});

describe('dueTime', () => {
  const now = at('2026-11-22T08:30:00Z');
  it('is now in immediate mode', () => {
    expect(dueTime({ now, tz: 'Europe/Madrid', mode: 'immediate', localHour: 10 })).toBe(now);
  });
  it('never books after the deadline', () => {
    const deadline = at('2026-11-22T08:45:00Z'); // before 10:00 in Madrid (09:00Z)
    expect(
      dueTime({
        now,
        tz: 'Europe/Madrid',
        mode: 'local-hour',
        localHour: 10,
        deadline: deadline + 3_600_000,
      }),
    ).toBe(at('2026-11-22T09:00:00Z'));
    expect(dueTime({ now, tz: 'Europe/Madrid', mode: 'local-hour', localHour: 10, deadline })).toBe(now);
  });
});
