/** A bad config value stops a worker at start with one clear line naming the variable. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STRATEGY_NAMES } from '../../services/strategies';
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

describe('send-time start-up: templates and providers are checked before anything is sent', () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-boot-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('exits 78 naming a template that uses an unknown variable', async () => {
    const path = join(dir, 'templates.json');
    writeFileSync(
      path,
      JSON.stringify({
        fallbackLocale: 'en',
        strategies: { [STRATEGY_NAMES[0]!]: { en: { title: 'Hi {{user.nickname}}', body: 'b' } } },
      }),
    );
    const w = startWorker('send-time', { TEMPLATES_FILE: path });
    expect(await w.exited).toBe(78);
    expect(w.output()).toContain(
      `templates: ${path}: ${STRATEGY_NAMES[0]!}/en.title uses {{user.nickname}}, which is not a variable`,
    );
  });

  it('exits 78 naming a missing APNs key file', async () => {
    const w = startWorker('send-time', {
      PUSH_IOS: 'apns',
      APNS_KEY_FILE: join(dir, 'AuthKey_missing.p8'),
      APNS_KEY_ID: 'K',
      APNS_TEAM_ID: 'T',
      APNS_TOPIC: 'com.example',
    });
    expect(await w.exited).toBe(78);
    expect(w.output()).toContain(
      `config: APNS_KEY_FILE="${join(dir, 'AuthKey_missing.p8')}" cannot be read (ENOENT)`,
    );
  });
});
