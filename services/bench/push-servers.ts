/**
 * Local servers on 127.0.0.1 that speak each push provider's wire protocol, for the integration tests and
 * the providers benchmark: they check what a real provider checks (credentials, signatures, headers, the
 * request's shape), decrypt what a real one would deliver, record every request, and answer what the test
 * scripts (by default: accepted).
 */
import { execFileSync } from 'node:child_process';
import {
  createECDH,
  createHmac,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  timingSafeEqual,
  verify,
  type KeyObject,
} from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createSecureServer, type Http2SecureServer } from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ece = require('http_ece') as {
  decrypt(buf: Buffer, params: { version: string; privateKey: unknown; authSecret: string }): Buffer;
};

export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** Real ms to wait before answering (a timeout when longer than the client's). */
  delayMs?: number;
}

/** What a server saw: the device it was for, the push id, the decoded message, and what it answered. */
export interface Seen {
  token: string;
  pushId: string;
  message: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
  status: number;
}

type Script = (s: { token: string; pushId: string; n: number }) => Answer | undefined;

/** A scratch directory with a self-signed certificate for 127.0.0.1 (openssl), and credential files. */
export function scratch() {
  const dir = mkdtempSync(join(tmpdir(), 'herald-push-'));
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  let tls: { key: string; cert: string; certFile: string } | undefined;
  return {
    dir,
    file,
    tls() {
      if (!tls) {
        execFileSync(
          'openssl',
          [
            'req',
            '-x509',
            '-newkey',
            'ec',
            '-pkeyopt',
            'ec_paramgen_curve:prime256v1',
            '-nodes',
            '-keyout',
            join(dir, 'tls-key.pem'),
            '-out',
            join(dir, 'tls-cert.pem'),
            '-days',
            '1',
            '-subj',
            '/CN=127.0.0.1',
            '-addext',
            'subjectAltName=IP:127.0.0.1,DNS:localhost',
          ],
          { stdio: 'ignore' },
        );
        tls = {
          key: readFileSync(join(dir, 'tls-key.pem'), 'utf8'),
          cert: readFileSync(join(dir, 'tls-cert.pem'), 'utf8'),
          certFile: join(dir, 'tls-cert.pem'),
        };
      }
      return tls;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

function decodeJwt(jwt: string) {
  const [h, c, s] = jwt.split('.');
  if (!h || !c || !s) throw new Error('not a JWS');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>,
    claims: JSON.parse(Buffer.from(c, 'base64url').toString()) as Record<string, unknown>,
    input: Buffer.from(`${h}.${c}`),
    sig: Buffer.from(s, 'base64url'),
  };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function reply(res: ServerResponse, a: Answer): Promise<void> {
  if (a.delayMs) await sleep(a.delayMs);
  if (res.destroyed) return;
  res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers });
  res.end(a.body === undefined ? '' : JSON.stringify(a.body));
}

function listen(server: Server | Http2SecureServer): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

function base(script: Script | undefined) {
  const seen: Seen[] = [];
  let n = 0;
  return {
    seen,
    script,
    answer(token: string, pushId: string, fallback: Answer): Answer {
      return this.script?.({ token, pushId, n: n++ }) ?? fallback;
    },
  };
}

/**
 * FCM HTTP v1 and Google's OAuth token endpoint. The token endpoint verifies the RS256 assertion with the
 * service account's public key (iss, aud, scope, exp) and hands out one access token; the send endpoint
 * requires it and the v1 request shape, and answers `{name: projects/<p>/messages/<id>}`.
 */
export async function fcmServer(projectId: string) {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const clientEmail = `herald@${projectId}.iam.gserviceaccount.com`;
  const accessToken = `ya29.${randomBytes(12).toString('hex')}`;
  const b = base(undefined);
  let tokensIssued = 0;
  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      if (req.url === '/token') {
        const form = new URLSearchParams(body.toString());
        try {
          const jwt = decodeJwt(form.get('assertion') ?? '');
          const now = Math.floor(Date.now() / 1000);
          const ok =
            form.get('grant_type') === 'urn:ietf:params:oauth:grant-type:jwt-bearer' &&
            jwt.header.alg === 'RS256' &&
            verify('sha256', jwt.input, publicKey, jwt.sig) &&
            jwt.claims.iss === clientEmail &&
            jwt.claims.aud === `${url}/token` &&
            jwt.claims.scope === 'https://www.googleapis.com/auth/firebase.messaging' &&
            Number(jwt.claims.exp) > now;
          if (!ok) return reply(res, { status: 400, body: { error: 'invalid_grant' } });
          tokensIssued++;
          return reply(res, {
            status: 200,
            body: { access_token: accessToken, expires_in: 3599, token_type: 'Bearer' },
          });
        } catch {
          return reply(res, { status: 400, body: { error: 'invalid_grant' } });
        }
      }
      if (req.method !== 'POST' || req.url !== `/v1/projects/${projectId}/messages:send`)
        return reply(res, { status: 404, body: { error: { code: 404, status: 'NOT_FOUND' } } });
      if (req.headers.authorization !== `Bearer ${accessToken}`)
        return reply(res, { status: 401, body: { error: { code: 401, status: 'UNAUTHENTICATED' } } });
      const parsed = JSON.parse(body.toString()) as {
        message?: { token?: string; notification?: { title?: string }; data?: { pushId?: string } };
      };
      const m = parsed.message;
      if (!m?.token || !m.notification?.title || !m.data?.pushId)
        return reply(res, {
          status: 400,
          body: { error: { code: 400, status: 'INVALID_ARGUMENT', message: 'bad request shape' } },
        });
      const a = b.answer(m.token, m.data.pushId, {
        status: 200,
        body: { name: `projects/${projectId}/messages/${randomBytes(8).toString('hex')}` },
      });
      b.seen.push({
        token: m.token,
        pushId: m.data.pushId,
        message: m,
        headers: req.headers,
        status: a.status,
      });
      return reply(res, a);
    })();
  });
  const port = await listen(server);
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    seen: b.seen,
    tokensIssued: () => tokensIssued,
    set script(s: Script | undefined) {
      b.script = s;
    },
    serviceAccount: {
      type: 'service_account',
      project_id: projectId,
      private_key_id: 'k1',
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      client_email: clientEmail,
      token_uri: `${url}/token`,
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** FCM's error body of one status and error code. */
export function fcmError(status: number, code: string, message = code, fieldViolation?: string): Answer {
  return {
    status,
    body: {
      error: {
        code: status,
        message,
        status: code === 'UNREGISTERED' ? 'NOT_FOUND' : code,
        details: [
          { '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: code },
          ...(fieldViolation
            ? [
                {
                  '@type': 'type.googleapis.com/google.rpc.BadRequest',
                  fieldViolations: [{ field: fieldViolation, description: message }],
                },
              ]
            : []),
        ],
      },
    },
  };
}

/**
 * APNs over HTTP/2 with TLS: checks :method, :path /3/device/<token>, apns-topic, apns-push-type, apns-id
 * (a UUID) and the provider token (ES256, kid, iss, iat, verified with the key's public half); answers 200
 * with the apns-id, or the scripted status with `{reason}`.
 */
export async function apnsServer(
  tls: { key: string; cert: string },
  o: { keyId: string; teamId: string; topic: string },
) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const b = base(undefined);
  const server = createSecureServer({ key: tls.key, cert: tls.cert });
  server.on('stream', (stream, h) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      void (async () => {
        const send = async (a: Answer, apnsId?: string) => {
          if (a.delayMs) await sleep(a.delayMs);
          if (stream.destroyed || stream.closed) return;
          stream.respond({ ':status': a.status, ...(apnsId ? { 'apns-id': apnsId } : {}), ...a.headers });
          stream.end(a.body === undefined ? '' : JSON.stringify(a.body));
        };
        const path = String(h[':path'] ?? '');
        const token = decodeURIComponent(path.replace(/^\/3\/device\//, ''));
        const apnsId = String(h['apns-id'] ?? '');
        if (h[':method'] !== 'POST' || !path.startsWith('/3/device/'))
          return send({ status: 405, body: { reason: 'MethodNotAllowed' } });
        if (h['apns-topic'] !== o.topic) return send({ status: 400, body: { reason: 'BadTopic' } });
        if (h['apns-push-type'] !== 'alert')
          return send({ status: 400, body: { reason: 'InvalidPushType' } });
        if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(apnsId))
          return send({ status: 400, body: { reason: 'BadMessageId' } });
        try {
          const jwt = decodeJwt(String(h.authorization ?? '').replace(/^bearer /, ''));
          const ok =
            jwt.header.alg === 'ES256' &&
            jwt.header.kid === o.keyId &&
            jwt.claims.iss === o.teamId &&
            Math.abs(Number(jwt.claims.iat) - Date.now() / 1000) < 3600 &&
            verify('sha256', jwt.input, { key: publicKey, dsaEncoding: 'ieee-p1363' }, jwt.sig);
          if (!ok) return send({ status: 403, body: { reason: 'InvalidProviderToken' } });
        } catch {
          return send({ status: 403, body: { reason: 'MissingProviderToken' } });
        }
        const payload = JSON.parse(Buffer.concat(chunks).toString()) as { pushId?: string; aps?: unknown };
        const pushId = payload.pushId ?? '';
        const a = b.answer(token, pushId, { status: 200 });
        b.seen.push({
          token,
          pushId,
          message: payload,
          headers: h,
          status: a.status,
        });
        return send(a, apnsId);
      })();
    });
  });
  const port = await listen(server);
  return {
    url: `https://127.0.0.1:${port}`,
    seen: b.seen,
    set script(s: Script | undefined) {
      b.script = s;
    },
    /** The .p8 key (PKCS#8 PEM) the test hands to Herald. */
    p8: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** A browser's push subscription with its own keys, so the test's push service can decrypt. */
export function browserSubscription(endpoint: string) {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const auth = randomBytes(16).toString('base64url');
  return {
    ecdh,
    auth,
    token: JSON.stringify({ endpoint, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth } }),
  };
}

/**
 * A Web Push service (RFC 8030) over TLS: checks the VAPID Authorization (`vapid t=<ES256 JWT>, k=<key>`,
 * verified with k, aud = this origin), TTL and `Content-Encoding: aes128gcm`, decrypts the body (RFC 8291)
 * with the subscription's private key and auth secret, and answers 201 with a Location.
 */
export async function webPushServer(tls: { key: string; cert: string }) {
  const b = base(undefined);
  const subs = new Map<string, { ecdh: ReturnType<typeof createECDH>; auth: string }>();
  const server = createHttpsServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    void (async () => {
      const body = await readBody(req);
      const id = (req.url ?? '').replace(/^\/push\//, '');
      const sub = subs.get(id);
      if (!sub) return reply(res, { status: 404 });
      const m = /^vapid t=([^,]+), k=(.+)$/.exec(String(req.headers.authorization ?? ''));
      try {
        const jwt = decodeJwt(m?.[1] ?? '');
        const k = Buffer.from(m?.[2] ?? '', 'base64url');
        const jwk = {
          kty: 'EC',
          crv: 'P-256',
          x: k.subarray(1, 33).toString('base64url'),
          y: k.subarray(33, 65).toString('base64url'),
        };
        const key: KeyObject = createPublicKey({ key: jwk, format: 'jwk' });
        const ok =
          jwt.header.alg === 'ES256' &&
          jwt.claims.aud === url &&
          verify('sha256', jwt.input, { key, dsaEncoding: 'ieee-p1363' }, jwt.sig);
        if (!ok) return reply(res, { status: 403 });
      } catch {
        return reply(res, { status: 401 });
      }
      if (req.headers['content-encoding'] !== 'aes128gcm' || req.headers.ttl === undefined)
        return reply(res, { status: 400 });
      let message: Record<string, unknown>;
      try {
        message = JSON.parse(
          ece.decrypt(body, { version: 'aes128gcm', privateKey: sub.ecdh, authSecret: sub.auth }).toString(),
        ) as Record<string, unknown>;
      } catch {
        return reply(res, { status: 400 });
      }
      const pushId = String((message.data as { pushId?: string } | undefined)?.pushId ?? '');
      const a = b.answer(id, pushId, {
        status: 201,
        headers: { location: `${url}/m/${randomBytes(6).toString('hex')}` },
      });
      b.seen.push({ token: id, pushId, message, headers: req.headers, status: a.status });
      return reply(res, a);
    })();
  });
  const port = await listen(server);
  const url = `https://127.0.0.1:${port}`;
  return {
    url,
    seen: b.seen,
    set script(s: Script | undefined) {
      b.script = s;
    },
    /** A new subscription on this service; `token` is the device token Herald stores. */
    subscribe(name: string) {
      const s = browserSubscription(`${url}/push/${name}`);
      subs.set(name, s);
      return s.token;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** A webhook receiver that checks Herald-Signature (HMAC-SHA256 over `<t>.<body>`) and answers 200 {id}. */
export async function webhookServer(secret: string) {
  const b = base(undefined);
  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(req.headers['herald-signature'] ?? ''));
      const expected = m
        ? createHmac('sha256', secret).update(`${m[1]}.${body.toString()}`).digest()
        : undefined;
      if (
        !m ||
        !expected ||
        !timingSafeEqual(expected, Buffer.from(m[2]!, 'hex')) ||
        Math.abs(Number(m[1]) - Date.now() / 1000) > 300
      )
        return reply(res, { status: 401, body: { error: 'bad signature' } });
      const message = JSON.parse(body.toString()) as { pushId: string; device: { token: string } };
      const a = b.answer(message.device.token, message.pushId, {
        status: 200,
        body: { id: `wh-${randomBytes(4).toString('hex')}` },
      });
      b.seen.push({
        token: message.device.token,
        pushId: message.pushId,
        message,
        headers: req.headers,
        status: a.status,
      });
      return reply(res, a);
    })();
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}/hook`,
    seen: b.seen,
    set script(s: Script | undefined) {
      b.script = s;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
