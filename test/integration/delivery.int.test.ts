/**
 * Exactly once at the ledger, shown with the state store and the dispatcher alone on real Redis, and a sink
 * that remembers nothing (as FCM or APNs): what it records is what a provider would have been asked to send.
 */
import { ManualClock } from '../../shared/clock';
import { createLogger } from '../../shared/logger';
import type { PushSent } from '../../shared/schemas/events.schema';
import type { Winner } from '../../shared/schemas/jobs.schema';
import { createDispatcher } from '../../services/delivery/dispatcher';
import { createState } from '../../services/state';
import { createDailySale } from '../../services/strategies/daily-sale/daily-sale.strategy';
import { redisNamespace } from '../helpers/redis-ns';
import { waitFor } from '../helpers/wait';

const T0 = Date.parse('2026-11-22T10:00:00Z');
const HOUR = 3_600_000;

function setup(windows = { contactWindowMs: 20 * HOUR, pushRecordMs: 8 * 24 * HOUR }) {
  const ns = redisNamespace();
  const clock = new ManualClock(T0);
  const state = createState(ns.redis, ns.prefix, clock, windows);
  const calls: PushSent[][] = [];
  const dispatcher = createDispatcher({
    state,
    strategies: new Map([['daily-sale', createDailySale()]]),
    sink: {
      deliver: (pushes) => {
        if (pushes.length) calls.push([...pushes]);
        return Promise.resolve();
      },
    },
    clock,
    batchSize: 100,
    leaseRealMs: 30_000,
    logger: createLogger('test', 'silent'),
  });
  const sent = () => calls.flat();
  return { ns, clock, state, dispatcher, sent };
}

async function reachable(state: ReturnType<typeof createState>, userId: string) {
  await state.users.fold({
    profiles: [
      {
        v: 1,
        eventId: `p-${userId}`,
        userId,
        timeZone: 'Europe/Madrid',
        locale: 'es-ES',
        pushOptIn: true,
        devices: [{ platform: 'android', token: `fcm-token-${userId}` }],
        at: new Date(T0).toISOString(),
      },
    ],
  });
}

const winner = (userId: string, targetId = 'ds-2026-11-22'): Winner => ({
  decisionId: `push-${targetId}-${userId}`,
  strategy: 'daily-sale',
  targetId,
  candidate: { id: 'sale-1', kind: 'sale', category: 'shoes', title: 'Shoes', discount: 20, affinity: 0 },
  score: 0.4,
  at: T0,
});

describe('delivery exactly once, at the ledger', () => {
  let t: ReturnType<typeof setup>;
  afterEach(() => t.ns.drop());

  it('sends once to a user booked in both lanes before one tick (the double send found from outside)', async () => {
    t = setup();
    await reachable(t.state, 'u1');
    await t.state.decisions.offerWinners([{ userId: 'u1', winner: winner('u1') }]);
    await t.state.delivery.book([{ userId: 'u1', due: T0 }], 'realtime');
    await t.state.delivery.book([{ userId: 'u1', due: T0 }], 'bulk');

    expect((await t.dispatcher.tick()).sent).toBe(1);
    // The bulk entry waited for the real-time delivery to be confirmed; now it finds the push sent.
    expect((await t.dispatcher.tick()).sent).toBe(0);
    expect(t.sent().map((p) => p.pushId)).toEqual(['push-ds-2026-11-22-u1']);
    expect(await t.state.delivery.backlog(T0)).toEqual({ due: 0, inflight: 0, outbox: 1 });
  });

  it('never sends a push id again after its contact window closed (a replay days later)', async () => {
    t = setup({ contactWindowMs: 300, pushRecordMs: 8 * 24 * HOUR });
    await reachable(t.state, 'u1');
    await t.state.decisions.offerWinners([{ userId: 'u1', winner: winner('u1') }]);
    await t.state.delivery.book([{ userId: 'u1', due: T0 }]);
    expect((await t.dispatcher.tick()).sent).toBe(1);

    await waitFor(
      async () => (await t.state.delivery.contacted(['u1'])).size === 0,
      'the window to close',
      5000,
      20,
    );
    // A replayed job re-decides the same push: same trigger, same user, same push id.
    await t.state.decisions.offerWinners([{ userId: 'u1', winner: winner('u1') }]);
    await t.state.delivery.book([{ userId: 'u1', due: T0 }]);
    expect((await t.dispatcher.tick()).sent).toBe(0);
    // The next day's campaign is another push, in a new window.
    await t.state.decisions.offerWinners([{ userId: 'u1', winner: winner('u1', 'ds-2026-11-23') }]);
    await t.state.delivery.book([{ userId: 'u1', due: T0 }]);
    expect((await t.dispatcher.tick()).sent).toBe(1);
    expect(t.sent().map((p) => p.targetId)).toEqual(['ds-2026-11-22', 'ds-2026-11-23']);
  });

  it('resends, as it was, a push a dead delivery reserved, once its lease ran out; never while it runs', async () => {
    t = setup();
    await reachable(t.state, 'u1');
    await t.state.decisions.offerWinners([{ userId: 'u1', winner: winner('u1') }]);
    await t.state.delivery.book([{ userId: 'u1', due: T0 }]);
    // Another process claims and reserves, then dies before sending.
    const lease = T0 + 30_000;
    expect(await t.state.delivery.claimDue(T0, 10, lease)).toEqual(['u1']);
    const reserved = { ...winner('u1'), title: 'as reserved' };
    expect(
      await t.state.delivery.reserveContacts(
        [
          {
            userId: 'u1',
            pushId: reserved.decisionId,
            json: JSON.stringify({
              v: 1,
              pushId: reserved.decisionId,
              userId: 'u1',
              strategy: 'daily-sale',
              targetId: reserved.targetId,
              candidate: { id: 'sale-1', kind: 'sale', category: 'shoes' },
              title: 'as reserved',
              body: 'b',
              deepLink: 'x://s',
              devices: [{ platform: 'android', token: 'fcm-token-u1' }],
              score: 0.4,
              sentAt: new Date(T0).toISOString(),
            }),
          },
        ],
        T0,
        lease,
      ),
    ).toEqual([{ state: 'new' }]);
    // While its lease runs, nobody else touches it, even when the user is booked again.
    await t.state.delivery.book([{ userId: 'u1', due: T0 }], 'realtime');
    expect((await t.dispatcher.tick()).sent).toBe(0);

    t.clock.set(lease + 1);
    expect((await t.dispatcher.tick()).sent).toBe(1);
    expect(t.sent().map((p) => p.title)).toEqual(['as reserved']);
    expect((await t.dispatcher.tick()).sent).toBe(0);
    expect(t.sent()).toHaveLength(1);
  });
});
