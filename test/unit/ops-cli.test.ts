import { parseArgs, type Call } from '../../services/ops/cli/args';
import { formatAnswer } from '../../services/ops/cli/format';
import { runCli } from '../../services/ops/cli/herald';
import { loadOpsConfig } from '../../services/ops/config';
import { ACTIONS, mayCall, ROLES } from '../../services/ops/http/roles';
import { FailedQuery, Instant, ReplayBody } from '../../services/ops/http/schemas';
import type { ReplayReport } from '../../services/ops/api';

function call(argv: string[]): Call {
  const parsed = parseArgs(argv);
  if (parsed.kind !== 'call') throw new Error(`expected a call, got ${JSON.stringify(parsed)}`);
  return parsed;
}

function usage(argv: string[]): string {
  const parsed = parseArgs(argv);
  if (parsed.kind !== 'usage') throw new Error(`expected a usage error, got ${JSON.stringify(parsed)}`);
  return parsed.message;
}

describe('herald CLI arguments', () => {
  it('lists failed jobs with the filter as the query', () => {
    const c = call(['failed', 'list', '--queue', 'send-time', '--user=u1', '--from', '2026-03-01T00:00:00Z']);
    expect(c).toMatchObject({ method: 'GET', path: '/api/v1/jobs/failed', view: 'failed', auth: true });
    expect(c.query).toEqual({ queue: 'send-time', userId: 'u1', from: '2026-03-01T00:00:00Z' });
  });

  it('replays as a dry run unless --confirm is given', () => {
    const dry = call(['replay', '--job', 'filter:abc', '--job', 'score:d-e']);
    expect(dry.body).toEqual({
      jobs: [
        { queue: 'filter', id: 'abc' },
        { queue: 'score', id: 'd-e' },
      ],
      dryRun: true,
    });
    const real = call(['replay', '--queue', 'filter', '--reason', 'timeout', '--confirm', '--override']);
    expect(real.body).toEqual({
      filter: { queue: 'filter', reason: 'timeout' },
      dryRun: false,
      override: true,
    });
    expect(call(['replay', '--all']).body).toEqual({ filter: {}, dryRun: true });
  });

  it('refuses a replay that selects nothing, or both ids and a filter', () => {
    expect(usage(['replay'])).toMatch(/--job, a filter, or --all/);
    expect(usage(['replay', '--job', 'filter:a', '--queue', 'filter'])).toMatch(/cannot be combined/);
    expect(usage(['replay', '--job', 'nocolon'])).toMatch(/QUEUE:ID/);
    expect(usage(['replay', '--all', '--queue', 'filter'])).toMatch(/cannot be combined/);
  });

  it('maps the dead-letter, topic, explain, audit and token commands', () => {
    expect(call(['dead-letters', 'list', '--reason', 'schema'])).toMatchObject({
      path: '/api/v1/dead-letters',
      query: { reason: 'schema' },
    });
    expect(call(['dead-letters', 'show', '0:42']).path).toBe('/api/v1/dead-letters/0%3A42');
    expect(call(['dead-letters', 'redrive', '--id', '0:1', '--id', '1:7', '--confirm']).body).toEqual({
      ids: ['0:1', '1:7'],
      dryRun: false,
    });
    expect(call(['dead-letters', 'redrive', '--id', '0:1', '--fix-json', '{"amount":5}']).body).toEqual({
      fix: { id: '0:1', value: { amount: 5 } },
      dryRun: true,
    });
    expect(() => call(['dead-letters', 'redrive', '--id', '0:1', '--fix-json', '{amount'])).toThrow(
      /--fix-json is not JSON/,
    );
    expect(
      call(['topics', 'replay', '--topic', 'purchases', '--from', '1', '--to', '2', '--namespace', 'bt'])
        .body,
    ).toEqual({ topic: 'purchases', from: '1', to: '2', namespace: 'bt', dryRun: true });
    expect(call(['explain', 'user/1', '--from', '5'])).toMatchObject({
      path: '/api/v1/users/user%2F1/explain',
      query: { from: '5' },
    });
    expect(call(['audit', '--action', 'jobs.replay']).query).toEqual({ action: 'jobs.replay' });
    expect(call(['tokens', 'create', '--name', 'ci', '--role', 'viewer'])).toMatchObject({
      method: 'POST',
      body: { name: 'ci', role: 'viewer' },
    });
    expect(call(['tokens', 'revoke', 'tok_1'])).toMatchObject({
      method: 'DELETE',
      path: '/api/v1/tokens/tok_1',
    });
    expect(call(['health'])).toMatchObject({ path: '/healthz', auth: false });
    expect(call(['tokens', 'list', '--json']).json).toBe(true);
  });

  it('answers usage errors for what it does not know or misses', () => {
    expect(usage(['frobnicate'])).toMatch(/unknown command: frobnicate/);
    expect(usage(['failed', 'list', '--queu', 'x'])).toMatch(/unknown flag --queu/);
    expect(usage(['topics', 'replay', '--topic', 'purchases'])).toMatch(/--from is required/);
    expect(usage(['tokens', 'create', '--name'])).toMatch(/--name needs a value/);
    expect(usage(['explain'])).toMatch(/USER/);
    expect(usage(['audit', '--limit', '1', '--limit', '2'])).toMatch(/given twice/);
    expect(parseArgs([]).kind).toBe('help');
    expect(parseArgs(['replay', '--help']).kind).toBe('help');
  });

  it('exits 2 on usage and without a token, before any call', async () => {
    const err: string[] = [];
    const io = { out: () => undefined, err: (t: string) => void err.push(t) };
    const never = () => Promise.reject(new Error('no call expected'));
    expect(await runCli(['bogus'], {}, io, never)).toBe(2);
    expect(await runCli(['audit'], {}, io, never)).toBe(2);
    expect(err.join('\n')).toMatch(/HERALD_OPS_TOKEN is not set/);
  });

  it('prints a dry-run report for people', () => {
    const report: ReplayReport = {
      dryRun: true,
      jobs: 2,
      replayed: 0,
      users: 10,
      pushes: 7,
      deferred: 2,
      dropped: { opted_out: 2, cooldown: 1 },
      perJob: [
        {
          queue: 'filter',
          id: 'a',
          users: 10,
          pushes: 7,
          deferred: 2,
          dropped: { opted_out: 2, cooldown: 1 },
        },
      ],
    };
    const text = formatAnswer('replay', report);
    expect(text).toMatch(/^DRY RUN: nothing was replayed\. Add --confirm/);
    expect(text).toMatch(/pushes +7 would go out/);
    expect(text).toMatch(/2 of them after the user's quiet hours/);
    expect(text).toMatch(/dropped +opted_out 2, cooldown 1/);
    expect(text).toMatch(/filter:a +10 +7/);
  });
});

describe('roles', () => {
  it('lets a viewer read, an operator replay, an admin manage tokens', () => {
    expect(mayCall('viewer', 'jobs.failed')).toBe(true);
    expect(mayCall('viewer', 'audit.list')).toBe(true);
    expect(mayCall('viewer', 'jobs.replay')).toBe(false);
    expect(mayCall('operator', 'jobs.replay')).toBe(true);
    expect(mayCall('operator', 'dead-letters.redrive')).toBe(true);
    expect(mayCall('operator', 'topics.replay')).toBe(true);
    expect(mayCall('operator', 'tokens.create')).toBe(false);
    expect(mayCall('admin', 'tokens.create')).toBe(true);
    // Every action is open to an admin, and each role reaches at least what the one below it reaches.
    for (const action of Object.keys(ACTIONS) as Array<keyof typeof ACTIONS>) {
      expect(mayCall('admin', action)).toBe(true);
      expect(ROLES.map((r) => mayCall(r, action))).toEqual([...ROLES.map((r) => mayCall(r, action))].sort());
    }
  });
});

describe('request schemas', () => {
  it('reads times as ISO or epoch ms', () => {
    expect(Instant.parse('2026-03-01T00:00:00Z')).toBe(Date.UTC(2026, 2, 1));
    expect(Instant.parse('1772323200000')).toBe(1772323200000);
    expect(Instant.safeParse('yesterday').success).toBe(false);
  });

  it('takes a queue by key or name, and refuses unknown fields', () => {
    expect(FailedQuery.parse({ queue: 'send-time' }).queue).toBe('sendTime');
    expect(FailedQuery.parse({ queue: 'sendTime' }).queue).toBe('sendTime');
    expect(FailedQuery.safeParse({ queue: 'nope' }).success).toBe(false);
    expect(FailedQuery.safeParse({ queu: 'filter' }).success).toBe(false);
    expect(ReplayBody.safeParse({ jobs: [{ queue: 'filter', id: 'a' }], overide: true }).success).toBe(false);
    expect(ReplayBody.safeParse({ dryRun: false }).success).toBe(false);
  });
});

describe('ops config', () => {
  it('has defaults, and stops on a bad value with one line naming it', () => {
    const c = loadOpsConfig({});
    expect(c).toMatchObject({
      OPS_PORT: 7070,
      OPS_HOST: '127.0.0.1',
      OPS_MAX_REPLAY: 1000,
      OPS_RATE_LIMIT: 10,
      OPS_RATE_WINDOW_MS: 60_000,
    });
    expect(c.HERALD_OPS_BOOTSTRAP_TOKEN).toBeUndefined();
    expect(c.BATCH_SIZE).toBe(500);
    expect(() => loadOpsConfig({ OPS_MAX_REPLAY: '0' })).toThrow(/^config: OPS_MAX_REPLAY="0" is invalid: /);
    // The secret is not repeated in the line.
    expect(() => loadOpsConfig({ HERALD_OPS_BOOTSTRAP_TOKEN: 'short-secret' })).toThrow(
      /^config: HERALD_OPS_BOOTSTRAP_TOKEN=\(hidden\) is invalid: at least 24 characters$/,
    );
  });
});
