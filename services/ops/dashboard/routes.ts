/**
 * The operator dashboard, served by the ops server under /dashboard: a login page that keeps the API token
 * in an HttpOnly, SameSite=Strict cookie scoped to /dashboard; Herald's own pages (services/ops/dashboard/
 * pages.ts), rendered on the server without scripts; and bull-board for the queues, read-only.
 *
 * The pages are thin views over the operator API: every list, replay and re-drive is a call to the API's
 * own route (Fastify `inject`) with the signed-in token, so the same roles, validation, rate limit and
 * audit apply as for the CLI. The overview reads the Herald-wide figures the /metrics route serves.
 *
 * Safety: a cookie that is HttpOnly (no script reads it) and SameSite=Strict (no other site's form can
 * post with it; a post whose Origin is another site's is refused as well), and a Content-Security-Policy
 * that lets a page load nothing from outside this server. Replay and re-drive are dry runs unless the
 * confirmation form, rendered only with the dry run's report, says otherwise. A viewer sees no action buttons, and a viewer's post is refused with 403.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../../../shared/logger';
import { reasonClass } from '../../../shared/metrics';
import type {
  Actor,
  DeadLetterDetail,
  DeadLetterView,
  Explanation,
  FailedJobView,
  Page,
  RedriveReport,
  ReplayReport,
} from '../api';
import type { Figures } from '../figures';
import { mayCall } from '../http/roles';
import type { TokenStore } from '../tokens';
import {
  deadLetterPage,
  deadLettersPage,
  errorPage,
  explainPage,
  failedPage,
  loginPage,
  overviewPage,
  redriveReportPage,
  replayReportPage,
  type Who,
} from './pages';

export interface DashboardDeps {
  tokens: Pick<TokenStore, 'authenticate'>;
  figures: Pick<Figures, 'snapshot' | 'series'>;
  /**
   * The queue board (bull-board, services/ops/dashboard/queue-board.ts), mounted at /dashboard/queues
   * behind the sign-in. Default: none (the Queues link answers 404).
   */
  queueBoard?: FastifyPluginAsync;
  logger: Logger;
  /** Samples the overview charts (the last ones). Default 240. */
  chartSamples?: number;
  /** Told who signed a request in, so the server's request log names the token id. Default: nothing. */
  identify?: (req: FastifyRequest, actor: Actor) => void;
}

export const COOKIE = 'herald_token';
/** How long a sign-in lasts, in seconds: a working day. */
const COOKIE_MAX_AGE = 8 * 3600;
const CSP = [
  "default-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'self'",
].join('; ');

type Form = Record<string, string[]>;

/** The value of `name` in a Cookie header. */
export function cookieOf(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

const one = (f: Form, k: string) => f[k]?.[0];

/** A request without an Origin header (not a browser's cross-site form), or from this server's own. */
function sameOrigin(req: FastifyRequest): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

/** Turns a form's replay selection into the API's body. */
export function replayBody(f: Form): { body: Record<string, unknown>; selection: Form } {
  const dryRun = one(f, 'confirm') !== '1';
  const jobs = (f.job ?? []).map((ref) => {
    const cut = ref.indexOf('/');
    return { queue: ref.slice(0, cut), id: ref.slice(cut + 1) };
  });
  const selection: Form = {};
  if (jobs.length) {
    selection.job = f.job!;
    return { body: { jobs, dryRun }, selection };
  }
  const filter: Record<string, string> = {};
  for (const k of ['queue', 'reason'] as const) {
    const v = one(f, k);
    if (v) {
      filter[k] = v;
      selection[k] = [v];
    }
  }
  selection.all = ['1'];
  return { body: { filter, dryRun }, selection };
}

/** Turns a form's re-drive selection (letters, or one letter with a fix) into the API's body. */
export function redriveBody(f: Form): { body: Record<string, unknown>; selection: Form } | { error: string } {
  const dryRun = one(f, 'confirm') !== '1';
  const fixId = one(f, 'fixId');
  if (fixId) {
    const text = one(f, 'fix') ?? '';
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return { error: `fix: not JSON (${(err as Error).message})` };
    }
    return { body: { fix: { id: fixId, value }, dryRun }, selection: { fixId: [fixId], fix: [text] } };
  }
  const ids = f.id ?? [];
  if (ids.length === 0) return { error: 'id: choose a dead letter to re-drive' };
  return { body: { ids, dryRun }, selection: { id: ids } };
}

/** Registers the dashboard's routes on the ops server (`app` is the root: the pages inject into its API). */
export function registerDashboard(app: FastifyInstance, deps: DashboardDeps): void {
  const { tokens, figures, logger } = deps;
  const actors = new WeakMap<FastifyRequest, Actor>();

  const whoOf = (req: FastifyRequest): Who => {
    const a = actors.get(req)!;
    return { name: a.name, role: a.role, mayAct: mayCall(a.role, 'jobs.replay') };
  };

  async function signedIn(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const token = cookieOf(req.headers.cookie, COOKIE);
    const actor = token ? await tokens.authenticate(token) : undefined;
    if (actor) {
      actors.set(req, actor);
      deps.identify?.(req, actor);
      return undefined;
    }
    const wantsPage = req.method === 'GET' && (req.headers.accept ?? '').includes('text/html');
    if (wantsPage) return reply.code(303).header('location', '/dashboard/login').send();
    return reply.code(401).send({ error: 'sign in at /dashboard/login' });
  }

  /** Calls the operator API as the signed-in token. */
  async function api<T>(req: FastifyRequest, method: 'GET' | 'POST', url: string, payload?: object) {
    const token = cookieOf(req.headers.cookie, COOKIE)!;
    const res = await app.inject({
      method,
      url,
      headers: {
        authorization: `Bearer ${token}`,
        ...(payload ? { 'content-type': 'application/json' } : {}),
      },
      ...(payload ? { payload: JSON.stringify(payload) } : {}),
    });
    const json = res.json<T & { error?: string }>();
    return { status: res.statusCode, json };
  }

  /** Renders the API's refusal as a page with the API's status. */
  const refuse = (req: FastifyRequest, reply: FastifyReply, status: number, message: string) =>
    reply
      .code(status)
      .type('text/html; charset=utf-8')
      .send(errorPage(whoOf(req), status, message));

  const htmlOf = (reply: FastifyReply, body: string) => reply.type('text/html; charset=utf-8').send(body);

  const query = (req: FastifyRequest, keys: readonly string[]) => {
    const q = req.query as Record<string, unknown>;
    const out: Record<string, string> = {};
    for (const k of keys) {
      const v = q[k];
      if (typeof v === 'string' && v.trim() !== '') out[k] = v.trim();
    }
    return out;
  };

  void app.register(async (scope) => {
    scope.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: 256 * 1024 },
      (_req, body, done) => {
        const form: Form = {};
        for (const [k, v] of new URLSearchParams(body as string)) (form[k] ??= []).push(v);
        done(null, form);
      },
    );
    scope.addHook('onSend', async (_req, reply, payload) => {
      void reply.header('content-security-policy', CSP);
      void reply.header('x-content-type-options', 'nosniff');
      void reply.header('cache-control', 'no-store');
      return payload;
    });

    // ---- sign in and out (no token needed)
    scope.get('/dashboard/login', (_req, reply) => htmlOf(reply, loginPage()));
    scope.post('/dashboard/login', async (req, reply) => {
      const token = one((req.body ?? {}) as Form, 'token')?.trim() ?? '';
      const actor = token ? await tokens.authenticate(token) : undefined;
      if (!actor) return htmlOf(reply.code(401), loginPage('That token is not valid (or was revoked).'));
      logger.info({ token: actor.tokenId }, 'dashboard sign-in');
      const secure = req.protocol === 'https' ? '; Secure' : '';
      return reply
        .code(303)
        .header(
          'set-cookie',
          `${COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/dashboard; Max-Age=${COOKIE_MAX_AGE}${secure}`,
        )
        .header('location', '/dashboard')
        .send();
    });
    scope.post('/dashboard/logout', (_req, reply) =>
      reply
        .code(303)
        .header('set-cookie', `${COOKIE}=; HttpOnly; SameSite=Strict; Path=/dashboard; Max-Age=0`)
        .header('location', '/dashboard/login')
        .send(),
    );

    // ---- everything else needs a signed-in token
    await scope.register(async (pages) => {
      pages.addHook('onRequest', signedIn);
      // Besides the SameSite cookie: a form posted from another origin is refused.
      pages.addHook('onRequest', async (req, reply) => {
        if (req.method === 'GET' || req.method === 'HEAD' || sameOrigin(req)) return undefined;
        return reply.code(403).send({ error: 'cross-origin request refused' });
      });

      const overview = async (req: FastifyRequest, reply: FastifyReply) => {
        const [now, history] = await Promise.all([
          figures.snapshot(),
          figures.series(deps.chartSamples ?? 240),
        ]);
        return htmlOf(reply, overviewPage(whoOf(req), now, history));
      };
      pages.get('/dashboard', overview);
      pages.get('/dashboard/', overview);

      pages.get('/dashboard/failed', async (req, reply) => {
        const filter = query(req, ['queue', 'reason']);
        const cursor = query(req, ['cursor']);
        const r = await api<Page<FailedJobView>>(
          req,
          'GET',
          `/api/v1/jobs/failed?${new URLSearchParams({ ...filter, ...cursor }).toString()}`,
        );
        if (r.status !== 200) return refuse(req, reply, r.status, r.json.error ?? 'failed');
        return htmlOf(reply, failedPage(whoOf(req), r.json, filter));
      });

      pages.post('/dashboard/failed/replay', async (req, reply) => {
        const who = whoOf(req);
        if (!who.mayAct)
          return refuse(req, reply, 403, `replay needs the operator role; this token is ${who.role}`);
        const { body, selection } = replayBody((req.body ?? {}) as Form);
        const r = await api<ReplayReport>(req, 'POST', '/api/v1/jobs/replay', body);
        if (r.status !== 200) return refuse(req, reply, r.status, r.json.error ?? 'replay failed');
        return htmlOf(reply, replayReportPage(who, r.json, selection));
      });

      pages.get('/dashboard/dead-letters', async (req, reply) => {
        const filter = query(req, ['topic', 'reason']);
        const cursor = query(req, ['cursor']);
        const r = await api<Page<DeadLetterView>>(
          req,
          'GET',
          `/api/v1/dead-letters?${new URLSearchParams({ ...filter, ...cursor, limit: '200' }).toString()}`,
        );
        if (r.status !== 200) return refuse(req, reply, r.status, r.json.error ?? 'failed');
        const byReason = new Map<string, number>();
        for (const l of r.json.items)
          byReason.set(reasonClass(l.reason), (byReason.get(reasonClass(l.reason)) ?? 0) + 1);
        return htmlOf(
          reply,
          deadLettersPage(
            whoOf(req),
            r.json,
            filter,
            [...byReason].map(([label, value]) => ({ label, value })),
          ),
        );
      });

      pages.get('/dashboard/dead-letters/:id', async (req, reply) => {
        const { id } = req.params as { id: string };
        const r = await api<DeadLetterDetail>(req, 'GET', `/api/v1/dead-letters/${encodeURIComponent(id)}`);
        if (r.status !== 200) return refuse(req, reply, r.status, r.json.error ?? 'failed');
        return htmlOf(reply, deadLetterPage(whoOf(req), r.json));
      });

      pages.post('/dashboard/dead-letters/redrive', async (req, reply) => {
        const who = whoOf(req);
        if (!who.mayAct)
          return refuse(req, reply, 403, `re-drive needs the operator role; this token is ${who.role}`);
        const parsed = redriveBody((req.body ?? {}) as Form);
        if ('error' in parsed) return refuse(req, reply, 400, parsed.error);
        const r = await api<RedriveReport>(req, 'POST', '/api/v1/dead-letters/redrive', parsed.body);
        if (r.status !== 200) return refuse(req, reply, r.status, r.json.error ?? 're-drive failed');
        return htmlOf(reply, redriveReportPage(who, r.json, parsed.selection));
      });

      pages.get('/dashboard/explain', async (req, reply) => {
        const { user } = query(req, ['user']);
        if (!user) return htmlOf(reply, explainPage(whoOf(req), undefined, undefined));
        const r = await api<Explanation>(req, 'GET', `/api/v1/users/${encodeURIComponent(user)}/explain`);
        if (r.status !== 200) return refuse(req, reply, r.status, r.json.error ?? 'failed');
        return htmlOf(reply, explainPage(whoOf(req), user, r.json));
      });

      // ---- the queue board, read-only: a retry from it would run a job as it was, without the replay's
      // dry run and audit; operators replay from the failed-jobs page.
      const board = deps.queueBoard;
      if (board) {
        await pages.register(async (queues) => {
          queues.addHook('onRequest', async (req, reply) => {
            if (req.method === 'GET' || req.method === 'HEAD') return undefined;
            return reply
              .code(403)
              .send({ error: 'the queue board is read-only; replay from /dashboard/failed' });
          });
          // bull-board's page asks a font host for its typeface: nothing leaves this machine.
          queues.addHook('onSend', async (_req, reply, payload) => {
            if (
              typeof payload !== 'string' ||
              !String(reply.getHeader('content-type') ?? '').includes('html')
            ) {
              return payload;
            }
            return payload.replace(/<link[^>]+fonts\.googleapis\.com[^>]*>/g, '');
          });
          await queues.register(board);
        });
      }
    });
  });
}
