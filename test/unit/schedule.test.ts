import { lastTick, nextTick } from '../../services/campaigns/campaigns';

const at = (iso: string) => Date.parse(iso);

describe('campaign ticks on the clock', () => {
  it('finds the latest tick at or before now, in the cron’s zone', () => {
    // 09:00 in Madrid is 08:00 UTC in winter.
    expect(lastTick('0 9 * * *', 'Europe/Madrid', at('2026-11-22T08:00:00Z'))).toBe(
      at('2026-11-22T08:00:00Z'),
    );
    expect(lastTick('0 9 * * *', 'Europe/Madrid', at('2026-11-22T07:59:59Z'))).toBe(
      at('2026-11-21T08:00:00Z'),
    );
    expect(nextTick('0 9 * * *', 'Europe/Madrid', at('2026-11-22T08:00:00Z'))).toBe(
      at('2026-11-23T08:00:00Z'),
    );
  });

  it('follows the zone across a DST change', () => {
    // Europe/Madrid springs forward on 2026-03-29: 09:00 local is 08:00 UTC before, 07:00 UTC after.
    expect(lastTick('0 9 * * *', 'Europe/Madrid', at('2026-03-28T12:00:00Z'))).toBe(
      at('2026-03-28T08:00:00Z'),
    );
    expect(lastTick('0 9 * * *', 'Europe/Madrid', at('2026-03-29T12:00:00Z'))).toBe(
      at('2026-03-29T07:00:00Z'),
    );
  });

  it('says what is wrong with a bad cron', () => {
    expect(() => lastTick('at nine', 'UTC', 0)).toThrow(/cron "at nine" in UTC is invalid/);
  });
});
