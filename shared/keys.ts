/**
 * Every Redis key of Herald's state, declared in one place with its fields and its TTL or bound (DESIGN
 * rule 7). Nothing that grows per user grows forever: per-user keys expire, indexes are pruned of what
 * expired, streams are capped or drained. The store modules under services/state own the writes.
 *
 * Keys that one Lua script touches together share a hash tag (`{...}`), so Redis Cluster keeps them in one
 * slot: a user's ledger and sent record (`{u:<id>}`), the catalog (`{catalog}`) and the model registry
 * (`{model}`).
 */
const DAY = 86_400_000;

export const TTL = {
  /** A profile not refreshed for a year is dropped (and leaves the users index at the next fan-out). */
  user: 365 * DAY,
  /** An event id is remembered this long to make redelivery harmless. */
  seen: 3 * DAY,
  /** Sale click counts per day. */
  saleClicks: 14 * DAY,
  /** Per-user engagement counters. */
  engagement: 90 * DAY,
  /** A store not refreshed by a `stores` event for this long leaves the catalog. */
  store: 30 * DAY,
  /** A user's engagement-hour counters, refreshed by each event of theirs. */
  hours: 120 * DAY,
  /** A user's frequent places, refreshed by each location ping of theirs. */
  places: 90 * DAY,

  /** The feature vector a user's candidate was scored with, until its push goes out. */
  decisionFeatures: 2 * DAY,
  /** How long a campaign tick is remembered as fired, so replicas and restarts fire it once. */
  scheduleTick: 7 * DAY,
  /** Re-drive markers: longer than the dead-letter topic keeps its letters (Kafka's default 7 days). */
  redriven: 30 * DAY,

  /** A product not refreshed by a `products` event for this long leaves the catalog. */
  product: 30 * DAY,
  /** A user's recent line items (product recommendations), refreshed by each purchase of theirs. */
  userProducts: 365 * DAY,
  /** A version of the trained recommendations outlives its replacement by at most this long. */
  recsVersion: 14 * DAY,
} as const;

/** Shards of the market-basket miner's counts: users are spread over them by a hash of their id. */
export const BASKET_SHARDS = 16;

/** Capped streams: the approximate number of entries kept. */
export const CAP = {
  filterLog: 100_000,
  /** A user's decision trace: the newest entries kept. */
  trace: 64,

  /** Model versions kept in the registry (the promoted one and its rollback history are never dropped). */
  modelVersions: 20,
  /** Promotions remembered for rollback. */
  modelHistory: 20,

  /** A user's most recent line items kept for re-ranking (repurchase cycles, their average item price). */
  userProducts: 100,
  /** Products kept per category in the live popularity used for cold start. */
  popularProducts: 500,
  /** Versions of the trained recommendations kept (the current one and its predecessors, for rollback). */
  recsVersions: 3,
} as const;

/** Shards of a version's per-user recommendations: users are spread over them by a hash of their id. */
export const RECS_SHARDS = 16;

export function stateKeys(prefix: string) {
  const k = (s: string) => `${prefix}:${s}`;
  return {
    // ---- users (services/state/users.store.ts)
    /**
     * hash: timeZone, locale, optIn ('1' | '0'), devices (JSON Device[]), homeLat, homeLon, lat, lon (last
     * seen, the home until then), lastCategory, lastPurchaseAt (ms), lastBrowsed, lastBrowseAction. TTL.user
     */
    user: (userId: string) => k(`user:${userId}`),
    /** hash: category -> purchases of the user in it (each purchase counted once). TTL.user */
    userCategories: (userId: string) => k(`cats:${userId}`),
    /**
     * zset (all scores 0, lexicographic): every user with a profile, paged by audience. A user whose profile
     * expired is removed when a fan-out meets them, so it is bounded by the live users plus those expired
     * since the last fan-out.
     */
    users: k('users'),

    // ---- catalog (services/state/catalog.store.ts)
    /** hash: name, category, lat, lon, discount. TTL.store, refreshed by each `stores` event. */
    store: (storeId: string) => k(`{catalog}:store:${storeId}`),
    /**
     * set: store ids of a category. A store that changes category leaves its old set; ids whose store
     * expired are removed when read. TTL.store, refreshed by each write.
     */
    storesByCategory: (category: string) => k(`{catalog}:stores:cat:${category}`),
    /**
     * geo (zset): store id -> location, for stores near a point. Ids whose store expired are removed when
     * read. TTL.store, refreshed by each write.
     */
    storesGeo: k('{catalog}:stores:geo'),
    /** hash: title, category, discount, validFrom (ms), validTo (ms), deepLink. Expires a day after its end. */
    sale: (saleId: string) => k(`sale:${saleId}`),
    /** zset: sale id -> validTo (ms). Pruned of ended sales when read. */
    salesActive: k('sales:active'),

    // ---- decisions (services/state/decisions.store.ts)
    /**
     * string (JSON Winner): the user's chosen candidate of the contact window. Shares the user's hash tag with
     * their offers, so one script checks both. TTL = contact window.
     */
    winner: (userId: string) => k(`winner:{u:${userId}}`),

    // ---- conciliation (services/state/conciliation.store.ts)
    /**
     * hash: strategy -> JSON Winner (the strategy's best candidate offered for the user this window), `_v`
     * (bumped by each offer, so a decision is written only over the offers it saw) and `_w` (the decision id
     * of the winner written last). TTL = contact window.
     */
    offers: (userId: string) => k(`offers:{u:${userId}}`),
    /**
     * zset: `<strategy>|<push id>` -> clock ms it was sent: the caps' and the recovering penalty's history.
     * Trimmed to the push-record retention at each write; expires after it. Bounded by the user's pushes.
     */
    contacts: (userId: string) => k(`contacts:{u:${userId}}`),
    /**
     * hash: `<strategy>|<context>|<delivered|opened|clicked>` -> feedback count (the bandit's posteriors), and
     * `<strategy>|scoreSum` / `<strategy>|scoreN` (its candidates' mean score). Bounded by strategies x contexts.
     */
    bandit: k('conc:bandit'),
    /**
     * hash: `<scope>|<group>|<type>` -> feedback events of users of that holdout group, and `...|sq` -> the sum
     * of squares of those per-user counts (for the lift's confidence interval). Scope `all` (the global
     * control) or a strategy; group `treated` or `holdout`. Bounded by scopes x groups x types.
     */
    lift: k('conc:lift'),
    /** HyperLogLog: the users conciliation saw in a holdout scope and group. Bounded (12 KB each). */
    liftUsers: (scope: string, group: string) => k(`conc:lift:users:${scope}|${group}`),

    /**
     * string (JSON { schema, values }): the feature vector the user's candidate was scored with (score
     * stage's feature log), read when its push goes out. One key per (user, candidate): one SET to write, one
     * MGET per delivery batch to read. TTL.decisionFeatures.
     */
    decisionFeatures: (userId: string, candidateId: string) => k(`feat:${userId}:${candidateId}`),

    // ---- delivery (services/state/delivery.store.ts)
    /**
     * hash: push (JSON PushSent), pushId, state ('reserved' | 'sent'), until (clock ms: the lease of the
     * delivery that reserved it). At most one push per user per contact window. TTL = contact window.
     */
    ledger: (userId: string) => k(`ledger:{u:${userId}}`),
    /**
     * zset: push id -> clock ms it was confirmed sent. Outlives the contact window so that no replay, retry
     * or duplicate can send a push id twice; entries older than the push-record retention are trimmed at
     * each write, and the key expires after it. Bounded by the user's pushes in that retention.
     */
    sent: (userId: string) => k(`sent:{u:${userId}}`),
    /** zset: user id -> due time (ms), campaign lane. Members leave it when claimed. Bounded by the users. */
    due: k('send:due'),
    /** zset: the same for the real-time lane, which delivery drains first. */
    dueRealtime: k('send:due:rt'),
    /** zset: user id -> lease expiry (clock ms) while a send-time process delivers it. */
    inflight: k('send:inflight'),
    /**
     * stream: one entry (field `push`, JSON PushSent) per confirmed push, (fields `dead`, `reason`) per
     * push that no device accepted, or (field `decision`, JSON Decision) per logged conciliation decision that
     * sent nothing, waiting to be published on push.sent, the dead letters or push.decisions; the publishers' consumer group deletes each entry once Kafka has it. Bounded by what Kafka
     * has not yet taken.
     */
    outbox: k('send:outbox'),

    // ---- provider rate limits (services/state/ratelimit.store.ts)
    /**
     * hash: tokens (may be negative: takers queued in debt), at (Redis TIME ms of the last take). One token
     * bucket per provider and app (FCM project, APNs topic, VAPID subject, webhook host), shared by every
     * send-time replica. Expires once the bucket would be full again, so an idle one costs nothing.
     */
    rateLimit: (provider: string, app: string) => k(`ratelimit:${provider}:${app}`),

    // ---- telemetry (services/state/telemetry.store.ts)
    /** string: set NX when an event is folded. TTL.seen */
    seen: (eventId: string) => k(`seen:${eventId}`),
    /** zset: sale id -> clicks on that UTC day. TTL.saleClicks */
    saleClicks: (day: string) => k(`sale-clicks:${day}`),
    /** hash: reason -> users dropped by filter or delivery. Bounded by the reasons. */
    filterDrops: k('filter:drops'),
    /** stream: one entry (user, reason, strategy, target) per dropped (user, target). Capped at CAP.filterLog. */
    filterLog: k('filter:log'),
    /**
     * hash: delivered / opened / clicked / converted -> count, for one user; `fl` (fatigue load: delivered
     * pushes minus opened ones, decayed with FATIGUE_HALF_LIFE_DAYS) and `fat` (the clock ms it is as of).
     * TTL.engagement
     */
    engagement: (userId: string) => k(`eng:${userId}`),
    /** hash: `<strategy>:<feedback type>` -> count of feedback events. Bounded by strategies x types. */
    strategyStats: k('stats:strategy'),
    /**
     * hash: pipeline counters: `in:<topic>` (events folded once), `dead` (events dead-lettered),
     * `sent:<strategy>` (pushes confirmed), `dead:push` (pushes no device accepted), `tokens:removed` (device
     * tokens a provider called dead), `ratelimit:wait_ms:<provider>` and `ratelimit:waits:<provider>` (time
     * sends waited on a rate limit, and how many waited). Bounded by topics and strategies.
     */
    stats: k('stats'),

    // ---- timing (services/state/timing.store.ts)
    /**
     * hash: v<h> (decayed events at local hour h, 4 decimals) and t<h> (the minute v<h> is as of), h 0-23,
     * only for hours with evidence. TTL.hours
     */
    hours: (userId: string) => k(`hours:${userId}`),
    /** hash: the same for the users of one time zone (the cohort prior). Bounded by the IANA zones. */
    hoursOfZone: (tz: string) => k(`hours:tz:${tz}`),
    /** hash: the same for everyone (the global prior). */
    hoursOfAll: k('hours:all'),
    /**
     * hash: user id -> the send plan of their booking (JSON: hour, bestHour, propensity, explored), read when
     * the push goes out; removed when the user is delivered. Bounded by the booked users.
     */
    plans: k('send:plans'),

    // ---- trace (services/state/trace.store.ts)
    /**
     * stream: the user's decision trace (field `e`, JSON TraceEntry), one entry per step a stage took for
     * them. Capped at about CAP.trace entries; expires TRACE_DAYS after the last entry.
     */
    trace: (userId: string) => k(`trace:${userId}`),

    // ---- operator actions (services/ops)
    /**
     * hash: dead letter id (`<partition>:<offset>` on the dead-letter topic) -> clock ms it was re-driven,
     * so a letter goes back to its topic once. Expires TTL.redriven after the last re-drive.
     */
    redriven: k('ops:redriven'),

    // ---- market-basket miner (services/state/basket.store.ts)
    /**
     * string (JSON HistoryEntry[]): the user's purchases of the miner's window, at most its maxHistory.
     * Shares its shard's hash tag with the shard's counts, so one script updates both. TTL = window + a day.
     */
    basketRecent: (shard: number, userId: string) => k(`{basket:${shard}}:recent:${userId}`),
    /**
     * hash: the shard's share of the miner's counts: `n|A` episodes, `x|A` episodes followed, `p|A|B` episodes
     * of A followed by B. Bounded by the category pairs seen (at most categories² per shard).
     */
    basketCounts: (shard: number) => k(`{basket:${shard}}:counts`),
    /**
     * hash: version (bumped by each write), builtAt (clock ms), table (JSON MinedTable): the mined follow-up
     * table targeting reads. One key, rewritten whole.
     */
    basketTable: k('{basket}:table'),

    // ---- places (services/state/places.store.ts)
    /** string (JSON Places): the user's frequent-place cells, at most PlacesOptions.maxCells. TTL.places */
    places: (userId: string) => k(`places:${userId}`),
    /**
     * string: the trigger that suggested `id` to the user under `scope` (a strategy's cooldown), set NX. TTL =
     * the cooldown.
     */
    cooldown: (scope: string, userId: string, id: string) => k(`cd:${scope}:${userId}:${id}`),

    // ---- models (services/state/models.store.ts)
    /** hash: onnx (the model's bytes), meta (JSON metadata), registeredAt (ms). Bounded by CAP.modelVersions. */
    model: (version: string) => k(`{model}:v:${version}`),
    /** zset: version -> registered at (ms). Trimmed to CAP.modelVersions at each registration. */
    modelVersions: k('{model}:versions'),
    /** string: the promoted version, which score workers serve. */
    modelPromoted: k('{model}:promoted'),
    /** list: promoted versions, newest first (rollback pops the head). Trimmed to CAP.modelHistory. */
    modelHistory: k('{model}:history'),
    /**
     * hash: version, day, rows, and psi:<feature> of the model in service over the rows it served that day,
     * as the last score worker to report saw them. Bounded by the features.
     */
    modelDrift: k('{model}:drift'),

    // ---- products and their recommendations (services/state/products.store.ts, services/recs)
    /** hash: title, category, price, available ('1' | '0'), discount. TTL.product, refreshed by each event. */
    product: (productId: string) => k(`{products}:p:${productId}`),
    /**
     * list: the user's line items, oldest first, each JSON { p: product id, q: quantity, u: unit price, at: ms }.
     * Trimmed to the newest CAP.userProducts at each purchase. TTL.userProducts.
     */
    userProducts: (userId: string) => k(`up:${userId}`),
    /**
     * zset: product id -> line items bought in the category (live popularity, cold start before the first
     * trained version). Trimmed to the CAP.popularProducts best at each write: bounded by the categories.
     */
    popularProducts: (category: string) => k(`{products}:pop:${category}`),
    /** string: the version of the trained recommendations that strategies read. Switched after a full load. */
    recsCurrent: k('recs:current'),
    /** zset: version -> loaded at (ms). Trimmed to CAP.recsVersions; a trimmed version's keys are deleted. */
    recsVersions: k('recs:versions'),
    /**
     * hash: user id -> JSON RecsRow (the user's blended candidates with their ALS, item-CF and popularity
     * parts), one of RECS_SHARDS per version. No TTL while current; TTL.recsVersion from its load until it is
     * switched to and from its replacement on; deleted when trimmed beyond CAP.recsVersions.
     */
    recsUsers: (version: string, shard: number) => k(`recs:${version}:u:${shard}`),
    /**
     * hash: product id -> JSON ItemRow (its item-CF neighbours and repurchase cycle), per version. Same bound.
     */
    recsItems: (version: string) => k(`recs:${version}:items`),
    /** hash: category ('*' for all) -> JSON [product id, buyers][] most bought, per version. Same bound. */
    recsPopular: (version: string) => k(`recs:${version}:popular`),

    // ---- schedule (services/campaigns)
    /** string: set NX when a campaign's tick fires. TTL.scheduleTick */
    scheduleFired: (campaign: string, tickMs: number) => k(`sched:${campaign}:${tickMs}`),
  };
}

export type StateKeys = ReturnType<typeof stateKeys>;

/** Bounds of the operator API's keys (services/ops). */
export const OPS_CAP = {
  /** Tokens that may exist at once; creating one more is refused. */
  tokens: 1000,
  /** Audit records kept (approximate, XADD MAXLEN ~): years of operator calls at any sane rate. */
  audit: 1_000_000,
  /** Samples of Herald's counters kept for the dashboard's charts: a week at one a minute. */
  series: 10_080,
} as const;

/** The operator API's keys (services/ops): tokens, the audit log and the rate-limit windows. */
export function opsKeys(prefix: string) {
  const k = (s: string) => `${prefix}:ops:${s}`;
  return {
    /**
     * hash: token id -> JSON { id, name, role, createdAt, createdBy, hash } (hash = sha256 hex of the secret;
     * the secret itself is never stored). Bounded by OPS_CAP.tokens.
     */
    tokens: k('tokens'),
    /** hash: sha256 hex of a token's secret -> token id, for the lookup at each call. Same bound. */
    tokenHashes: k('token-hashes'),
    /**
     * stream: one entry (field `r`, JSON AuditRecord without id) per state-changing call. Append-only: nothing
     * edits or deletes an entry; XADD trims it to about OPS_CAP.audit entries.
     */
    audit: k('audit'),
    /**
     * string: calls of one token in one fixed rate-limit window (INCR). Expires a window after the window's
     * end, so at most one or two live per token.
     */
    rate: (tokenId: string, window: number) => k(`rate:${tokenId}:${window}`),
    /**
     * stream: one entry (field `s`, JSON: clock ms and the counters of pushes, feedback and drops) per sample
     * the ops process takes for the dashboard's charts. XADD trims it to about OPS_CAP.series entries.
     */
    series: k('series'),
  };
}
