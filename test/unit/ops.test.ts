/** The operator service's pure parts: what a replay would do, job users, filters, the trace sample. */
import type { Candidate } from '../../shared/schemas/jobs.schema';
import type { UserState } from '../../services/state';
import { judge, tally, usersOfJob, type Verdict } from '../../services/ops/replay';
import { letterMatches } from '../../services/ops/dead-letters';
import { describeEntry } from '../../services/ops/explain';
import { traceFraction } from '../../services/state/trace.store';

const NOW = Date.parse('2026-11-23T12:00:00Z'); // 13:00 in Madrid
const user = (over: Partial<UserState> = {}): UserState => ({
  userId: 'u1',
  timeZone: 'Europe/Madrid',
  locale: 'es',
  optIn: true,
  devices: [{ platform: 'android', token: 't' }],
  ...over,
});
const cand = (deadline?: number): Candidate => ({
  id: 's1',
  kind: 'sale',
  category: 'shoes',
  title: 'Shoes',
  discount: 20,
  affinity: 0,
  ...(deadline ? { deadline } : {}),
});
const base = { now: NOW, user: user(), candidates: [cand()], alreadySent: false, cooldownGraceMs: 0 };

describe('judge: a replayed user under today’s rules', () => {
  it('sends to an eligible user', () => {
    expect(judge(base)).toBe('push');
  });
  it('names each reason for none, in the pipeline’s order', () => {
    expect(judge({ ...base, user: undefined })).toBe('unknown_user');
    expect(judge({ ...base, user: user({ optIn: false }), alreadySent: true })).toBe('opted_out');
    expect(judge({ ...base, user: user({ devices: [] }) })).toBe('no_device');
    expect(judge({ ...base, candidates: [cand(NOW - 1)] })).toBe('expired');
    expect(judge({ ...base, alreadySent: true, windowEnd: NOW + 1000 })).toBe('already_sent');
    expect(judge({ ...base, windowEnd: NOW + 3_600_000 })).toBe('cooldown');
  });
  it('lets a window that ends within the grace through (predicted send times book after it)', () => {
    expect(judge({ ...base, windowEnd: NOW + 3_600_000, cooldownGraceMs: 2 * 3_600_000 })).toBe('push');
  });
  it('defers a user in quiet hours, and drops one whose deadline comes before they end', () => {
    const night = Date.parse('2026-11-23T22:30:00Z'); // 23:30 in Madrid
    const quiet = { start: 22, end: 8 };
    expect(judge({ ...base, now: night, quiet })).toBe('deferred');
    expect(judge({ ...base, now: night, quiet, candidates: [cand(night + 3_600_000)] })).toBe('quiet_hours');
    expect(judge({ ...base, quiet })).toBe('push');
  });
});

describe('usersOfJob', () => {
  const group = { strategy: 'x', targetId: 't1', at: 1, candidates: [cand()], userIds: ['a', 'b'] };
  it('reads the users of each stage’s payload', () => {
    expect(usersOfJob('filter', { groups: [group] }, 'w').users.map((u) => u.userId)).toEqual(['a', 'b']);
    expect(usersOfJob('sendTime', { userIds: ['c'] }, 'w').users).toEqual([{ userId: 'c' }]);
    const picks = { picks: [{ ...group, candidate: cand(), scores: [0.1, 0.2] }] };
    expect(usersOfJob('conciliate', picks, 'w')).toMatchObject({
      strategies: ['x'],
      users: [{ userId: 'a' }, { userId: 'b' }],
    });
  });
  it('says when a campaign’s users are not known before it runs', () => {
    const page = {
      targets: [
        { strategy: 'x', targetId: 't', at: 1, candidates: [cand()], audience: { kind: 'all', after: 'u9' } },
      ],
    };
    const r = usersOfJob('audience', page, 'w');
    expect(r.users).toEqual([]);
    expect(r.note).toMatch(/campaign page after "u9"/);
  });
  it('throws, naming the job, on a payload that fails its schema', () => {
    expect(() => usersOfJob('filter', { groups: [] }, 'job filter/9')).toThrow(/job filter\/9/);
  });
});

describe('tally', () => {
  it('counts distinct users, one push for a user with any, deferred ones as pushes', () => {
    const v = new Map<string, Verdict[]>([
      ['a', ['cooldown', 'push']],
      ['b', ['opted_out']],
      ['c', ['deferred']],
      ['d', ['opted_out', 'opted_out']],
    ]);
    expect(tally(v)).toEqual({ users: 4, pushes: 2, deferred: 1, dropped: { opted_out: 2 } });
  });
});

describe('dead-letter filter', () => {
  const v = {
    id: '0:5',
    reason: 'amount: Too small',
    at: '2026-11-23T10:00:00.000Z',
    worker: 'ingest',
    source: { topic: 'herald.purchases', partition: 1, offset: '7' },
  };
  it('matches by reason, logical or full topic, and time', () => {
    expect(letterMatches('herald.', { reason: 'AMOUNT', topic: 'purchases' }, v)).toBe(true);
    expect(letterMatches('herald.', { topic: 'herald.purchases' }, v)).toBe(true);
    expect(letterMatches('herald.', { topic: 'profiles' }, v)).toBe(false);
    expect(letterMatches('herald.', { from: Date.parse(v.at) + 1 }, v)).toBe(false);
  });
});

describe('trace', () => {
  it('samples about the configured share of users, the same users every time', () => {
    const ids = Array.from({ length: 20_000 }, (_, i) => `user-${i}`);
    const share = ids.filter((id) => traceFraction(id) < 0.1).length / ids.length;
    expect(share).toBeGreaterThan(0.09);
    expect(share).toBeLessThan(0.11);
    expect(traceFraction('user-7')).toBe(traceFraction('user-7'));
  });
  it('describes a step in one line', () => {
    const line = describeEntry({
      at: NOW,
      stage: 'filter',
      what: 'dropped',
      strategy: 'daily-sale',
      targetId: 't1',
      detail: { reason: 'opted_out' },
    });
    expect(line).toBe('2026-11-23T12:00:00.000Z [daily-sale t1] filter dropped the user: opted_out');
  });
  it('describes a value decision that waits for the campaign, with every arm’s probability', () => {
    const line = describeEntry({
      at: NOW,
      stage: 'conciliate',
      what: 'suppressed',
      detail: {
        why: 'waiting:daily-sale',
        arms: [
          { strategy: 'market-basket', score: 0.3, prob: 0.04 },
          { strategy: 'daily-sale', score: 1, prob: 0.93, anticipated: true },
        ],
        none: 0.03,
      },
    });
    expect(line).toBe(
      '2026-11-23T12:00:00.000Z conciliation sent nothing: waiting:daily-sale; arms market-basket p=0.04, ' +
        'daily-sale (campaign to come) p=0.93, none p=0.03',
    );
  });
});
