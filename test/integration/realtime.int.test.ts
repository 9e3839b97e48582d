/**
 * The real-time path on real Kafka and Redis, every stage its own process: purchase -> market-basket push.
 */
import { readFileSync } from 'node:fs';
import type { DeadLetter, PushSent } from '../../shared/schemas/events.schema';
import { topicName } from '../../shared/topics';
import type { TestEnv } from '../helpers/env';
import { profile, purchase, store } from '../helpers/fixtures';
import { collect, produce, type Collected } from '../helpers/kafka';
import { readSink, type PipelineProbe } from '../helpers/pipeline';
import { startPipeline, type RunningPipeline } from '../helpers/running-pipeline';
import { waitFor } from '../helpers/wait';
import type { Workers } from '../helpers/workers';

const affinity = JSON.parse(readFileSync('infra/data/affinity.json', 'utf8')) as {
  follows: Record<string, Array<{ category: string }>>;
};
const followers = (c: string) => affinity.follows[c]!.map((f) => f.category);

describe('real time: a purchase becomes one market-basket push', () => {
  let pipeline: RunningPipeline;
  let env: TestEnv;
  let workers: Workers;
  let probe: PipelineProbe;
  let sent: Collected<PushSent>;
  let dead: Collected<DeadLetter>;
  const pushesOf = (userId: string) => readSink(env.sinkFile).filter((p) => p.userId === userId);

  beforeAll(async () => {
    pipeline = await startPipeline({}, async (e) => {
      await produce(e.config, 'stores', [
        store('wine-1', 'wine', { discount: 20 }),
        store('bakery-1', 'bakery'),
        store('pharmacy-1', 'pharmacy'),
        store('shoes-1', 'shoes', { discount: 50 }),
      ]);
      await produce(e.config, 'profiles', [
        profile('alice'),
        profile('bob'),
        profile('carol'),
        profile('dave', { pushOptIn: false }),
        profile('erin', { devices: [] }),
        profile('frank'),
        profile('grace'),
      ]);
    });
    ({ env, workers, probe, sent } = pipeline);
    dead = await collect<DeadLetter>(env.config, 'deadLetters');
  });

  afterAll(async () => {
    await dead?.stop();
    await pipeline?.stop();
  });

  afterEach(() => {
    const failed = expect.getState().assertionCalls !== expect.getState().numPassingAsserts;
    if (failed) process.stderr.write(workers.logs());
  });

  it('sends exactly one push, in the sink and on push.sent, about a store of a category that follows', async () => {
    await produce(env.config, 'purchases', [purchase('alice', 'groceries')]);
    const [push] = await waitFor(() => (pushesOf('alice').length ? pushesOf('alice') : null), 'alice’s push');
    await probe.settle();
    expect(pushesOf('alice')).toHaveLength(1);
    expect(push!.strategy).toBe('market-basket');
    expect(push!.candidate.kind).toBe('store');
    expect(followers('groceries')).toContain(push!.candidate.category);
    // The best by the heuristic: wine follows groceries most (0.42) and has the larger discount.
    expect(push!.candidate.id).toBe('wine-1');
    expect(push!.devices).toEqual([{ platform: 'android', token: 'fcm-token-alice' }]);
    const onKafka = await waitFor(
      () => sent.messages.filter((m) => m.value.userId === 'alice'),
      'push.sent for alice',
    );
    expect(onKafka).toHaveLength(1);
    expect(onKafka[0]!.value.pushId).toBe(push!.pushId);
  });

  it('sends one push when the same purchase arrives twice', async () => {
    const p = purchase('bob', 'fashion');
    await produce(env.config, 'purchases', [p]);
    await produce(env.config, 'purchases', [p]);
    await waitFor(() => pushesOf('bob').length > 0, 'bob’s push');
    await probe.settle();
    expect(pushesOf('bob')).toHaveLength(1);
    expect(sent.messages.filter((m) => m.value.userId === 'bob')).toHaveLength(1);
  });

  it('sends one push for two purchases by one user within the contact window', async () => {
    await produce(env.config, 'purchases', [purchase('carol', 'groceries')]);
    await waitFor(() => pushesOf('carol').length > 0, 'carol’s first push');
    await produce(env.config, 'purchases', [purchase('carol', 'sports', { eventId: 'carol-second' })]);
    await probe.settle();
    expect(pushesOf('carol')).toHaveLength(1);
    const drops = await probe.drops();
    expect(drops).toContainEqual(
      expect.objectContaining({ user: 'carol', reason: 'cooldown', strategy: 'market-basket' }),
    );
  });

  it('sends nothing to an opted-out user or one without a device, and records why', async () => {
    await produce(env.config, 'purchases', [purchase('dave', 'groceries'), purchase('erin', 'groceries')]);
    await waitFor(
      async () => (await probe.drops()).filter((d) => d.user === 'dave' || d.user === 'erin').length === 2,
      'two drops',
    );
    await probe.settle();
    expect(pushesOf('dave')).toHaveLength(0);
    expect(pushesOf('erin')).toHaveLength(0);
    const drops = await probe.drops();
    expect(drops).toContainEqual(
      expect.objectContaining({ user: 'dave', reason: 'opted_out', strategy: 'market-basket' }),
    );
    expect(drops).toContainEqual(
      expect.objectContaining({ user: 'erin', reason: 'no_device', strategy: 'market-basket' }),
    );
  });

  it('dead-letters a malformed event with its reason and bytes, and the next good event still flows', async () => {
    const bad = '{"v":1,"eventId":"broken","userId":"frank","amount":';
    const negative = purchase('frank', 'groceries', { eventId: 'negative', amount: -5 });
    await produce(env.config, 'purchases', [bad, negative, purchase('grace', 'groceries')]);
    const letters = await waitFor(
      () => (dead.messages.length >= 2 ? dead.messages : null),
      'two dead letters',
    );
    await waitFor(() => pushesOf('grace').length > 0, 'grace’s push after the bad events');
    await probe.settle();
    expect(letters).toHaveLength(2);
    const byReason = letters.map((l) => l.value).sort((a, b) => a.reason.localeCompare(b.reason));
    expect(byReason[0]!.reason).toMatch(/^amount: /);
    expect(byReason[1]!.reason).toMatch(/^invalid JSON/);
    for (const l of byReason) {
      expect(l.source.topic).toBe(topicName(env.config.KAFKA_TOPIC_PREFIX, 'purchases'));
      expect(l.source.offset).toMatch(/^\d+$/);
      expect(l.worker).toBe('ingest');
    }
    expect(Buffer.from(byReason[1]!.value!, 'base64').toString()).toBe(bad);
    expect(pushesOf('frank')).toHaveLength(0);
    expect(pushesOf('grace')).toHaveLength(1);
  });
});
