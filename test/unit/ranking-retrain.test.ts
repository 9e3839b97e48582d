import { RETRAIN, retrainRound } from '../../services/ranking/retrain';

function memorySchedule() {
  const fired = new Set<string>();
  return {
    fired: (c: string, t: number) => Promise.resolve(fired.has(`${c}|${t}`)),
    markFired: (c: string, t: number) => {
      fired.add(`${c}|${t}`);
      return Promise.resolve();
    },
  };
}

const quiet = { info: () => undefined, error: () => undefined };

describe('scheduled retraining', () => {
  const tick = Date.parse('2026-03-07T03:30:00Z');
  it('starts one retraining per tick of its cron on Herald’s clock, once across rounds', async () => {
    const schedule = memorySchedule();
    const runs: number[] = [];
    let now = tick + 5_000;
    const deps = {
      cron: '30 3 * * *',
      tz: 'UTC',
      now: () => now,
      catchupMs: 60_000,
      schedule,
      run: (t: number) => {
        runs.push(t);
        return Promise.resolve(0);
      },
      logger: quiet,
    };
    expect(await retrainRound(deps)).toBe(1);
    expect(await retrainRound(deps)).toBe(0);
    expect(runs).toEqual([tick]);
    expect(await schedule.fired(RETRAIN, tick)).toBe(true);
    now = tick + 86_400_000 + 1_000; // the next day's tick
    expect(await retrainRound(deps)).toBe(1);
    expect(runs).toHaveLength(2);
  });

  it('skips a tick missed by more than the catch-up window', async () => {
    const runs: number[] = [];
    const n = await retrainRound({
      cron: '30 3 * * *',
      tz: 'UTC',
      now: () => tick + 3_600_000,
      catchupMs: 60_000,
      schedule: memorySchedule(),
      run: (t) => {
        runs.push(t);
        return Promise.resolve(0);
      },
      logger: quiet,
    });
    expect(n).toBe(0);
    expect(runs).toEqual([]);
  });

  it('keeps the ticks of a named schedule (the recommendations’ training) apart from the score model’s', async () => {
    const schedule = memorySchedule();
    const base = {
      cron: '30 3 * * *',
      tz: 'UTC',
      now: () => tick + 5_000,
      catchupMs: 60_000,
      schedule,
      run: () => Promise.resolve(0),
      logger: quiet,
    };
    expect(await retrainRound({ ...base, name: 'recs-train', what: 'the product recommendations' })).toBe(1);
    expect(await schedule.fired('recs-train', tick)).toBe(true);
    expect(await schedule.fired(RETRAIN, tick)).toBe(false);
    expect(await retrainRound(base)).toBe(1);
  });
});
