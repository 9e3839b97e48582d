/** A bad config value stops a worker at start with one clear line naming the variable. */
import { startWorker } from '../helpers/workers';

describe('worker start-up', () => {
  it.each([
    ['BATCH_SIZE', 'lots'],
    ['REDIS_URL', 'not a url'],
    ['DAILY_SALE_TZ', 'Mars/Olympus'],
  ])('exits 78 with one line naming %s', async (name, value) => {
    const w = startWorker('filter', { [name]: value });
    const code = await w.exited;
    expect(code).toBe(78);
    const lines = w.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(
        `^config: ${name}=${JSON.stringify(value).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is invalid: `,
      ),
    );
  });
});
