/**
 * The local hour and local calendar day of instants in one zone, for a million rows in well under a second.
 *
 * The hour is the production model's own `localHour`, called for every row. The day needs the zone's offset,
 * which luxon takes ~4 us to give, so it is looked up once per quarter hour of UTC. That is exact: every
 * zone's offset today is a whole number of quarter hours and changes on a quarter-hour boundary, so when the
 * offset is the same at both ends of a UTC quarter hour, every instant in it is on the local day of its
 * start. A quarter hour where that does not hold (an odd historical offset) is looked up per instant.
 */
import { IANAZone } from 'luxon';
import { localHour } from '../timing/engagement';

export const DAY_MS = 86_400_000;
const QUARTER_MS = 900_000;
/** Memo value of a quarter hour whose instants must each be looked up. */
const ASK_EACH = -0x80000000;

/** True when `tz` names a time zone this runtime knows. */
export function isKnownZone(tz: string): boolean {
  return tz.length > 0 && IANAZone.isValidZone(tz);
}

export class ZoneClock {
  private readonly zone: IANAZone;
  /** UTC quarter-hour index -> local day, or ASK_EACH. */
  private readonly memo = new Map<number, number>();

  /** `tz` must be known (isKnownZone). */
  constructor(readonly tz: string) {
    this.zone = IANAZone.create(tz);
  }

  /** The local day of `at` (epoch ms): days since 1970-01-01 in the zone's calendar. */
  day(at: number): number {
    const q = Math.floor(at / QUARTER_MS);
    let day = this.memo.get(q);
    if (day === undefined) {
      const start = q * QUARTER_MS;
      const offset = this.zone.offset(start);
      day =
        offset === this.zone.offset(start + QUARTER_MS - 1) && offset % 15 === 0
          ? this.dayWith(start, offset)
          : ASK_EACH;
      this.memo.set(q, day);
    }
    return day === ASK_EACH ? this.dayWith(at, this.zone.offset(at)) : day;
  }

  /** The local day and hour of `at`, packed as `day * 24 + hour`; read them with dayOf and hourOf. */
  dayHour(at: number): number {
    return this.day(at) * 24 + localHour(at, this.tz);
  }

  private dayWith(at: number, offsetMinutes: number): number {
    return Math.floor((at + offsetMinutes * 60_000) / DAY_MS);
  }
}

export const dayOf = (dayHour: number): number => Math.floor(dayHour / 24);
export const hourOf = (dayHour: number): number => dayHour - Math.floor(dayHour / 24) * 24;
