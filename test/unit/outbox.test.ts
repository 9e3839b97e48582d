/**
 * The outbox publisher routes each entry to its topic, and a malformed decision record (the log of a choice)
 * never holds up the pushes behind it: it is reported and left behind.
 */
import { createOutboxPublisher } from '../../services/delivery/outbox';
import type { OutboxEntry } from '../../services/state';
import type { Decision, PushSent } from '../../shared/schemas/events.schema';

const push: PushSent = {
  v: 1,
  pushId: 'push-1',
  userId: 'u1',
  strategy: 'daily-sale',
  targetId: 't1',
  candidate: { id: 's1', kind: 'sale', category: 'shoes' },
  title: 'Sale',
  body: 'Shoes',
  deepLink: 'herald://sale/s1',
  devices: [{ platform: 'android', token: 'fcm-token-u1' }],
  score: 1,
  sentAt: '2026-11-23T10:00:00.000Z',
};

const decision: Decision = {
  v: 1,
  decisionId: 'decision-1',
  userId: 'u2',
  at: '2026-11-23T10:00:00.000Z',
  input: {
    context: 'new',
    user: { delivered: 0, opened: 0, clicked: 0, fatigue: 0 },
    global: { delivered: 0, opened: 0 },
    arms: [
      {
        strategy: 'daily-sale',
        pushId: 'push-2',
        candidateId: 's1',
        score: 1,
        delivered: 0,
        opened: 0,
        clicked: 0,
        meanScore: 1,
        sinceHours: null,
      },
    ],
  },
  probs: [0.2, 0.8],
  chosen: -1,
  outcome: 'suppressed',
  reason: 'below_value',
  weight: 1,
  policy: 'minValue=0.01',
};

describe('the outbox publisher', () => {
  it('publishes pushes and decisions to their topics, and skips a malformed decision with an error', async () => {
    const entries: OutboxEntry[] = [
      { id: '1-0', json: JSON.stringify({ ...decision, outcome: 'maybe' }), decision: true },
      { id: '2-0', json: JSON.stringify(push) },
      { id: '3-0', json: JSON.stringify(decision), decision: true },
    ];
    const published: PushSent[] = [];
    const logged: Decision[] = [];
    const acked: string[] = [];
    const errors: unknown[] = [];
    const logger = { error: (o: unknown) => errors.push(o), info: () => undefined } as never;
    const outbox = createOutboxPublisher({
      delivery: {
        readOutbox: () => Promise.resolve(entries),
        ackOutbox: (ids: readonly string[]) => Promise.resolve(void acked.push(...ids)),
        forgetIdlePublishers: () => Promise.resolve(0),
      },
      publish: (p) => Promise.resolve(void published.push(...p)),
      publishDecisions: (d) => Promise.resolve(void logged.push(...d)),
      batchSize: 10,
      logger,
    });
    expect(await outbox.round()).toBe(3);
    expect(published.map((p) => p.pushId)).toEqual(['push-1']);
    expect(logged.map((d) => d.decisionId)).toEqual(['decision-1']);
    expect(acked).toEqual(['1-0', '2-0', '3-0']);
    expect(JSON.stringify(errors)).toContain('outcome');
  });
});
