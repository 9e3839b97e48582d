/**
 * Expiries that encode decisions follow Herald's clock, not the wall clock: under the simulator a sale from
 * a simulated past must stay readable for as long as it is valid in simulated time.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { acceleratedClock } from '../../shared/clock';
import { createStateStore } from '../../services/state/state-store';

describe('state store expiries', () => {
  const prefix = `t${randomBytes(4).toString('hex')}`;
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.unlink(...keys);
    await redis.quit();
  });

  it('keeps a sale of the simulated past for its validity in clock time, converted to a wall-clock TTL', async () => {
    const simNow = Date.parse('2020-03-01T09:00:00Z');
    const clock = acceleratedClock(simNow, 1000, Date.now());
    const store = createStateStore(redis, prefix, clock);
    await store.fold({
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
    const sales = await store.activeSales(clock.now(), '2020-03-01');
    expect(sales.map((s) => s.saleId)).toEqual(['old-world-sale']);
    // 15 h left plus a day of grace is 39 h; at 1000x that is 140.4 real seconds, less what the test took.
    const ttl = await redis.pttl(store.keys.sale('old-world-sale'));
    expect(ttl).toBeGreaterThan(135_000);
    expect(ttl).toBeLessThanOrEqual(140_400);
  });

  it('delivers the real-time lane first, and retakes a batch whose lease ran out', async () => {
    const store = createStateStore(redis, `${prefix}x`);
    await store.book(
      [
        { userId: 'campaign-1', due: 1000 },
        { userId: 'campaign-2', due: 1000 },
      ],
      'bulk',
    );
    await store.book([{ userId: 'purchaser', due: 5000 }], 'realtime');
    expect(await store.claimDue(6000, 2, 9000)).toEqual(['purchaser', 'campaign-1']);
    // Nobody confirmed them; once the lease (9000) has passed they come back before anything still due.
    expect((await store.claimDue(9500, 2, 20_000)).sort()).toEqual(['campaign-1', 'purchaser']);
    expect(await store.claimDue(9500, 5, 20_000)).toEqual(['campaign-2']);
  });
});
