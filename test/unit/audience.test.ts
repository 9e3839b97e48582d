import { createAudienceStage } from '../../services/pipeline/audience';
import type { QueuePayload } from '../../shared/queue-catalog';
import type { Target } from '../../shared/schemas/jobs.schema';

const users = Array.from({ length: 1234 }, (_, i) => `u${String(i).padStart(5, '0')}`);
const store = {
  pageUsers: (after: string, count: number) =>
    Promise.resolve(users.filter((u) => u > after).slice(0, count)),
};
const campaign: Target = {
  strategy: 'daily-sale',
  targetId: 'ds-2026-11-22',
  at: 0,
  audience: { kind: 'all', after: '', page: 0 },
  candidates: [{ id: 'sale1', kind: 'sale', category: 'shoes', title: 'Shoes', discount: 20, affinity: 0 }],
};

describe('audience', () => {
  it('pages a campaign through every user once, one filter job per batch, never all at once', async () => {
    const stage = createAudienceStage({ users: store, batchSize: 100, pagesPerJob: 3 });
    let pending: Array<QueuePayload<'audience'>> = [{ targets: [campaign] }];
    const seen: string[] = [];
    const filterIds = new Set<string>();
    let audienceJobs = 0;
    while (pending.length) {
      const next: Array<QueuePayload<'audience'>> = [];
      for (const job of pending) {
        audienceJobs++;
        for (const out of await stage(job, { jobId: `a${audienceJobs}`, attempt: 1, lane: 'bulk' })) {
          if (out.queue === 'audience') next.push(out.payload as QueuePayload<'audience'>);
          else {
            const groups = (out.payload as QueuePayload<'filter'>).groups;
            expect(groups[0]!.userIds.length).toBeLessThanOrEqual(100);
            seen.push(...groups.flatMap((g) => g.userIds));
            filterIds.add(out.id!);
          }
        }
      }
      pending = next;
    }
    expect(seen).toEqual(users);
    expect(filterIds.size).toBe(13);
    expect(audienceJobs).toBe(5);
  });

  it('puts single-user targets together in batches', async () => {
    const stage = createAudienceStage({ users: store, batchSize: 2, pagesPerJob: 3 });
    const one = (u: string): Target => ({
      ...campaign,
      targetId: `t-${u}`,
      audience: { kind: 'user', userId: u },
    });
    const outs = await stage(
      { targets: [one('a'), one('b'), one('c')] },
      { jobId: 'x', attempt: 1, lane: 'bulk' },
    );
    expect(outs.map((o) => (o.payload as QueuePayload<'filter'>).groups.map((g) => g.userIds[0]))).toEqual([
      ['a', 'b'],
      ['c'],
    ]);
  });
});
