import { IANAZone } from 'luxon';
import { z } from 'zod';

/** Ids travel into Redis keys and BullMQ job ids, so they stay short and free of ':' (BullMQ refuses it). */
export const Id = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._\-@]+$/, 'letters, digits and . _ - @ only');

/** An instant as an ISO-8601 string with an offset, e.g. 2026-11-22T09:00:00Z. */
export const Instant = z.iso.datetime({ offset: true });

export const Latitude = z.number().min(-90).max(90);
export const Longitude = z.number().min(-180).max(180);
export const GeoPoint = z.object({ lat: Latitude, lon: Longitude });
export type GeoPoint = z.infer<typeof GeoPoint>;

export const Category = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9_-]+$/, 'lower-case slug');

/** A percentage discount, 0 to 100. */
export const Discount = z.number().min(0).max(100);

/** Zones already found valid. luxon builds an Intl.DateTimeFormat per check (about 0.3 ms); real zones are few. */
const validZones = new Set<string>();

export const TimeZone = z.string().refine((tz) => {
  if (validZones.has(tz)) return true;
  if (!IANAZone.isValidZone(tz)) return false;
  validZones.add(tz);
  return true;
}, 'not an IANA time zone');

export const Platform = z.enum(['ios', 'android', 'web']);
export const Device = z.object({ platform: Platform, token: z.string().min(8).max(4096) });
export type Device = z.infer<typeof Device>;

export const Strategy = Id;
