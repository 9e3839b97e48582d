/** Hand-made events for integration tests. Times are a little in the past of the real clock. */
import { randomBytes } from 'node:crypto';

const iso = (msAgo = 1000) => new Date(Date.now() - msAgo).toISOString();
const uid = () => randomBytes(6).toString('hex');
export const CENTER = { lat: 40.4168, lon: -3.7038 };

export function profile(userId: string, over: Record<string, unknown> = {}) {
  return {
    v: 1,
    eventId: `prof-${userId}-${uid()}`,
    userId,
    timeZone: 'Europe/Madrid',
    locale: 'es-ES',
    pushOptIn: true,
    devices: [{ platform: 'android', token: `fcm-token-${userId}` }],
    home: CENTER,
    at: iso(5000),
    ...over,
  };
}

export function store(storeId: string, category: string, over: Record<string, unknown> = {}) {
  return {
    v: 1,
    eventId: `store-${storeId}`,
    storeId,
    name: `Store ${storeId}`,
    category,
    lat: CENTER.lat + 0.005,
    lon: CENTER.lon,
    discount: 10,
    at: iso(5000),
    ...over,
  };
}

export function purchase(userId: string, category: string, over: Record<string, unknown> = {}) {
  return {
    v: 1,
    eventId: `pur-${uid()}`,
    userId,
    storeId: 'origin-store',
    category,
    amount: 42.5,
    at: iso(),
    location: CENTER,
    ...over,
  };
}

export function sale(saleId: string, category: string, discount: number, over: Record<string, unknown> = {}) {
  return {
    v: 1,
    eventId: `sale-${saleId}`,
    saleId,
    title: `Sale ${saleId}`,
    category,
    discount,
    validFrom: iso(3_600_000),
    validTo: new Date(Date.now() + 2 * 86_400_000).toISOString(),
    deepLink: `https://shop.example/sale/${saleId}`,
    at: iso(5000),
    ...over,
  };
}

/** A feedback event answering a push that was sent (`type`: delivered, opened, clicked, converted). */
export function feedback(
  push: { pushId: string; userId: string; strategy: string; candidate: { id: string } },
  type: string,
) {
  return {
    v: 1,
    eventId: `fb-${push.pushId}-${type}`,
    pushId: push.pushId,
    userId: push.userId,
    strategy: push.strategy,
    candidateId: push.candidate.id,
    type,
    at: iso(),
  };
}
