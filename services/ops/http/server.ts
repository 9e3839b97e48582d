/**
 * The operator API over HTTP (Fastify). A thin transport: each route authenticates the bearer token, checks
 * the role, validates the query or body, rate-limits the heavy calls, calls the OpsService, and writes an
 * audit record for every state-changing call once the service has answered (dry runs too). Decisions are
 * the service's.
 *
 * Logs carry no user data beyond ids: one line per request with the route pattern (not the URL), the
 * status, the time and the caller's token id; never a body, a query, a header or a token. Fastify's own
 * logger stays off.
 */
import {
  fastify,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { z } from 'zod';
import type { Logger } from '../../../shared/logger';
import type { Actor, OpsService } from '../api';
import type { AuditLog } from '../audit';
import { registerDashboard, type DashboardDeps } from '../dashboard/routes';
import { OpsError } from '../errors';
import type { OpsMetrics } from '../metrics';
import type { RateLimiter } from '../rate-limit';
import type { TokenStore } from '../tokens';
import { ACTIONS, mayCall, type Action } from './roles';
import {
  AuditQuery,
  DeadLetterQuery,
  describeIssue,
  ExplainQuery,
  FailedQuery,
  IdParam,
  RedriveBody,
  ReplayBody,
  TokenBody,
  TopicReplayBody,
} from './schemas';

export interface ServerDeps {
  ops: OpsService;
  tokens: TokenStore;
  audit: AuditLog;
  /** Counts replay, re-drive and topic replay calls per token. */
  limiter: RateLimiter;
  logger: Logger;
  /** Largest accepted request body in bytes. Default 1 MiB. */
  bodyLimit?: number;
  /** Herald-wide figures on GET /metrics (any valid token). Default: no /metrics route. */
  metrics?: OpsMetrics;
  /** The dashboard under /dashboard (its pages call this server's API). Default: no dashboard. */
  dashboard?: Omit<DashboardDeps, 'tokens' | 'logger' | 'identify'>;
}

/** A refusal of the transport itself (authentication, role, rate limit), with its status and headers. */
class HttpError extends Error {
  constructor(
    readonly status: 401 | 403 | 404 | 429 | 500,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Ids kept in an audit record's request; a longer selection is recorded by its first ids and its size. */
const AUDIT_IDS = 1000;

export const API = '/api/v1';

export function buildServer({
  ops,
  tokens,
  audit,
  limiter,
  logger,
  bodyLimit = 1 << 20,
  metrics,
  dashboard,
}: ServerDeps): FastifyInstance {
  const app = fastify({ logger: false, bodyLimit });
  const actors = new WeakMap<FastifyRequest, Actor>();

  async function authorize(req: FastifyRequest, action: Action): Promise<Actor> {
    const match = /^Bearer +(\S+)$/i.exec(req.headers.authorization ?? '');
    const bearer = { 'www-authenticate': 'Bearer' };
    if (!match) throw new HttpError(401, 'missing Authorization: Bearer <token>', bearer);
    const actor = await tokens.authenticate(match[1]!);
    if (!actor) throw new HttpError(401, 'invalid or revoked token', bearer);
    actors.set(req, actor);
    if (!mayCall(actor.role, action)) {
      throw new HttpError(403, `${action} needs the ${ACTIONS[action]} role; this token is ${actor.role}`);
    }
    return actor;
  }

  async function rateLimit(actor: Actor): Promise<void> {
    const d = await limiter.hit(actor.tokenId);
    if (d.allowed) return;
    const seconds = Math.max(1, Math.ceil(d.retryAfterMs / 1000));
    throw new HttpError(429, `rate limit reached for this token; try again in ${seconds} s`, {
      'retry-after': String(seconds),
    });
  }

  function parse<S extends z.ZodType>(schema: S, value: unknown, where: string): z.infer<S> {
    const parsed = schema.safeParse(value ?? {});
    if (!parsed.success) throw new OpsError(400, describeIssue(where, parsed.error));
    return parsed.data;
  }

  async function record(
    actor: Actor,
    action: Action,
    request: unknown,
    dryRun: boolean,
    result: Record<string, unknown>,
  ): Promise<void> {
    try {
      await audit.append({ actor: { ...actor }, action, request, dryRun, result });
    } catch (err) {
      // The call already happened and cannot be undone: say so, rather than a 500 the operator would read
      // as "nothing happened" and retry.
      logger.error(
        {
          action,
          token: actor.tokenId,
          dryRun,
          result,
          err: { type: (err as Error).name, message: (err as Error).message },
        },
        'audit record not written',
      );
      throw new HttpError(
        500,
        `${action} was carried out, but its audit record could not be written; see the ops server log`,
      );
    }
  }

  app.addHook('onResponse', (req, reply, done) => {
    logger.info(
      {
        method: req.method,
        route: req.routeOptions.url ?? 'unknown',
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
        token: actors.get(req)?.tokenId,
      },
      'request',
    );
    done();
  });

  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ error: `no route ${req.method} ${req.url.split('?')[0]}` });
  });

  app.setErrorHandler((err: FastifyError | Error, req, reply: FastifyReply) => {
    if (err instanceof HttpError)
      return reply.code(err.status).headers(err.headers).send({ error: err.message });
    if (err instanceof OpsError) return reply.code(err.status).send({ error: err.message });
    // Fastify's own refusals of a request: malformed JSON, a body too large, an unsupported content type.
    const status = (err as FastifyError).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      return reply.code(status).send({ error: err.message });
    }
    // Only the error's kind, message and stack: a client error may carry the command and its arguments.
    logger.error(
      { route: req.routeOptions.url, err: { type: err.name, message: err.message, stack: err.stack } },
      'ops request failed',
    );
    return reply.code(500).send({ error: 'internal error; see the ops server log' });
  });

  app.get('/healthz', async (_req, reply) => {
    const health = await ops.health().catch(() => ({ redis: false, kafka: false }));
    const ok = health.redis && health.kafka;
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', ...health });
  });

  // ---- Herald-wide figures for Prometheus (scrape with `authorization: Bearer <viewer token>`)
  if (metrics) {
    app.get('/metrics', async (req, reply) => {
      await authorize(req, 'metrics.read');
      const text = await metrics.scrape();
      return reply.type(metrics.contentType).send(text);
    });
  }

  if (dashboard) {
    registerDashboard(app, { ...dashboard, tokens, logger, identify: (req, a) => actors.set(req, a) });
  }

  // ---- failed jobs
  app.get(`${API}/jobs/failed`, async (req) => {
    await authorize(req, 'jobs.failed');
    const { cursor, limit, ...filter } = parse(FailedQuery, req.query, 'query');
    return ops.listFailed(filter, { cursor, limit });
  });

  app.post(`${API}/jobs/replay`, async (req) => {
    const actor = await authorize(req, 'jobs.replay');
    const body = dryRunUnlessSaid(parse(ReplayBody, req.body, 'body'));
    await rateLimit(actor);
    const report = await ops.replay(body);
    const { jobs, ...rest } = body;
    await record(actor, 'jobs.replay', { ...rest, ...capIds('jobs', jobs) }, report.dryRun, {
      jobs: report.jobs,
      replayed: report.replayed,
      users: report.users,
      pushes: report.pushes,
      dropped: report.dropped,
    });
    return report;
  });

  // ---- dead letters
  app.get(`${API}/dead-letters`, async (req) => {
    await authorize(req, 'dead-letters.list');
    const { cursor, limit, ...filter } = parse(DeadLetterQuery, req.query, 'query');
    return ops.listDeadLetters(filter, { cursor, limit });
  });

  app.get(`${API}/dead-letters/:id`, async (req) => {
    await authorize(req, 'dead-letters.show');
    const { id } = parse(IdParam, req.params, 'params');
    const letter = await ops.getDeadLetter(id);
    if (!letter) throw new HttpError(404, `no dead letter ${id}`);
    return letter;
  });

  app.post(`${API}/dead-letters/redrive`, async (req) => {
    const actor = await authorize(req, 'dead-letters.redrive');
    const body = dryRunUnlessSaid(parse(RedriveBody, req.body, 'body'));
    await rateLimit(actor);
    const report = await ops.redrive(body);
    const { ids, ...rest } = body;
    await record(actor, 'dead-letters.redrive', { ...rest, ...capIds('ids', ids) }, report.dryRun, {
      selected: report.selected,
      valid: report.valid,
      invalid: report.invalid.length,
      alreadyRedriven: report.alreadyRedriven,
      redriven: report.redriven,
      byTopic: report.byTopic,
    });
    return report;
  });

  // ---- Kafka time-range replay into another namespace
  app.post(`${API}/topics/replay`, async (req) => {
    const actor = await authorize(req, 'topics.replay');
    const body = dryRunUnlessSaid(parse(TopicReplayBody, req.body, 'body'));
    await rateLimit(actor);
    const report = await ops.replayTopic(body);
    await record(actor, 'topics.replay', body, report.dryRun, {
      source: report.source,
      target: report.target,
      messages: report.messages,
      copied: report.copied,
    });
    return report;
  });

  // ---- explain a user
  app.get(`${API}/users/:id/explain`, async (req) => {
    await authorize(req, 'users.explain');
    const { id } = parse(IdParam, req.params, 'params');
    const range = parse(ExplainQuery, req.query, 'query');
    return ops.explain(id, range);
  });

  // ---- audit
  app.get(`${API}/audit`, async (req) => {
    await authorize(req, 'audit.list');
    return audit.list(parse(AuditQuery, req.query, 'query'));
  });

  // ---- tokens
  app.get(`${API}/tokens`, async (req) => {
    await authorize(req, 'tokens.list');
    return { items: await tokens.list() };
  });

  app.post(`${API}/tokens`, async (req, reply) => {
    const actor = await authorize(req, 'tokens.create');
    const body = parse(TokenBody, req.body, 'body');
    const created = await tokens.create({ ...body, createdBy: actor.tokenId });
    await record(actor, 'tokens.create', body, false, { id: created.token.id, role: created.token.role });
    return reply.code(201).send(created);
  });

  app.delete(`${API}/tokens/:id`, async (req) => {
    const actor = await authorize(req, 'tokens.revoke');
    const { id } = parse(IdParam, req.params, 'params');
    const revoked = await tokens.revoke(id);
    if (!revoked) throw new HttpError(404, `no token ${id}`);
    await record(actor, 'tokens.revoke', { id }, false, { revoked: 1 });
    return { revoked: id };
  });

  return app;
}

/** The dry run is the default whatever the service assumes: only an explicit `dryRun: false` acts. */
function dryRunUnlessSaid<T extends { dryRun?: boolean }>(body: T): T & { dryRun: boolean } {
  return { ...body, dryRun: body.dryRun !== false };
}

function capIds<K extends string, T>(key: K, ids: T[] | undefined): Record<string, unknown> {
  if (ids === undefined) return {};
  if (ids.length <= AUDIT_IDS) return { [key]: ids };
  return { [key]: ids.slice(0, AUDIT_IDS), [`${key}Total`]: ids.length };
}
