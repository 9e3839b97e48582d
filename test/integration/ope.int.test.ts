/**
 * `npm run offline -- ope --namespace NS` on real Kafka topics gives the numbers the same log gives from
 * files: the topic reader dedupes and skips what the file reader does, across partitions.
 */
import { seededRandom } from '../../services/ranking/trainer';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_POLICY, choose, policyFingerprint } from '../../services/conciliation/policy';
import { main } from '../../services/offline/offline';
import type { Decision, DecisionInput } from '../../shared/schemas/events.schema';
import type { TopicKey } from '../../shared/topics';
import { createTestEnv, type TestEnv } from '../helpers/env';
import { produce } from '../helpers/kafka';

const at = new Date(Date.now() - 3_600_000).toISOString();

/** A log of `n` decisions between a daily sale and a market-basket store, chosen by the default policy. */
function simulatedLog(n: number) {
  const rnd = seededRandom(11);
  const decisions: Decision[] = [];
  const pushes: object[] = [];
  const feedback: object[] = [];
  for (let i = 0; i < n; i++) {
    const user = { delivered: Math.floor(rnd() * 12), opened: 1, clicked: 0, fatigue: rnd() * 2 };
    const input: DecisionInput = {
      context: user.delivered < 3 ? 'new' : 'known',
      user,
      global: { delivered: 5000, opened: 900 },
      arms: ['daily-sale', 'market-basket'].map((strategy, k) => ({
        strategy,
        pushId: `p${i}-${k}`,
        candidateId: `c${k}`,
        score: 0.05 + 0.3 * rnd(),
        delivered: 100 + 40 * k,
        opened: 20 + 10 * k,
        clicked: 4,
        meanScore: 0.2,
        sinceHours: rnd() < 0.5 ? null : 100 * rnd(),
      })),
    };
    const c = choose(input, DEFAULT_POLICY, rnd());
    const outcome = i % 10 === 0 ? 'holdout' : c.chosen >= 0 ? 'sent' : 'suppressed';
    const d: Decision = {
      v: 1,
      decisionId: `d${i}`,
      userId: `u${i}`,
      at,
      input,
      probs: c.probs,
      chosen: c.chosen,
      outcome,
      weight: outcome === 'suppressed' ? 2 : 1,
      policy: policyFingerprint(DEFAULT_POLICY),
    };
    if (outcome !== 'sent') {
      decisions.push(d);
      continue;
    }
    const arm = input.arms[c.chosen]!;
    pushes.push({
      v: 1,
      pushId: arm.pushId,
      userId: d.userId,
      strategy: arm.strategy,
      targetId: 'target',
      candidate: { id: arm.candidateId, kind: 'sale', category: 'food' },
      title: 't',
      body: 'b',
      deepLink: 'https://example.test/',
      devices: [],
      score: arm.score,
      sentAt: at,
      decision: d,
    });
    for (const type of ['opened', 'clicked'] as const) {
      if (rnd() < (type === 'opened' ? 0.3 : 0.4)) {
        feedback.push({
          v: 1,
          eventId: `e${i}${type}`,
          pushId: arm.pushId,
          userId: d.userId,
          strategy: arm.strategy,
          type,
          at,
        });
      } else break;
    }
  }
  return { decisions, pushes, feedback };
}

describe('offline ope on a namespace', () => {
  let env: TestEnv;
  const brokers = process.env.KAFKA_BROKERS;
  beforeAll(async () => {
    env = await createTestEnv();
    // The command takes its brokers from the environment, as it does when an operator runs it.
    process.env.KAFKA_BROKERS = env.vars.KAFKA_BROKERS;
  });
  afterAll(async () => {
    if (brokers === undefined) delete process.env.KAFKA_BROKERS;
    else process.env.KAFKA_BROKERS = brokers;
    await env?.cleanup();
  });

  const run = async (args: string[]) => {
    let out = '';
    let err = '';
    const code = await main(['ope', ...args], { out: (t) => (out += t), err: (t) => (err += t) });
    if (code !== 0) throw new Error(`ope exited ${code}: ${err}`);
    return JSON.parse(out) as Record<string, unknown>;
  };

  it('reads the three topics and gives the estimates of the same log read from files', async () => {
    const log = simulatedLog(300);
    // At-least-once: some records twice; and one unreadable message per topic.
    const sources: Array<[TopicKey, string, Array<object | string>]> = [
      ['decisions', 'decisions.jsonl', [...log.decisions, ...log.decisions.slice(0, 5), 'not json']],
      ['pushSent', 'pushes.jsonl', [...log.pushes, ...log.pushes.slice(0, 5), '{"v":1}']],
      ['feedback', 'feedback.jsonl', [...log.feedback, ...log.feedback.slice(0, 5), '{"v":2}']],
    ];
    for (const [topic, file, events] of sources) {
      await produce(env.config, topic, events);
      writeFileSync(
        join(env.dir, file),
        events.map((e) => (typeof e === 'string' ? e : JSON.stringify(e))).join('\n'),
      );
    }
    const namespace = env.config.KAFKA_TOPIC_PREFIX.replace(/\.$/, '');
    const fromKafka = await run([
      '--config',
      'explore=0.3,minValue=0.02',
      '--namespace',
      namespace,
      '--json',
    ]);
    const fromFiles = await run([
      '--config',
      'explore=0.3,minValue=0.02',
      '--decisions',
      join(env.dir, 'decisions.jsonl'),
      '--pushes',
      join(env.dir, 'pushes.jsonl'),
      '--feedback',
      join(env.dir, 'feedback.jsonl'),
      '--json',
    ]);
    expect(fromKafka).toEqual(fromFiles);
    expect(fromKafka.duplicates).toEqual({ decisions: 5, pushes: 5, feedback: 5 });
    expect(Object.values(fromKafka.skipped as Record<string, number>).reduce((s, n) => s + n, 0)).toBe(3);
    expect((fromKafka.holdout as { records: number }).records).toBe(30);
    expect(fromKafka.decisions).toBe(270);
  });

  it('says which topic is missing for an unknown namespace', async () => {
    let err = '';
    const code = await main(['ope', '--config', '', '--namespace', `${env.vars.HERALD_PREFIX}-none`], {
      out: () => undefined,
      err: (t) => (err += t),
    });
    expect(code).toBe(2);
    expect(err).toMatch(/no topic .*-none\.push\.decisions/);
  });
});
