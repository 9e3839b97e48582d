/**
 * The operator API's transport on real Redis: tokens, roles, the rate limit, validation, error statuses and
 * the audit log. The OpsService behind it is a fake that returns fixed reports and records its calls (the
 * service's own behaviour is tested with it); the CLI is run in-process against the server on a real port.
 *
 * Requests go over a real port with fetch, not Fastify's inject: inject loads light-my-request, whose
 * `cookie` dependency is ESM-only, which jest's CommonJS runtime cannot load (Node itself can).
 */
import type { FastifyInstance } from 'fastify';
import { ManualClock } from '../../shared/clock';
import pino from 'pino';
import { opsKeys } from '../../shared/keys';
import type {
  AuditRecord,
  OpsService,
  Page,
  RedriveReport,
  ReplayReport,
  TokenView,
  TopicReplayReport,
} from '../../services/ops/api';
import { createAuditLog } from '../../services/ops/audit';
import { runCli } from '../../services/ops/cli/herald';
import { OpsError } from '../../services/ops/errors';
import { buildServer } from '../../services/ops/http/server';
import { createRateLimiter } from '../../services/ops/rate-limit';
import { createTokenStore, hashSecret } from '../../services/ops/tokens';
import { redisNamespace } from '../helpers/redis-ns';
import { waitFor } from '../helpers/wait';
import { startChild } from '../../shared/process';
import { join } from 'node:path';

const BOOTSTRAP = 'bootstrap-secret-for-tests-0123456789';
const LIMIT = 3;
const WINDOW_MS = 60_000;

const REPLAY_REPORT: ReplayReport = {
  dryRun: true,
  jobs: 2,
  replayed: 0,
  users: 7,
  pushes: 5,
  deferred: 0,
  dropped: { opted_out: 1, cooldown: 1 },
  perJob: [],
};
const REDRIVE_REPORT: RedriveReport = {
  dryRun: true,
  selected: 3,
  valid: 2,
  invalid: [{ id: '0:9', reason: 'still bad' }],
  alreadyRedriven: 0,
  redriven: 0,
  byTopic: { purchases: 2 },
};

/** The fake service: fixed answers, every call recorded. */
function fakeOps() {
  const calls: Array<{ method: string; args: unknown[] }> = [];
  const health = { redis: true, kafka: true };
  const rec = (method: string, args: unknown[]) => calls.push({ method, args });
  const ops: OpsService = {
    listFailed: (...args) => (rec('listFailed', args), Promise.resolve({ items: [] })),
    replay: (req) => {
      rec('replay', [req]);
      if ((req.jobs?.length ?? 0) > 2 && !req.override) {
        return Promise.reject(new OpsError(413, 'more than 2 jobs; add override: true'));
      }
      const dryRun = req.dryRun !== false;
      return Promise.resolve({ ...REPLAY_REPORT, dryRun, replayed: dryRun ? 0 : 2 });
    },
    listDeadLetters: (...args) => (rec('listDeadLetters', args), Promise.resolve({ items: [] })),
    getDeadLetter: (id) => (rec('getDeadLetter', [id]), Promise.resolve(undefined)),
    redrive: (req) => {
      rec('redrive', [req]);
      const dryRun = req.dryRun !== false;
      return Promise.resolve({ ...REDRIVE_REPORT, dryRun, redriven: dryRun ? 0 : 2 });
    },
    replayTopic: (req): Promise<TopicReplayReport> => {
      rec('replayTopic', [req]);
      return Promise.resolve({
        dryRun: req.dryRun !== false,
        source: 'herald.purchases',
        target: `${req.namespace}.purchases`,
        messages: 40,
        copied: req.dryRun === false ? 40 : 0,
      });
    },
    explain: (userId) => {
      rec('explain', [userId]);
      return Promise.reject(new Error(`boom for ${userId}`));
    },
    health: () => Promise.resolve({ ...health }),
    close: () => Promise.resolve(),
  };
  return { ops, calls, health };
}

describe('operator API transport', () => {
  const ns = redisNamespace();
  const clock = new ManualClock(Date.UTC(2026, 2, 2, 12, 0, 30));
  const fake = fakeOps();
  // Every log line the server writes, to check that none carries a token, a body or a query.
  const logLines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) });
  let app: FastifyInstance;
  let base: string;

  interface Answer {
    statusCode: number;
    headers: Record<string, string>;
    body: string;
    json<T = unknown>(): T;
  }
  async function inject(req: {
    method?: string;
    url: string;
    headers?: Record<string, string>;
    payload?: object;
  }): Promise<Answer> {
    const res = await fetch(base + req.url, {
      method: req.method ?? 'GET',
      headers: { ...req.headers, ...(req.payload ? { 'content-type': 'application/json' } : {}) },
      body: req.payload ? JSON.stringify(req.payload) : undefined,
    });
    const body = await res.text();
    return {
      statusCode: res.status,
      headers: Object.fromEntries(res.headers),
      body,
      json: <T>() => JSON.parse(body) as T,
    };
  }
  let operator: string;
  let viewer: string;
  let admin: string;

  const tokens = createTokenStore({ redis: ns.redis, prefix: ns.prefix, clock, bootstrapToken: BOOTSTRAP });
  const audit = createAuditLog({ redis: ns.redis, prefix: ns.prefix, clock });

  const as = (token: string) => ({ authorization: `Bearer ${token}` });
  async function newToken(role: 'viewer' | 'operator' | 'admin', name = `${role}-${Math.random()}`) {
    const res = await inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: as(BOOTSTRAP),
      payload: { name, role },
    });
    expect(res.statusCode).toBe(201);
    return res.json<{ token: TokenView; secret: string }>();
  }
  async function auditRecords(query = ''): Promise<AuditRecord[]> {
    const res = await inject({ url: `/api/v1/audit${query}`, headers: as(viewer) });
    expect(res.statusCode).toBe(200);
    return res.json<Page<AuditRecord>>().items;
  }

  beforeAll(async () => {
    app = buildServer({
      ops: fake.ops,
      tokens,
      audit,
      limiter: createRateLimiter({
        redis: ns.redis,
        prefix: ns.prefix,
        clock,
        limit: LIMIT,
        windowMs: WINDOW_MS,
      }),
      logger,
    });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
    operator = (await newToken('operator', 'ops-alice')).secret;
    viewer = (await newToken('viewer', 'viewer-bob')).secret;
    admin = (await newToken('admin', 'admin-carol')).secret;
  });

  afterAll(async () => {
    await app.close();
    await ns.drop();
  });

  it('answers 401 without a token, with a malformed header and with a wrong token', async () => {
    const none = await inject({ url: '/api/v1/jobs/failed' });
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
    expect(none.json<{ error: string }>().error).toMatch(/Authorization: Bearer/);
    expect(
      (await inject({ url: '/api/v1/jobs/failed', headers: { authorization: operator } })).statusCode,
    ).toBe(401);
    const wrong = await inject({ url: '/api/v1/jobs/failed', headers: as(`${operator}x`) });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toEqual({ error: 'invalid or revoked token' });
    expect((await inject({ url: '/api/v1/jobs/failed', headers: as(BOOTSTRAP.slice(1)) })).statusCode).toBe(
      401,
    );
  });

  it('stores a created token by its hash, never its secret, and lists none of either', async () => {
    const { token, secret } = await newToken('viewer', 'ci-reader');
    expect(secret).toMatch(/^hrld_[A-Za-z0-9_-]{43}$/);
    expect(token).toEqual({
      id: token.id,
      name: 'ci-reader',
      role: 'viewer',
      createdAt: clock.now(),
      createdBy: 'bootstrap',
    });
    const keys = opsKeys(ns.prefix);
    const stored = JSON.stringify([
      await ns.redis.hgetall(keys.tokens),
      await ns.redis.hgetall(keys.tokenHashes),
    ]);
    expect(stored).not.toContain(secret);
    expect(stored).not.toContain(secret.slice(5));
    expect(await ns.redis.hget(keys.tokenHashes, hashSecret(secret))).toBe(token.id);
    const list = await inject({ url: '/api/v1/tokens', headers: as(admin) });
    expect(list.statusCode).toBe(200);
    const items = list.json<{ items: TokenView[] }>().items;
    expect(items.find((t) => t.id === token.id)).toEqual(token);
    expect(list.body).not.toContain(secret);
    expect(list.body).not.toContain(hashSecret(secret));
    // The new token works.
    expect((await inject({ url: '/api/v1/dead-letters', headers: as(secret) })).statusCode).toBe(200);
  });

  it('answers 403 for a role that may not', async () => {
    const before = fake.calls.length;
    const replay = await inject({
      method: 'POST',
      url: '/api/v1/jobs/replay',
      headers: as(viewer),
      payload: { filter: {} },
    });
    expect(replay.statusCode).toBe(403);
    expect(replay.json<{ error: string }>().error).toMatch(/jobs.replay needs the operator role/);
    const create = await inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: as(operator),
      payload: { name: 'sneaky', role: 'admin' },
    });
    expect(create.statusCode).toBe(403);
    expect((await inject({ url: '/api/v1/tokens', headers: as(operator) })).statusCode).toBe(403);
    expect(fake.calls.length).toBe(before);
  });

  it('passes validated filters to the service and answers 400 naming the bad field', async () => {
    const ok = await inject({
      url: '/api/v1/jobs/failed?queue=send-time&from=2026-03-01T00:00:00Z&to=1772409600000&limit=20&userId=u-1',
      headers: as(viewer),
    });
    expect(ok.statusCode).toBe(200);
    expect(fake.calls.at(-1)).toEqual({
      method: 'listFailed',
      args: [
        { queue: 'sendTime', from: Date.UTC(2026, 2, 1), to: 1772409600000, userId: 'u-1' },
        { limit: 20 },
      ],
    });
    const bad = async (url: string, payload?: object) => {
      const res = await inject({ method: payload ? 'POST' : 'GET', url, headers: as(operator), payload });
      expect(res.statusCode).toBe(400);
      return res.json<{ error: string }>().error;
    };
    expect(await bad('/api/v1/jobs/failed?limit=lots')).toMatch(/^query\.limit: /);
    expect(await bad('/api/v1/jobs/failed?limit=501')).toMatch(/^query\.limit: /);
    expect(await bad('/api/v1/jobs/failed?from=yesterday')).toMatch(
      /^query\.from: an ISO 8601 time or epoch/,
    );
    expect(await bad('/api/v1/jobs/failed?queue=nope')).toMatch(/^query\.queue: one of target, /);
    expect(await bad('/api/v1/jobs/failed?colour=red')).toMatch(/^query: .*colour/);
    expect(await bad('/api/v1/jobs/replay', { jobs: [{ queue: 'nope', id: 'a' }] })).toMatch(
      /^body\.jobs\.0\.queue: /,
    );
    expect(await bad('/api/v1/jobs/replay', { filter: {}, overide: true })).toMatch(/^body: .*overide/);
    expect(await bad('/api/v1/jobs/replay', { dryRun: false })).toMatch(
      /^body\.jobs: name the jobs or give a filter/,
    );
    expect(
      await bad('/api/v1/topics/replay', { topic: 'purchases', from: 1, to: 2, namespace: 'a b' }),
    ).toMatch(/^body\.namespace: /);
  });

  it('passes an OpsError status through and hides any other error behind a generic 500', async () => {
    const tooMany = await inject({
      method: 'POST',
      url: '/api/v1/jobs/replay',
      headers: as(admin),
      payload: { jobs: ['a', 'b', 'c'].map((id) => ({ queue: 'filter', id })) },
    });
    expect(tooMany.statusCode).toBe(413);
    expect(tooMany.json()).toEqual({ error: 'more than 2 jobs; add override: true' });
    const boom = await inject({ url: '/api/v1/users/u-9/explain', headers: as(viewer) });
    expect(boom.statusCode).toBe(500);
    expect(boom.body).not.toContain('boom');
    expect(boom.json()).toEqual({ error: 'internal error; see the ops server log' });
    const missing = await inject({ url: '/api/v1/dead-letters/0:77', headers: as(viewer) });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ error: 'no dead letter 0:77' });
  });

  it('writes one audit record per state-changing call, dry runs included, and none for reads', async () => {
    const dave = await newToken('operator', 'ops-dave');
    const fresh = dave.secret;
    const auditOf = async () => auditRecords('?actor=ops-dave');
    // Reads leave no record.
    await inject({ url: '/api/v1/jobs/failed', headers: as(fresh) });
    await inject({ url: '/api/v1/dead-letters', headers: as(fresh) });
    expect(await auditOf()).toEqual([]);

    const post = (url: string, payload: object) =>
      inject({ method: 'POST', url, headers: as(fresh), payload });
    const dry = await post('/api/v1/jobs/replay', { jobs: [{ queue: 'filter', id: 'j1' }] });
    expect(dry.statusCode).toBe(200);
    expect(dry.json()).toEqual(REPLAY_REPORT);
    // No dryRun given: the service is told it is one, whatever its own default.
    expect(fake.calls.at(-1)).toEqual({
      method: 'replay',
      args: [{ jobs: [{ queue: 'filter', id: 'j1' }], dryRun: true }],
    });
    clock.advance(1);
    expect((await post('/api/v1/dead-letters/redrive', { ids: ['0:1'], dryRun: false })).statusCode).toBe(
      200,
    );
    clock.advance(1);
    expect(
      (
        await post('/api/v1/topics/replay', {
          topic: 'purchases',
          from: '2026-03-01T00:00:00Z',
          to: 1772409600000,
          namespace: 'bt',
        })
      ).statusCode,
    ).toBe(200);

    const [topic, redrive, replay] = await auditOf();
    const who = { tokenId: dave.token.id, name: 'ops-dave', role: 'operator' };
    expect(replay?.id).toMatch(/^\d+-\d+$/);
    expect({ ...replay, id: 'x' }).toEqual({
      id: 'x',
      at: clock.now() - 2,
      actor: who,
      action: 'jobs.replay',
      request: { jobs: [{ queue: 'filter', id: 'j1' }], dryRun: true },
      dryRun: true,
      result: { jobs: 2, replayed: 0, users: 7, pushes: 5, dropped: { opted_out: 1, cooldown: 1 } },
    });
    expect(redrive).toMatchObject({
      action: 'dead-letters.redrive',
      actor: who,
      request: { ids: ['0:1'], dryRun: false },
      dryRun: false,
      result: {
        selected: 3,
        valid: 2,
        invalid: 1,
        alreadyRedriven: 0,
        redriven: 2,
        byTopic: { purchases: 2 },
      },
    });
    expect(topic).toMatchObject({
      action: 'topics.replay',
      request: { topic: 'purchases', from: Date.UTC(2026, 2, 1), to: 1772409600000, namespace: 'bt' },
      dryRun: true,
      result: { source: 'herald.purchases', target: 'bt.purchases', messages: 40, copied: 0 },
    });
    // A refused call (here 400) leaves no record.
    await post('/api/v1/jobs/replay', { bogus: 1 });
    expect(await auditOf()).toHaveLength(3);
    // Filter by action, and page newest first.
    const replays = await auditRecords('?action=jobs.replay&actor=ops-dave');
    expect(replays.map((r) => r.action)).toEqual(['jobs.replay']);
    const first = await inject({ url: '/api/v1/audit?actor=ops-dave&limit=2', headers: as(viewer) });
    const page1 = first.json<Page<AuditRecord>>();
    expect(page1.items.map((r) => r.action)).toEqual(['topics.replay', 'dead-letters.redrive']);
    const page2 = (
      await inject({
        url: `/api/v1/audit?actor=ops-dave&limit=2&cursor=${page1.next}`,
        headers: as(viewer),
      })
    ).json<Page<AuditRecord>>();
    expect(page2.items.map((r) => r.action)).toEqual(['jobs.replay']);
    expect(page2.next).toBeUndefined();
  });

  it('audits token creation and revocation; a revoked token gets 401', async () => {
    const { token, secret } = await newToken('operator', 'short-lived');
    expect((await inject({ url: '/api/v1/dead-letters', headers: as(secret) })).statusCode).toBe(200);
    const del = await inject({ method: 'DELETE', url: `/api/v1/tokens/${token.id}`, headers: as(admin) });
    expect(del.statusCode).toBe(200);
    expect(del.json()).toEqual({ revoked: token.id });
    const after = await inject({ url: '/api/v1/dead-letters', headers: as(secret) });
    expect(after.statusCode).toBe(401);
    expect(
      (await inject({ method: 'DELETE', url: `/api/v1/tokens/${token.id}`, headers: as(admin) })).statusCode,
    ).toBe(404);
    const created = (await auditRecords('?action=tokens.create&actor=bootstrap')).find(
      (r) => (r.result as { id?: string }).id === token.id,
    );
    expect(created).toMatchObject({
      actor: { tokenId: 'bootstrap', name: 'bootstrap', role: 'admin' },
      request: { name: 'short-lived', role: 'operator' },
      dryRun: false,
    });
    expect(JSON.stringify(created)).not.toContain(secret);
    const revoked = await auditRecords('?action=tokens.revoke&actor=admin-carol');
    expect(revoked).toEqual([
      expect.objectContaining({ request: { id: token.id }, result: { revoked: 1 }, dryRun: false }),
    ]);
  });

  it('answers 429 with Retry-After past the limit, per token, until the window turns', async () => {
    clock.set(Date.UTC(2026, 2, 2, 13, 0, 15)); // 15 s into a fresh minute window
    const limited = (await newToken('operator', 'ops-eve')).secret;
    const other = (await newToken('operator', 'ops-frank')).secret;
    const replay = (token: string) =>
      inject({ method: 'POST', url: '/api/v1/jobs/replay', headers: as(token), payload: { filter: {} } });
    for (let i = 0; i < LIMIT; i++) expect((await replay(limited)).statusCode).toBe(200);
    const over = await inject({
      method: 'POST',
      url: '/api/v1/dead-letters/redrive',
      headers: as(limited),
      payload: { filter: {} },
    });
    expect(over.statusCode).toBe(429);
    expect(over.headers['retry-after']).toBe('45');
    expect(over.json<{ error: string }>().error).toMatch(/try again in 45 s/);
    // Reads are not limited, nor is another token.
    expect((await inject({ url: '/api/v1/jobs/failed', headers: as(limited) })).statusCode).toBe(200);
    expect((await replay(other)).statusCode).toBe(200);
    // A refused call reaches neither the service nor the audit log.
    expect((await auditRecords('?actor=ops-eve')).length).toBe(LIMIT);
    clock.advance(45_000);
    expect((await replay(limited)).statusCode).toBe(200);
  });

  it('answers /healthz without a token: 200 when Redis and Kafka answer, 503 otherwise', async () => {
    const up = await inject({ url: '/healthz' });
    expect(up.statusCode).toBe(200);
    expect(up.json()).toEqual({ status: 'ok', redis: true, kafka: true });
    fake.health.kafka = false;
    const down = await inject({ url: '/healthz' });
    expect(down.statusCode).toBe(503);
    expect(down.json()).toEqual({ status: 'unavailable', redis: true, kafka: false });
    fake.health.kafka = true;
  });

  it('logs one line per request with ids only: no token, body or query', async () => {
    const marker = 'Jane-Doe-Sensitive';
    await inject({ url: `/api/v1/jobs/failed?reason=${marker}`, headers: as(operator) });
    await inject({
      method: 'POST',
      url: '/api/v1/jobs/replay',
      headers: as(admin),
      payload: { filter: { reason: marker } },
    });
    await inject({ url: '/api/v1/users/u-42/explain', headers: as(viewer) });
    const text = logLines.join('');
    for (const secret of [BOOTSTRAP, operator, viewer, admin, marker]) expect(text).not.toContain(secret);
    const lines = logLines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toContainEqual(
      expect.objectContaining({ msg: 'request', method: 'GET', route: '/api/v1/jobs/failed', status: 200 }),
    );
    expect(lines).toContainEqual(
      expect.objectContaining({ msg: 'request', route: '/api/v1/users/:id/explain', status: 500 }),
    );
    // The 500's cause is in the log (the fake's message names the user id, which logs may carry).
    const failure = lines.findLast((l) => l.msg === 'ops request failed');
    expect((failure?.err as { message?: string } | undefined)?.message).toBe('boom for u-42');
  });

  it('says so when a call was carried out but its audit record could not be written', async () => {
    const broken = buildServer({
      ops: fake.ops,
      tokens,
      audit: { append: () => Promise.reject(new Error('redis gone')), list: (q) => audit.list(q) },
      limiter: createRateLimiter({
        redis: ns.redis,
        prefix: ns.prefix,
        clock,
        limit: 100,
        windowMs: WINDOW_MS,
      }),
      logger,
    });
    const url = await broken.listen({ port: 0, host: '127.0.0.1' });
    try {
      const res = await fetch(`${url}/api/v1/jobs/replay`, {
        method: 'POST',
        headers: { ...as(operator), 'content-type': 'application/json' },
        body: JSON.stringify({ filter: {}, dryRun: false }),
      });
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({
        error:
          'jobs.replay was carried out, but its audit record could not be written; see the ops server log',
      });
      expect(fake.calls.at(-1)).toEqual({ method: 'replay', args: [{ filter: {}, dryRun: false }] });
    } finally {
      await broken.close();
    }
  });

  it('serves the herald CLI on a real port', async () => {
    const server = buildServer({
      ops: fake.ops,
      tokens,
      audit,
      limiter: createRateLimiter({
        redis: ns.redis,
        prefix: ns.prefix,
        clock,
        limit: 100,
        windowMs: WINDOW_MS,
      }),
      logger,
    });
    const url = await server.listen({ port: 0, host: '127.0.0.1' });
    try {
      const run = async (argv: string[], token = operator) => {
        const out: string[] = [];
        const err: string[] = [];
        const code = await runCli(
          argv,
          { HERALD_OPS_URL: url, HERALD_OPS_TOKEN: token },
          { out: (t) => void out.push(t), err: (t) => void err.push(t) },
        );
        return { code, out: out.join('\n'), err: err.join('\n') };
      };
      const dry = await run(['replay', '--job', 'filter:j9']);
      expect(dry.code).toBe(0);
      expect(dry.out).toMatch(/^DRY RUN: nothing was replayed/);
      expect(fake.calls.at(-1)).toEqual({
        method: 'replay',
        args: [{ jobs: [{ queue: 'filter', id: 'j9' }], dryRun: true }],
      });
      const confirmed = await run(['replay', '--queue', 'filter', '--confirm', '--json']);
      expect(confirmed.code).toBe(0);
      expect(JSON.parse(confirmed.out)).toMatchObject({ dryRun: false, replayed: 2 });
      const denied = await run(['tokens', 'create', '--name', 'x', '--role', 'admin']);
      expect(denied).toMatchObject({ code: 1, out: '' });
      expect(denied.err).toBe('herald: 403 tokens.create needs the admin role; this token is operator');
      const tooMany = await run(['replay', '--job', 'filter:a', '--job', 'filter:b', '--job', 'filter:c']);
      expect(tooMany).toMatchObject({ code: 1, err: 'herald: 413 more than 2 jobs; add override: true' });
      const created = await run(['tokens', 'create', '--name', 'from-cli', '--role', 'viewer'], admin);
      expect(created.code).toBe(0);
      expect(created.out).toMatch(/token: hrld_/);
      expect((await run(['audit', '--action', 'jobs.replay', '--limit', '1'], viewer)).out).toMatch(
        /jobs\.replay +yes|jobs\.replay +no/,
      );
      expect((await run(['health'])).out).toBe('ok: redis up, kafka up');
      expect((await run(['failed', 'list', '--limit', 'x'])).err).toMatch(/^herald: 400 query\.limit: /);
    } finally {
      await server.close();
    }
    const unreachable = await runCli(
      ['health'],
      { HERALD_OPS_URL: url },
      { out: () => undefined, err: () => undefined },
    );
    expect(unreachable).toBe(1);
  });
});

describe('the ops process (npm run ops)', () => {
  const entry = join(__dirname, '..', '..', 'dist', 'workers', 'ops', 'ops.main.js');

  it('listens, accepts the bootstrap token, and stops cleanly on SIGTERM', async () => {
    const ns = redisNamespace();
    const child = startChild(process.execPath, {
      name: 'ops',
      args: [entry],
      env: {
        HERALD_PREFIX: ns.prefix,
        OPS_PORT: '0',
        HERALD_OPS_BOOTSTRAP_TOKEN: BOOTSTRAP,
        LOG_LEVEL: 'info',
      },
      output: { tail: 20_000 },
    });
    try {
      const url = await waitFor(
        () => /"address":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(child.output())?.[1],
        'the operator API listening',
        30_000,
      );
      const res = await fetch(`${url}/api/v1/tokens`, {
        method: 'POST',
        headers: { authorization: `Bearer ${BOOTSTRAP}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'first', role: 'admin' }),
      });
      expect(res.status).toBe(201);
      expect((await fetch(`${url}/api/v1/tokens`)).status).toBe(401);
      expect(await child.stop(10_000)).toBe(0);
      expect(child.output()).toMatch(/"msg":"stopped"/);
      expect(child.output()).not.toContain(BOOTSTRAP);
    } finally {
      if (!child.hasExited()) await child.kill();
      await ns.drop();
    }
  });

  it('stops at start with one line naming a bad value', async () => {
    const child = startChild(process.execPath, {
      name: 'ops-bad',
      args: [entry],
      env: { OPS_PORT: 'seventy' },
      output: { tail: 2000 },
    });
    expect(await child.exited).toBe(78);
    expect(child.output().trim()).toMatch(/^config: OPS_PORT="seventy" is invalid: /);
  });
});
