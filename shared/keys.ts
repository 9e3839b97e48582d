/**
 * Every Redis key of Herald's state, declared in one place with its TTL or bound (DESIGN rule 7).
 * Nothing that grows per user grows forever: per-user keys expire, indexes are bounded by the user count.
 */
const DAY = 86_400_000;

export const TTL = {
  /** A profile not refreshed for a year is dropped. */
  user: 365 * DAY,
  /** An event id is remembered this long to make redelivery harmless. */
  seen: 3 * DAY,
  /** Sale click counts per day. */
  saleClicks: 14 * DAY,
  /** Per-user engagement counters. */
  engagement: 90 * DAY,
} as const;

/** Capped streams and lists: the approximate number of entries kept. */
export const CAP = {
  filterLog: 100_000,
} as const;

export function stateKeys(prefix: string) {
  const k = (s: string) => `${prefix}:${s}`;
  return {
    /** hash: timeZone, locale, optIn, devices (JSON), lat, lon, lastCategory, lastPurchaseAt. TTL.user */
    user: (userId: string) => k(`user:${userId}`),
    /** hash: category -> purchases of the user in it (each purchase counted once). TTL.user */
    userCategories: (userId: string) => k(`cats:${userId}`),
    /** zset (all scores 0, lexicographic): every known user id, paged by audience. Bounded by the users. */
    users: k('users'),
    /** hash: name, category, lat, lon, discount. Bounded by the catalog. */
    store: (storeId: string) => k(`store:${storeId}`),
    /** set: store ids of a category. */
    storesByCategory: (category: string) => k(`stores:cat:${category}`),
    /** hash: the sale as JSON fields; expires a day after it ends. */
    sale: (saleId: string) => k(`sale:${saleId}`),
    /** zset: sale id -> validTo (ms). Pruned of ended sales when read. */
    salesActive: k('sales:active'),
    /** zset: sale id -> clicks on that UTC day. TTL.saleClicks */
    saleClicks: (day: string) => k(`sale-clicks:${day}`),
    /** string: set NX when an event is folded. TTL.seen */
    seen: (eventId: string) => k(`seen:${eventId}`),
    /** string (JSON Winner): the user's best candidate of the contact window. TTL = contact window. */
    winner: (userId: string) => k(`winner:${userId}`),
    /** hash: push (JSON), state (reserved | sent). At most one per user per contact window. TTL = window. */
    ledger: (userId: string) => k(`ledger:${userId}`),
    /** zset: user id -> due time (ms), campaign lane. Members leave it when delivered. Bounded by the users. */
    due: k('send:due'),
    /** zset: the same for the real-time lane, which delivery drains first. */
    dueRealtime: k('send:due:rt'),
    /** zset: user id -> lease expiry (ms) while a send-time process delivers it. */
    inflight: k('send:inflight'),
    /** hash: reason -> users dropped by filter. */
    filterDrops: k('filter:drops'),
    /** stream: one entry per dropped (user, target) with its reason. Capped at CAP.filterLog. */
    filterLog: k('filter:log'),
    /** hash: opened / clicked / ... counters of a user. TTL.engagement */
    engagement: (userId: string) => k(`eng:${userId}`),
    /** hash: `<strategy>:<type>` -> count of feedback events. */
    strategyStats: k('stats:strategy'),
    /** hash: pipeline counters (events in, dead letters, pushes sent per strategy, ...). */
    stats: k('stats'),
  };
}

export type StateKeys = ReturnType<typeof stateKeys>;
