/**
 * Local time of the world's time zones, precomputed per simulated day so that per-user work stays O(1).
 *
 * A day `d` of the world is the UTC window [start + d * 24 h, start + (d + 1) * 24 h). It is cut into 96
 * quarter-hour slots; any real offset is a multiple of 15 minutes, so each slot lies within one local hour of
 * every zone. The local hour of a slot is computed from the zone's offset at that slot (luxon / IANA, so
 * DST-correct), once per zone and day.
 */
import { DateTime, IANAZone } from 'luxon';

// Local bindings: inside jest's vm context every Math.* lookup is ~40x slower than a call through one.
const { floor, round } = Math;

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
export const SLOT_MS = 900_000;
export const SLOTS_PER_DAY = 96;
/** Hours in a week; active-hour matrices are indexed `(weekday - 1) * 24 + hour` (luxon weekday, Monday = 1). */
export const WEEK_HOURS = 168;

/** The local hours of one zone's calendar day, as real instants (23, 24 or 25 of them). */
export interface LocalDayHours {
  /** Epoch ms at which each local hour starts. */
  readonly starts: Float64Array;
  /** Week index `(weekday - 1) * 24 + hour` of each local hour. */
  readonly weekIndex: Uint8Array;
}

export class ZoneCalendar {
  private readonly zoneObjects: IANAZone[];
  private readonly slotTables = new Map<number, Uint8Array>();
  private readonly localDays = new Map<string, LocalDayHours>();

  /**
   * @param zones IANA zone names, indexed as the users' `zone` column.
   * @param startMs UTC midnight of day 0.
   */
  constructor(
    readonly zones: readonly string[],
    readonly startMs: number,
  ) {
    this.zoneObjects = zones.map((z) => {
      const zone = IANAZone.create(z);
      if (!zone.isValid) throw new RangeError(`not an IANA time zone: ${z}`);
      return zone;
    });
  }

  /** Day index of an instant (may be negative before day 0). */
  dayOf(ms: number): number {
    return floor((ms - this.startMs) / DAY_MS);
  }

  dayStart(day: number): number {
    return this.startMs + day * DAY_MS;
  }

  /** Offset of the zone from UTC at the instant, in minutes. */
  offsetMinutes(zone: number, ms: number): number {
    return (this.zoneObjects[zone] as IANAZone).offset(ms);
  }

  /** Week index of every (zone, slot) of the day: `table[zone * 96 + slot]`. Cached. */
  slots(day: number): Uint8Array {
    let table = this.slotTables.get(day);
    if (table) return table;
    table = new Uint8Array(this.zones.length * SLOTS_PER_DAY);
    const start = this.dayStart(day);
    for (let z = 0; z < this.zones.length; z++) {
      // Offsets change at most once a day; asking luxon (Intl) per slot only on the days they do is 40x cheaper.
      const first = this.offsetMinutes(z, start);
      const constant = first === this.offsetMinutes(z, start + DAY_MS - SLOT_MS);
      for (let s = 0; s < SLOTS_PER_DAY; s++) {
        const t = start + s * SLOT_MS;
        table[z * SLOTS_PER_DAY + s] = weekIndexOfLocal(
          t + (constant ? first : this.offsetMinutes(z, t)) * 60_000,
        );
      }
    }
    // Bounded: a run touches a few days around the current one; drop the oldest beyond 64.
    if (this.slotTables.size >= 64) this.slotTables.delete(this.slotTables.keys().next().value as number);
    this.slotTables.set(day, table);
    return table;
  }

  /** Week index `(weekday - 1) * 24 + hour` of the instant in the zone. */
  weekIndexAt(zone: number, ms: number): number {
    const day = this.dayOf(ms);
    const slot = floor((ms - this.dayStart(day)) / SLOT_MS);
    return this.slots(day)[zone * SLOTS_PER_DAY + slot] as number;
  }

  /**
   * The local hours of the zone's calendar date that is `day` days after the start date (the date, not the
   * UTC window: in Tokyo it begins at 15:00 UTC the evening before). Cached.
   */
  localDay(zone: number, day: number): LocalDayHours {
    const key = `${zone}/${day}`;
    const cached = this.localDays.get(key);
    if (cached) return cached;
    const date = DateTime.fromMillis(this.dayStart(day), { zone: 'utc' });
    const midnight = DateTime.fromObject(
      { year: date.year, month: date.month, day: date.day },
      { zone: this.zones[zone] as string },
    );
    const from = midnight.toMillis();
    const to = midnight.plus({ days: 1 }).toMillis();
    const n = round((to - from) / HOUR_MS);
    const starts = new Float64Array(n);
    const weekIndex = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const t = from + i * HOUR_MS;
      starts[i] = t;
      weekIndex[i] = weekIndexOfLocal(t + this.offsetMinutes(zone, t) * 60_000);
    }
    const value = { starts, weekIndex };
    if (this.localDays.size >= 4096) this.localDays.delete(this.localDays.keys().next().value as string);
    this.localDays.set(key, value);
    return value;
  }
}

/** Week index of a "local epoch" (UTC fields read as local fields). */
function weekIndexOfLocal(localMs: number): number {
  const d = new Date(localMs);
  // getUTCDay: Sunday = 0; luxon and ISO: Monday = 1 ... Sunday = 7.
  const weekday = d.getUTCDay() === 0 ? 7 : d.getUTCDay();
  return (weekday - 1) * 24 + d.getUTCHours();
}
