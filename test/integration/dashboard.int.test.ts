/**
 * The operator dashboard in a real headless browser (the machine's chromium, driven by playwright-core),
 * while a small world runs on real Kafka and Redis with every worker and the ops server its own process:
 * the dashboard refuses without a token; an operator signs in; the overview's numbers change as purchases
 * and feedback arrive; the dead letters, the failed jobs, the explain view and the queue board open; a
 * dry-run replay and a dry-run re-drive run from the page and show their reports; a viewer sees no action
 * and a viewer's replay is refused with 403; the operator's confirmed replay sends each campaign user one
 * push, and the audit holds the dry runs and the replay. It saves the screenshots the README shows (see SHOTS).
 *
 * Skipped, saying so, only when no chromium binary is found (CHROMIUM_PATH, or chromium on the PATH).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { stateKeys } from '../../shared/keys';
import { startChild, type Child } from '../../shared/process';
import { createRedis } from '../../shared/redis';
import type { PushSent } from '../../shared/schemas/events.schema';
import { startCampaign } from '../../services/campaigns/campaigns';
import { DAILY_SALE } from '../../services/strategies/daily-sale/daily-sale.strategy';
import { feedback, profile, purchase, sale, store } from '../helpers/fixtures';
import { produce } from '../helpers/kafka';
import { readSink } from '../helpers/pipeline';
import { startPipeline, type RunningPipeline } from '../helpers/running-pipeline';
import { waitFor } from '../helpers/wait';

function findChromium(): string | undefined {
  const named = process.env.CHROMIUM_PATH;
  if (named) return existsSync(named) ? named : undefined;
  for (const cmd of ['chromium', 'chromium-browser']) {
    try {
      const path = execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim();
      if (path) return path;
    } catch {
      // not on the PATH
    }
  }
  return undefined;
}

const CHROMIUM = findChromium();
if (!CHROMIUM) {
  process.stderr.write(
    'dashboard.int.test: SKIPPED: no chromium binary found (apt-get install -y chromium, or set CHROMIUM_PATH)\n',
  );
}
const suite = CHROMIUM ? describe : describe.skip;

/**
 * Where the screenshots go: out/screenshots, so a test run leaves the tracked files alone;
 * DASHBOARD_SCREENSHOTS=docs/screenshots refreshes the ones the README shows.
 */
const ROOT = join(__dirname, '..', '..');
const SHOTS = resolve(ROOT, process.env.DASHBOARD_SCREENSHOTS ?? join('out', 'screenshots'));
const OPS_MAIN = join(__dirname, '..', '..', 'dist', 'workers', 'ops', 'ops.main.js');
const BOOTSTRAP = 'bootstrap-token-for-the-dashboard-test-01';
const CAMPAIGN = ['c1', 'c2', 'c3', 'c4'];
const POISONED = 'c2';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

suite('the operator dashboard in a browser', () => {
  let pipeline: RunningPipeline;
  let ops: Child;
  let base: string;
  let browser: Browser;
  let operator: BrowserContext;
  let page: Page;
  const outside: string[] = [];
  const tokens: Record<string, string> = {};

  const sent = (): PushSent[] => readSink(pipeline.env.sinkFile);
  const shot = (name: string, fullPage = false) =>
    page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage });
  const figure = async (name: string, strategy: string) =>
    (await page.locator(`[data-figure="${name}"][data-strategy="${strategy}"]`).textContent())?.trim();
  /** Reloads the overview until `check` holds (the figures are read at each load). */
  const overviewUntil = async (check: () => Promise<boolean>, what: string) =>
    waitFor(
      async () => {
        await page.goto(`${base}/dashboard`);
        return check();
      },
      what,
      30_000,
      300,
    );

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    pipeline = await startPipeline({ TRACE_CAMPAIGN_SHARE: '1' }, async (e) => {
      await produce(e.config, 'stores', [store('wine-1', 'wine', { discount: 20 })]);
      await produce(e.config, 'sales', [sale('shoes-20', 'shoes', 20)]);
      await produce(e.config, 'profiles', [
        ...['alice', 'bob', 'carol', ...CAMPAIGN].map((u) => profile(u)),
        profile('dave', { pushOptIn: false }),
      ]);
    });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    ops = startChild(process.execPath, {
      name: 'ops',
      args: [OPS_MAIN],
      env: {
        ...pipeline.env.vars,
        OPS_PORT: String(port),
        OPS_HOST: '127.0.0.1',
        HERALD_OPS_BOOTSTRAP_TOKEN: BOOTSTRAP,
        OPS_SAMPLE_MS: '300',
        OPS_RATE_LIMIT: '100',
      },
      output: { tail: 20_000 },
    });
    await waitFor(
      async () => (await fetch(`${base}/healthz`).catch(() => undefined))?.status === 200,
      'the ops server to answer',
      30_000,
      200,
    );
    for (const role of ['operator', 'viewer']) {
      const res = await fetch(`${base}/api/v1/tokens`, {
        method: 'POST',
        headers: { authorization: `Bearer ${BOOTSTRAP}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: `${role}-1`, role }),
      });
      tokens[role] = ((await res.json()) as { secret: string }).secret;
    }
    browser = await chromium.launch({ executablePath: CHROMIUM!, args: ['--no-sandbox'] });
    operator = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    page = await operator.newPage();
    // Nothing the dashboard loads may come from outside this server.
    page.on('request', (r) => {
      if (!r.url().startsWith(base) && !r.url().startsWith('data:')) outside.push(r.url());
    });
  });

  afterAll(async () => {
    await browser?.close();
    await ops?.stop(30_000);
    await pipeline?.stop();
  });

  afterEach(() => {
    const failed = expect.getState().assertionCalls !== expect.getState().numPassingAsserts;
    if (failed) process.stderr.write(`--- ops\n${ops.output()}\n${pipeline.workers.logs()}`);
  });

  it('refuses without a token, and signs an operator in with one', async () => {
    const noCookie = await fetch(`${base}/dashboard/failed`, { redirect: 'manual' });
    expect(noCookie.status).toBe(401);
    const post = await fetch(`${base}/dashboard/failed/replay`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'job=filter/x',
    });
    expect(post.status).toBe(401);
    expect((await fetch(`${base}/dashboard/queues/api/queues`)).status).toBe(401);
    // A form posted from another site is refused even with a valid cookie.
    const crossSite = await fetch(`${base}/dashboard/failed/replay`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        cookie: `herald_token=${tokens.operator}`,
        origin: 'http://elsewhere.example',
      },
      body: 'job=filter/x',
    });
    expect(crossSite.status).toBe(403);

    await page.goto(`${base}/dashboard`);
    expect(new URL(page.url()).pathname).toBe('/dashboard/login');
    await page.fill('#token', 'hrld_not-a-token');
    await page.click('#sign-in');
    expect(await page.textContent('#login-error')).toMatch(/not valid/);
    await page.fill('#token', tokens.operator!);
    await shot('login');
    await page.click('#sign-in');
    expect(new URL(page.url()).pathname).toBe('/dashboard');
    expect(await page.textContent('#kpi-pushes')).toBe('0');
    const cookies = await operator.cookies();
    expect(cookies.find((c) => c.name === 'herald_token')).toMatchObject({
      httpOnly: true,
      sameSite: 'Strict',
    });
  });

  it('shows the numbers change as purchases and feedback arrive', async () => {
    const { env } = pipeline;
    await produce(env.config, 'purchases', [purchase('alice', 'groceries'), purchase('bob', 'groceries')]);
    await waitFor(() => sent().length === 2, 'two pushes');
    const strategy = sent()[0]!.strategy;
    await overviewUntil(
      async () => (await figure('pushes', strategy)) === '2',
      'the overview to show 2 pushes',
    );

    await produce(env.config, 'purchases', [purchase('carol', 'groceries'), purchase('dave', 'groceries')]);
    await waitFor(() => sent().length === 3, 'a third push');
    const [alice, bob] = ['alice', 'bob'].map((u) => sent().find((p) => p.userId === u)!);
    await produce(env.config, 'feedback', [
      feedback(alice!, 'opened'),
      feedback(alice!, 'clicked'),
      feedback(bob!, 'opened'),
    ]);
    await overviewUntil(
      async () =>
        (await figure('pushes', strategy)) === '3' &&
        (await figure('opens', strategy)) === '2' &&
        (await figure('clicks', strategy)) === '1',
      'the overview to show 3 pushes, 2 opens and 1 click',
    );
    expect(await page.textContent('#kpi-pushes')).toBe('3');
    // dave opted out: the drop chart names the reason.
    await overviewUntil(
      async () =>
        (await page.locator('[data-chart="Users dropped, by reason"]').textContent())!.includes('opted_out'),
      'the opted-out drop',
    );
    expect(await page.locator('#strategies').textContent()).toContain('50.0%'); // 1 click of 2 opens
    expect(await page.locator('figure[data-chart="Pushes sent"] polyline').count()).toBeGreaterThan(0);
    await shot('overview', true);
  });

  it('lists dead letters by reason and runs a dry-run re-drive with a fix', async () => {
    await produce(pipeline.env.config, 'purchases', [purchase('erin', 'groceries', { amount: -1 })]);
    await waitFor(
      async () => {
        await page.goto(`${base}/dashboard/dead-letters`);
        return (await page.locator('#dead-letters').count()) > 0;
      },
      'the dead letter on the page',
      30_000,
      300,
    );
    expect(await page.locator('[data-chart="Dead letters by reason (this page)"]').textContent()).toContain(
      'amount',
    );
    await shot('dead-letters');

    await page.locator('#dead-letters a').first().click();
    const original = JSON.parse(await page.locator('textarea[name=fix]').inputValue()) as Record<
      string,
      unknown
    >;
    expect(original).toMatchObject({ userId: 'erin', amount: -1 });
    await page.fill('textarea[name=fix]', JSON.stringify({ ...original, amount: 5 }, null, 2));
    await page.click('#redrive-fix-dry');
    expect(await page.getAttribute('#redrive-report', 'data-dry-run')).toBe('true');
    expect(await page.textContent('#redrive-report')).toMatch(/Dry run: nothing was re-driven/);
    expect(await page.locator('#redrive-confirm').count()).toBe(1);
    await shot('redrive-dry-run');
  });

  it('runs a dry-run replay of a failed job from the page, and shows its report', async () => {
    const { env, probe } = pipeline;
    // As in ops.int.test.ts: a profile whose devices field is not JSON fails the campaign's filter batch.
    const redis = createRedis(env.config.REDIS_URL, 'dashboard-test');
    const userKey = stateKeys(env.config.HERALD_PREFIX).user(POISONED);
    await redis.hset(userKey, 'devices', '{not json');
    await startCampaign(probe.queues, DAILY_SALE, Date.now(), 'Europe/Madrid');
    await waitFor(
      async () => (await probe.queues.filter.getFailedCount()) === 1,
      'the filter batch to fail its attempts',
      90_000,
      250,
    );
    // The fix: the profile arrives again and rewrites the broken field; the job stays failed until replayed.
    await produce(env.config, 'profiles', [profile(POISONED)]);
    await waitFor(async () => (await redis.hget(userKey, 'devices'))?.startsWith('[') === true, 'the fix');
    await redis.quit();

    await page.goto(`${base}/dashboard/failed`);
    expect(await page.locator('#failed-jobs tbody tr').count()).toBe(1);
    expect(await page.locator('#failed-jobs').textContent()).toMatch(/JSON/);
    await shot('failed-jobs');
    await page.locator('.replay-dry').first().click();
    expect(await page.getAttribute('#replay-report', 'data-dry-run')).toBe('true');
    const report = (await page.textContent('#replay-report'))!;
    expect(report).toMatch(/Dry run: nothing was replayed/);
    // The campaign's users would get one each; those pushed already (alice, bob, carol) are in their cooldown.
    expect(report).toMatch(/cooldown: 3/);
    expect(await page.locator('#replay-confirm').count()).toBe(1);
    await shot('replay-dry-run');
    // The dry run changed nothing.
    expect(await probe.queues.filter.getFailedCount()).toBe(1);
  });

  it('explains a user, and shows the queues on bull-board', async () => {
    await page.goto(`${base}/dashboard/explain?user=alice`);
    expect(await page.textContent('#explain-summary')).toContain('sent push');
    await shot('explain');

    await page.goto(`${base}/dashboard/queues/`);
    await page.getByText('{filter}').first().waitFor({ timeout: 30_000 });
    // The filter queue's failed job, with its reason.
    await page.goto(`${base}/dashboard/queues/queue/${encodeURIComponent('{filter}')}?status=failed`);
    await page.getByText(/JSON/).first().waitFor({ timeout: 30_000 });
    await shot('queues');
    // The board is read-only, whoever asks.
    const retry = await page.request.put(`${base}/dashboard/queues/api/queues/%7Bfilter%7D/retry/failed`);
    expect(retry.status()).toBe(403);
    expect(outside).toEqual([]);
  });

  it('shows a viewer the pages without actions, and refuses a viewer’s replay with 403', async () => {
    const viewer = await browser.newContext();
    try {
      const v = await viewer.newPage();
      await v.goto(`${base}/dashboard/login`);
      await v.fill('#token', tokens.viewer!);
      await v.click('#sign-in');
      await v.goto(`${base}/dashboard/failed`);
      expect(await v.locator('#failed-jobs tbody tr').count()).toBe(1);
      expect(await v.locator('.replay-dry').count()).toBe(0);
      await v.goto(`${base}/dashboard/dead-letters`);
      expect(await v.locator('.redrive-dry').count()).toBe(0);
      const refused = await v.request.post(`${base}/dashboard/failed/replay`, {
        form: { job: 'filter/anything' },
      });
      expect(refused.status()).toBe(403);
      expect(await refused.text()).toMatch(/operator role/);
    } finally {
      await viewer.close();
    }
  });

  it('an operator confirms the replay from the page: one push to each campaign user, and both calls audited', async () => {
    await page.goto(`${base}/dashboard/failed`);
    await page.locator('.replay-dry').first().click();
    await page.click('#replay-confirm');
    expect(await page.getAttribute('#replay-report', 'data-dry-run')).toBe('false');
    expect(await page.textContent('#replay-report')).toMatch(/Replayed 1 of 1 job\./);
    await waitFor(
      () => CAMPAIGN.every((u) => sent().filter((p) => p.userId === u).length === 1),
      'a push to each campaign user',
    );
    await pipeline.probe.settle();
    for (const u of CAMPAIGN) expect(sent().filter((p) => p.userId === u)).toHaveLength(1);
    expect(await pipeline.probe.queues.filter.getFailedCount()).toBe(0);

    const audit = await fetch(`${base}/api/v1/audit?action=jobs.replay`, {
      headers: { authorization: `Bearer ${tokens.viewer}` },
    });
    const { items } = (await audit.json()) as { items: Array<{ dryRun: boolean; actor: { name: string } }> };
    expect(items.map((r) => [r.actor.name, r.dryRun])).toEqual([
      ['operator-1', false],
      ['operator-1', true],
      ['operator-1', true],
    ]);
  });
});
