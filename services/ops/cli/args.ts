/**
 * The `herald` CLI's command line, parsed into the one HTTP call it makes. Pure: no network, no process, so
 * every command's mapping is unit-tested. State-changing commands are dry runs unless `--confirm` is given.
 */

export const USAGE = `usage: herald <command> [flags]

  failed list [--queue Q] [--reason R] [--strategy S] [--user U] [--from T] [--to T] [--limit N] [--cursor C]
  replay (--job QUEUE:ID ... | [--queue Q] [--reason R] [--strategy S] [--user U] [--from T] [--to T] | --all)
         [--override] [--confirm]
  dead-letters list [--reason R] [--topic T] [--from T] [--to T] [--limit N] [--cursor C]
  dead-letters show ID
  dead-letters redrive (--id ID ... | [--reason R] [--topic T] [--from T] [--to T] | --all) [--override] [--confirm]
  dead-letters redrive --id ID --fix-json '{...the corrected event...}' [--confirm]
  topics replay --topic T --from T --to T --namespace NS [--confirm]
  explain USER [--from T] [--to T]
  audit [--action A] [--actor TOKEN_ID_OR_NAME] [--limit N] [--cursor C]
  tokens list | tokens create --name N --role viewer|operator|admin | tokens revoke ID
  health

Times (T) are ISO 8601 or epoch milliseconds. replay, dead-letters redrive and topics replay are dry runs
unless --confirm is given. Add --json to any command for the API's raw answer.

Environment: HERALD_OPS_URL (default http://127.0.0.1:7070), HERALD_OPS_TOKEN (the API token).
Exit codes: 0 ok, 1 the call failed (the API's message is printed), 2 usage.`;

/** How the answer is printed for people (with --json it is printed raw). */
export type View =
  | 'failed'
  | 'replay'
  | 'letters'
  | 'letter'
  | 'redrive'
  | 'topic-replay'
  | 'explain'
  | 'audit'
  | 'tokens'
  | 'token-created'
  | 'token-revoked'
  | 'health';

export interface Call {
  kind: 'call';
  method: 'GET' | 'POST' | 'DELETE';
  /** Path under the API root, e.g. `/api/v1/jobs/failed` (path segments already encoded). */
  path: string;
  query?: Record<string, string>;
  body?: Record<string, unknown>;
  view: View;
  json: boolean;
  /** Whether the call needs a token (all but health). */
  auth: boolean;
}

export type Parsed = Call | { kind: 'help' } | { kind: 'usage'; message: string };

const BOOLEAN = new Set(['confirm', 'json', 'override', 'all', 'help']);
const REPEATED = new Set(['job', 'id']);

interface Flags {
  values: Map<string, string[]>;
  bools: Set<string>;
  positional: string[];
}

class UsageError extends Error {}

function splitFlags(argv: string[]): Flags {
  const values = new Map<string, string[]>();
  const bools = new Set<string>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--') || arg === '--') {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (BOOLEAN.has(name)) {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      bools.add(name);
      continue;
    }
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      value = argv[i + 1];
      if (value === undefined || value.startsWith('--')) throw new UsageError(`--${name} needs a value`);
      i++;
    }
    const list = values.get(name) ?? [];
    if (list.length > 0 && !REPEATED.has(name)) throw new UsageError(`--${name} given twice`);
    values.set(name, [...list, value]);
  }
  return { values, bools, positional };
}

/** Reads the flags a command allows; any other flag is a usage error. */
function reader(flags: Flags, allowed: string[]) {
  const ok = new Set([...allowed, 'json', 'help']);
  for (const name of [...flags.values.keys(), ...flags.bools]) {
    if (!ok.has(name)) throw new UsageError(`unknown flag --${name} for this command`);
  }
  return {
    one: (name: string) => flags.values.get(name)?.[0],
    many: (name: string) => flags.values.get(name) ?? [],
    has: (name: string) => flags.bools.has(name),
    required(name: string): string {
      const v = flags.values.get(name)?.[0];
      if (v === undefined) throw new UsageError(`--${name} is required`);
      return v;
    },
  };
}

/** Drops the undefined entries. */
function defined(o: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).filter((e): e is [string, string] => e[1] !== undefined));
}

function noMorePositional(rest: string[]): void {
  if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`);
}

const API = '/api/v1';
const seg = encodeURIComponent;

export function parseArgs(argv: string[]): Parsed {
  try {
    return parse(argv);
  } catch (err) {
    if (err instanceof UsageError) return { kind: 'usage', message: err.message };
    throw err;
  }
}

function parse(argv: string[]): Parsed {
  const flags = splitFlags(argv);
  const [command, ...rest] = flags.positional;
  if (flags.bools.has('help') || command === undefined || command === 'help') return { kind: 'help' };
  const json = flags.bools.has('json');
  const call = (c: Omit<Call, 'kind' | 'json' | 'auth'> & { auth?: boolean }): Call => ({
    kind: 'call',
    json,
    auth: true,
    ...c,
  });

  switch (command) {
    case 'failed': {
      const [sub = 'list', ...more] = rest;
      if (sub !== 'list') throw new UsageError(`unknown command: failed ${sub}`);
      noMorePositional(more);
      const f = reader(flags, ['queue', 'reason', 'strategy', 'user', 'from', 'to', 'limit', 'cursor']);
      return call({
        method: 'GET',
        path: `${API}/jobs/failed`,
        query: defined({
          queue: f.one('queue'),
          reason: f.one('reason'),
          strategy: f.one('strategy'),
          userId: f.one('user'),
          from: f.one('from'),
          to: f.one('to'),
          limit: f.one('limit'),
          cursor: f.one('cursor'),
        }),
        view: 'failed',
      });
    }

    case 'replay': {
      noMorePositional(rest);
      const f = reader(flags, [
        'job',
        'queue',
        'reason',
        'strategy',
        'user',
        'from',
        'to',
        'all',
        'override',
        'confirm',
      ]);
      const filter = defined({
        queue: f.one('queue'),
        reason: f.one('reason'),
        strategy: f.one('strategy'),
        userId: f.one('user'),
        from: f.one('from'),
        to: f.one('to'),
      });
      const jobs = f.many('job').map((j) => {
        const cut = j.indexOf(':');
        if (cut <= 0 || cut === j.length - 1) throw new UsageError(`--job ${j}: expected QUEUE:ID`);
        return { queue: j.slice(0, cut), id: j.slice(cut + 1) };
      });
      const selection = selectOne(jobs.length > 0, Object.keys(filter).length > 0, f.has('all'), '--job');
      return call({
        method: 'POST',
        path: `${API}/jobs/replay`,
        body: {
          ...(selection === 'ids' ? { jobs } : { filter }),
          dryRun: !f.has('confirm'),
          ...(f.has('override') ? { override: true } : {}),
        },
        view: 'replay',
      });
    }

    case 'dead-letters': {
      const [sub, ...more] = rest;
      if (sub === 'list') {
        noMorePositional(more);
        const f = reader(flags, ['reason', 'topic', 'from', 'to', 'limit', 'cursor']);
        return call({
          method: 'GET',
          path: `${API}/dead-letters`,
          query: defined({
            reason: f.one('reason'),
            topic: f.one('topic'),
            from: f.one('from'),
            to: f.one('to'),
            limit: f.one('limit'),
            cursor: f.one('cursor'),
          }),
          view: 'letters',
        });
      }
      if (sub === 'show') {
        const [id, ...extra] = more;
        if (id === undefined) throw new UsageError('dead-letters show needs an ID');
        noMorePositional(extra);
        reader(flags, []);
        return call({ method: 'GET', path: `${API}/dead-letters/${seg(id)}`, view: 'letter' });
      }
      if (sub === 'redrive') {
        noMorePositional(more);
        const f = reader(flags, [
          'id',
          'reason',
          'topic',
          'from',
          'to',
          'all',
          'override',
          'confirm',
          'fix-json',
        ]);
        const fixJson = f.one('fix-json');
        if (fixJson !== undefined) {
          const ids = f.many('id');
          if (ids.length !== 1) throw new UsageError('--fix-json goes with exactly one --id');
          let value: unknown;
          try {
            value = JSON.parse(fixJson);
          } catch (err) {
            throw new UsageError(`--fix-json is not JSON: ${(err as Error).message}`);
          }
          return call({
            method: 'POST',
            path: `${API}/dead-letters/redrive`,
            body: { fix: { id: ids[0], value }, dryRun: !f.has('confirm') },
            view: 'redrive',
          });
        }
        const filter = defined({
          reason: f.one('reason'),
          topic: f.one('topic'),
          from: f.one('from'),
          to: f.one('to'),
        });
        const ids = f.many('id');
        const selection = selectOne(ids.length > 0, Object.keys(filter).length > 0, f.has('all'), '--id');
        return call({
          method: 'POST',
          path: `${API}/dead-letters/redrive`,
          body: {
            ...(selection === 'ids' ? { ids } : { filter }),
            dryRun: !f.has('confirm'),
            ...(f.has('override') ? { override: true } : {}),
          },
          view: 'redrive',
        });
      }
      throw new UsageError(
        sub === undefined
          ? 'dead-letters needs list, show or redrive'
          : `unknown command: dead-letters ${sub}`,
      );
    }

    case 'topics': {
      const [sub, ...more] = rest;
      if (sub !== 'replay') throw new UsageError('topics needs replay');
      noMorePositional(more);
      const f = reader(flags, ['topic', 'from', 'to', 'namespace', 'confirm']);
      return call({
        method: 'POST',
        path: `${API}/topics/replay`,
        body: {
          topic: f.required('topic'),
          from: f.required('from'),
          to: f.required('to'),
          namespace: f.required('namespace'),
          dryRun: !f.has('confirm'),
        },
        view: 'topic-replay',
      });
    }

    case 'explain': {
      const [user, ...more] = rest;
      if (user === undefined) throw new UsageError('explain needs a USER id');
      noMorePositional(more);
      const f = reader(flags, ['from', 'to']);
      return call({
        method: 'GET',
        path: `${API}/users/${seg(user)}/explain`,
        query: defined({ from: f.one('from'), to: f.one('to') }),
        view: 'explain',
      });
    }

    case 'audit': {
      noMorePositional(rest);
      const f = reader(flags, ['action', 'actor', 'limit', 'cursor']);
      return call({
        method: 'GET',
        path: `${API}/audit`,
        query: defined({
          action: f.one('action'),
          actor: f.one('actor'),
          limit: f.one('limit'),
          cursor: f.one('cursor'),
        }),
        view: 'audit',
      });
    }

    case 'tokens': {
      const [sub, ...more] = rest;
      if (sub === 'list') {
        noMorePositional(more);
        reader(flags, []);
        return call({ method: 'GET', path: `${API}/tokens`, view: 'tokens' });
      }
      if (sub === 'create') {
        noMorePositional(more);
        const f = reader(flags, ['name', 'role']);
        return call({
          method: 'POST',
          path: `${API}/tokens`,
          body: { name: f.required('name'), role: f.required('role') },
          view: 'token-created',
        });
      }
      if (sub === 'revoke') {
        const [id, ...extra] = more;
        if (id === undefined) throw new UsageError('tokens revoke needs an ID');
        noMorePositional(extra);
        reader(flags, []);
        return call({ method: 'DELETE', path: `${API}/tokens/${seg(id)}`, view: 'token-revoked' });
      }
      throw new UsageError(
        sub === undefined ? 'tokens needs list, create or revoke' : `unknown command: tokens ${sub}`,
      );
    }

    case 'health': {
      noMorePositional(rest);
      reader(flags, []);
      return call({ method: 'GET', path: '/healthz', view: 'health', auth: false });
    }

    default:
      throw new UsageError(`unknown command: ${command}`);
  }
}

/** A replay or re-drive names its items, or gives a filter, or says --all: exactly one of them. */
function selectOne(ids: boolean, filter: boolean, all: boolean, idFlag: string): 'ids' | 'filter' {
  if (ids && (filter || all)) throw new UsageError(`${idFlag} cannot be combined with a filter or --all`);
  if (filter && all) throw new UsageError('--all cannot be combined with a filter');
  if (!ids && !filter && !all) {
    throw new UsageError(`name what to select with ${idFlag}, a filter, or --all`);
  }
  return ids ? 'ids' : 'filter';
}
