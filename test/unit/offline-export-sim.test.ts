import affinity from '../../infra/data/affinity.json';
import { eventLogFromText } from '../../services/offline/event-log';
import { SIM_CSV_HEADER, simCsv } from '../../services/offline/export-sim.command';
import { CsvReader } from '../../services/offline/csv';
import { createWorld, generateDay, timeZoneOf, userIndex } from '../../services/simulator/world';

describe('export-sim', () => {
  const world = createWorld({
    seed: 7,
    users: 60,
    stores: 60,
    salesPerDay: 5,
    days: 2,
    start: '2026-03-02',
    affinity,
  });
  const text = [...simCsv(world, 2)].join('');

  it('writes every purchase and browse event of the days, in time order, with the user`s zone', () => {
    const records: string[][] = [];
    const reader = new CsvReader({ record: (f) => records.push(f), malformed: () => undefined });
    reader.push(text);
    reader.end();
    expect(records[0]!.join(',')).toBe(SIM_CSV_HEADER);
    const rows = records.slice(1);
    const expected = [0, 1]
      .flatMap((d) => generateDay(world, d, { includeSales: false }))
      .filter((e) => e.topic === 'purchases' || e.topic === 'browse');
    expect(rows).toHaveLength(expected.length);
    expect(rows.length).toBeGreaterThan(0);
    const times = rows.map((r) => Date.parse(r[1]!));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    for (const [user, , zone, event, category] of rows) {
      expect(zone).toBe(timeZoneOf(world, userIndex(world, user!)));
      expect(event).toMatch(/^(purchase|browse\.(view|add_to_cart|purchase))$/);
      expect(world.categoryIndex.has(category!)).toBe(true);
    }
  });

  it('reads back as an event log without a malformed row', () => {
    const log = eventLogFromText(text);
    expect(log.malformed).toBe(0);
    expect(log.length).toBe(text.split('\n').length - 2);
  });
});
