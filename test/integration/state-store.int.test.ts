/**
 * The state stores on real Redis: expiries that encode decisions follow Herald's clock, the lanes are
 * drained in order, and every key has a bound (an expiry, a pruning rule, or a cap).
 */
import { acceleratedClock, ManualClock } from '../../shared/clock';
import { stateKeys } from '../../shared/keys';
import type { Store } from '../../shared/schemas/events.schema';
import { createState } from '../../services/state';
import { redisNamespace } from '../helpers/redis-ns';

const DAY = 86_400_000;
const T0 = Date.parse('2026-11-22T10:00:00Z');

describe('state store', () => {
  const ns = redisNamespace();
  const keys = stateKeys(ns.prefix);
  afterAll(() => ns.drop());

  it('keeps a sale of the simulated past for its validity in clock time, converted to a wall-clock TTL', async () => {
    const simNow = Date.parse('2020-03-01T09:00:00Z');
    const clock = acceleratedClock(simNow, 1000, Date.now());
    const state = createState(ns.redis, ns.prefix, clock);
    await state.catalog.fold({
      sales: [
        {
          v: 1,
          eventId: 'e',
          saleId: 'old-world-sale',
          title: 'Shoes',
          category: 'shoes',
          discount: 20,
          validFrom: '2020-03-01T00:00:00Z',
          validTo: '2020-03-02T00:00:00Z',
          deepLink: 'https://x/s',
          at: '2020-03-01T00:00:00Z',
        },
      ],
    });
    const sales = await state.catalog.activeSales(clock.now(), '2020-03-01');
    expect(sales.map((s) => s.saleId)).toEqual(['old-world-sale']);
    // 15 h left plus a day of grace is 39 h; at 1000x that is 140.4 real seconds, less what the test took.
    const ttl = await ns.redis.pttl(keys.sale('old-world-sale'));
    expect(ttl).toBeGreaterThan(135_000);
    expect(ttl).toBeLessThanOrEqual(140_400);
  });

  it('delivers the real-time lane first, and retakes a batch whose lease ran out', async () => {
    const { delivery } = createState(ns.redis, ns.prefix);
    await delivery.book(
      [
        { userId: 'campaign-1', due: 1000 },
        { userId: 'campaign-2', due: 1000 },
      ],
      'bulk',
    );
    await delivery.book([{ userId: 'purchaser', due: 5000 }], 'realtime');
    expect(await delivery.claimDue(6000, 2, 9000)).toEqual(['purchaser', 'campaign-1']);
    // Nobody confirmed them; once the lease (9000) has passed they come back before anything still due.
    expect((await delivery.claimDue(9500, 2, 20_000)).sort()).toEqual(['campaign-1', 'purchaser']);
    expect(await delivery.claimDue(9500, 5, 20_000)).toEqual(['campaign-2']);
    await delivery.confirmSent([], ['campaign-1', 'campaign-2', 'purchaser']);
  });

  it('moves a store that changes category, expires stores, and drops expired ids from their category', async () => {
    const { catalog } = createState(ns.redis, ns.prefix);
    const store = (category: string, name = 'Corner'): Store => ({
      v: 1,
      eventId: `s-${category}`,
      storeId: 'moving',
      name,
      category,
      lat: 40.4,
      lon: -3.7,
      discount: 10,
      at: '2026-11-22T10:00:00Z',
    });
    await catalog.fold({ stores: [store('wine')] });
    await catalog.fold({ stores: [store('bakery', 'Oven')] });
    expect((await catalog.storesInCategories(['wine'])).map((s) => s.storeId)).toEqual([]);
    expect(await ns.redis.smembers(keys.storesByCategory('wine'))).toEqual([]);
    expect((await catalog.storesInCategories(['bakery'])).map((s) => s.name)).toEqual(['Oven']);
    const ttl = await ns.redis.pttl(keys.store('moving'));
    expect(ttl).toBeGreaterThan(29 * DAY);
    expect(ttl).toBeLessThanOrEqual(30 * DAY);

    await ns.redis.del(keys.store('moving')); // as when it expires
    expect(await catalog.storesInCategories(['bakery'])).toEqual([]);
    expect(await ns.redis.smembers(keys.storesByCategory('bakery'))).toEqual([]);
  });

  it('forgets users whose profile expired from the fan-out index, and only those', async () => {
    const { users } = createState(ns.redis, ns.prefix);
    const profile = (userId: string) => ({
      v: 1 as const,
      eventId: `p-${userId}`,
      userId,
      timeZone: 'UTC',
      locale: 'en',
      pushOptIn: true,
      devices: [],
      at: '2026-11-22T10:00:00Z',
    });
    await users.fold({ profiles: [profile('alive'), profile('gone')] });
    await ns.redis.del(keys.user('gone')); // as when it expires
    expect(await users.forgetUsers(['alive', 'gone'])).toBe(1);
    expect(await users.pageUsers('', 10)).toEqual(['alive']);
  });

  it('keeps each sent push id for the push-record retention, then trims it, with an expiry on the key', async () => {
    const clock = new ManualClock(T0);
    const { delivery } = createState(ns.redis, ns.prefix, clock, {
      contactWindowMs: 3_600_000,
      pushRecordMs: 8 * DAY,
    });
    const push = (pushId: string) => ({ userId: 'u', pushId, strategy: 's', json: '{}' });
    await delivery.confirmSent([push('day-1')], []);
    clock.advance(9 * DAY);
    await delivery.confirmSent([push('day-10')], []);
    expect(await ns.redis.zrange(keys.sent('u'), 0, -1)).toEqual(['day-10']);
    const ttl = await ns.redis.pttl(keys.sent('u'));
    expect(ttl).toBeGreaterThan(8 * DAY - 60_000);
    expect(ttl).toBeLessThanOrEqual(8 * DAY);
  });

  it('leaves no per-user key without an expiry', async () => {
    const perUser = (await ns.keys()).filter((k) => /:(user|cats|winner|ledger|sent|eng):/.test(k));
    expect(perUser.length).toBeGreaterThan(0);
    const ttls = await Promise.all(perUser.map((k) => ns.redis.pttl(k)));
    expect(perUser.filter((_, i) => ttls[i]! < 0)).toEqual([]);
  });

  it('keeps one live offer per strategy: yesterday’s sent or ended offer never blocks today’s', async () => {
    const clock = new ManualClock(T0);
    const state = createState(ns.redis, ns.prefix, clock);
    const offer = (id: string, score: number, deadline?: number) => ({
      userId: 'offers-u1',
      winner: {
        decisionId: id,
        strategy: 'daily-sale',
        targetId: `t-${id}`,
        candidate: {
          id: `c-${id}`,
          kind: 'sale' as const,
          category: 'shoes',
          title: 'Sale',
          discount: 20,
          affinity: 0.5,
          deepLink: 'herald://sale',
          ...(deadline !== undefined ? { deadline } : {}),
        },
        score,
        at: T0,
      },
    });
    const ids = async (entries: Array<ReturnType<typeof offer>>, now = T0) =>
      (await state.conciliation.offer(entries, now)).get('offers-u1')!.offers.map((o) => o.decisionId);
    expect(await ids([offer('push-a', 1, T0 + DAY)])).toEqual(['push-a']);
    // A weaker offer of the same strategy does not replace a live stronger one.
    expect(await ids([offer('push-b', 0.5, T0 + DAY)])).toEqual(['push-a']);
    // Once push-a went out, the next offer takes its place whatever its score.
    await ns.redis.zadd(keys.sent('offers-u1'), T0, 'push-a');
    expect(await ids([offer('push-c', 0.2, T0 + DAY)])).toEqual(['push-c']);
    // And once push-c's candidate ended, the next one does too.
    expect(await ids([offer('push-d', 0.1, T0 + 3 * DAY)], T0 + 2 * DAY)).toEqual(['push-d']);
  });
});
