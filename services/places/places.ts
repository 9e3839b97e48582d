/**
 * Frequent places from location pings. Pings are clustered by geohash cell (precision 7, about 150 m); each
 * cell keeps a decayed weight, the weighted centre of its pings and a decayed weight per local hour, so it
 * knows when the user is there. A user keeps at most `maxCells` cells (the lightest go), so a place is a few
 * dozen bytes in Redis whatever the number of pings. Cells whose centres are within 250 m are one place
 * (a place that straddles a cell boundary). A place is frequent once its decayed weight
 * reaches `minWeight`: one ping is nobody's place. The heaviest place at night is `home`, the heaviest
 * other one during working hours `work`. The profile's home is only the prior used before any of this.
 *
 * Pure: state in, state out; the store (services/state/places.store.ts) keeps it per user.
 */
import { DateTime } from 'luxon';
import { distanceKm } from '../../shared/geo';
import type { GeoPoint } from '../../shared/schemas/common';

export interface Cell {
  /** Weighted centre. */
  lat: number;
  lon: number;
  /** Decayed weight as of `t`. */
  w: number;
  /** Clock ms the weights are as of. */
  t: number;
  /** Decayed weight per local hour 0..23, as of `t` (rounded to 3 decimals). */
  h: number[];
}

/** A user's cells, by geohash. */
export type Places = Record<string, Cell>;

export interface PlacesOptions {
  /** Days after which a ping counts half. Default 21. */
  halfLifeDays: number;
  /** Cells kept per user. Default 6. */
  maxCells: number;
  /** Decayed pings a cell needs to be a frequent place. Default 3. */
  minWeight: number;
}

export const DEFAULT_PLACES: PlacesOptions = { halfLifeDays: 21, maxCells: 6, minWeight: 3 };

const BASE32 = '0123456789bcdefghjkmnpqrstuvwxyz';

/** The geohash of a point. */
export function geohash(p: GeoPoint, precision = 7): string {
  let latLo = -90;
  let latHi = 90;
  let lonLo = -180;
  let lonHi = 180;
  let out = '';
  let bit = 0;
  let ch = 0;
  let even = true;
  while (out.length < precision) {
    if (even) {
      const mid = (lonLo + lonHi) / 2;
      if (p.lon >= mid) {
        ch = (ch << 1) | 1;
        lonLo = mid;
      } else {
        ch <<= 1;
        lonHi = mid;
      }
    } else {
      const mid = (latLo + latHi) / 2;
      if (p.lat >= mid) {
        ch = (ch << 1) | 1;
        latLo = mid;
      } else {
        ch <<= 1;
        latHi = mid;
      }
    }
    even = !even;
    if (++bit === 5) {
      out += BASE32[ch];
      bit = 0;
      ch = 0;
    }
  }
  return out;
}

const decayFactor = (fromMs: number, toMs: number, halfLifeDays: number) =>
  toMs <= fromMs ? 1 : Math.pow(2, -(toMs - fromMs) / (halfLifeDays * 86_400_000));

const round3 = (x: number) => Math.round(x * 1000) / 1000;

export interface Ping {
  lat: number;
  lon: number;
  /** Clock ms. */
  at: number;
  /** The user's local hour at `at`, 0..23. */
  localHour: number;
}

/** Folds a ping into a user's places (not modified). A ping older than a cell's weights counts decayed. */
export function foldPing(places: Places, ping: Ping, opts: PlacesOptions = DEFAULT_PLACES): Places {
  const key = geohash(ping);
  const out: Places = { ...places };
  const old = out[key];
  if (old) {
    const now = Math.max(old.t, ping.at);
    const keep = decayFactor(old.t, now, opts.halfLifeDays);
    const add = decayFactor(ping.at, now, opts.halfLifeDays);
    const w = old.w * keep + add;
    out[key] = {
      lat: (old.lat * old.w * keep + ping.lat * add) / w,
      lon: (old.lon * old.w * keep + ping.lon * add) / w,
      w: round3(w),
      t: now,
      h: old.h.map((x, i) => round3(x * keep + (i === ping.localHour ? add : 0))),
    };
  } else {
    const h = new Array<number>(24).fill(0);
    h[ping.localHour] = 1;
    out[key] = { lat: ping.lat, lon: ping.lon, w: 1, t: ping.at, h };
  }
  const keys = Object.keys(out);
  if (keys.length > opts.maxCells) {
    const now = Math.max(ping.at, ...keys.map((k) => out[k]!.t));
    const weight = (k: string) => out[k]!.w * decayFactor(out[k]!.t, now, opts.halfLifeDays);
    // The lightest cell goes, never the one just pinged.
    const lightest = keys.filter((k) => k !== key).sort((a, b) => weight(a) - weight(b))[0]!;
    delete out[lightest];
  }
  return out;
}

export type PlaceKind = 'home' | 'work' | 'other';

export interface FrequentPlace extends GeoPoint {
  kind: PlaceKind;
  /** Decayed pings at `now`. */
  weight: number;
  /** Share of the place's pings at each local hour. */
  hours: number[];
}

/** Cells whose centres are this close are one place. */
const MERGE_KM = 0.25;

const NIGHT = [21, 22, 23, 0, 1, 2, 3, 4, 5, 6];
const WORK = [9, 10, 11, 12, 13, 14, 15, 16, 17];

/** The user's frequent places at `now`, heaviest first; empty until a cell has `minWeight`. */
export function frequentPlaces(
  places: Places,
  now: number,
  opts: PlacesOptions = DEFAULT_PLACES,
): FrequentPlace[] {
  // Cells by decayed weight; a cell within MERGE_KM of a heavier one joins it (a place that straddles a
  // cell boundary is one place).
  const cells = Object.values(places)
    .map((c) => {
      const f = decayFactor(c.t, now, opts.halfLifeDays);
      return { lat: c.lat, lon: c.lon, weight: c.w * f, h: c.h.map((x) => x * f) };
    })
    .sort((a, b) => b.weight - a.weight);
  const merged: typeof cells = [];
  for (const c of cells) {
    const into = merged.find((m) => distanceKm(m, c) <= MERGE_KM);
    if (!into) {
      merged.push({ ...c, h: [...c.h] });
      continue;
    }
    const w = into.weight + c.weight;
    into.lat = (into.lat * into.weight + c.lat * c.weight) / w;
    into.lon = (into.lon * into.weight + c.lon * c.weight) / w;
    into.weight = w;
    c.h.forEach((x, i) => (into.h[i]! += x));
  }
  const list = merged
    .filter((c) => c.weight >= opts.minWeight)
    .map((c): FrequentPlace => {
      const total = c.h.reduce((s, x) => s + x, 0) || 1;
      return { lat: c.lat, lon: c.lon, weight: c.weight, hours: c.h.map((x) => x / total), kind: 'other' };
    })
    .sort((a, b) => b.weight - a.weight);
  const at = (p: (typeof list)[number], hours: number[]) =>
    p.weight * hours.reduce((s, h) => s + p.hours[h]!, 0);
  const home = [...list].sort((a, b) => at(b, NIGHT) - at(a, NIGHT))[0];
  if (home && at(home, NIGHT) > 0) home.kind = 'home';
  const work = list.filter((p) => p !== home).sort((a, b) => at(b, WORK) - at(a, WORK))[0];
  if (work && at(work, WORK) > 0) work.kind = 'work';
  return list;
}

/**
 * Where the user most likely is at a local hour: the place with the most pings in that hour and its
 * neighbours; without any, the heaviest place; undefined without places.
 */
export function placeAt(places: readonly FrequentPlace[], localHour: number): FrequentPlace | undefined {
  let best: FrequentPlace | undefined;
  let bestW = 0;
  for (const p of places) {
    const h = (d: number) => p.hours[(localHour + d + 24) % 24]!;
    const w = p.weight * (h(-1) + 2 * h(0) + h(1));
    if (w > bestW) {
      best = p;
      bestW = w;
    }
  }
  return best ?? places[0];
}

/**
 * Where to measure a candidate's distance from for a user at instant `at`: their frequent place at that
 * local hour when they have places, else where they were last seen (the profile's home until then).
 */
export function locationAt(
  user: { timeZone: string; location?: GeoPoint; places?: readonly FrequentPlace[] },
  at: number,
): GeoPoint | undefined {
  if (!user.places || user.places.length === 0) return user.location;
  const hour = DateTime.fromMillis(at, { zone: user.timeZone }).hour;
  const p = placeAt(user.places, Number.isFinite(hour) ? hour : 12);
  return p ? { lat: p.lat, lon: p.lon } : user.location;
}
