/**
 * Provider credentials: JWTs signed with node:crypto (RS256 for Google's OAuth assertion, ES256 for APNs'
 * provider token), and the key files they come from, checked when the process starts so a missing file or a
 * bad PEM stops it with one line naming the variable. Credentials live on the wall clock (a token's expiry
 * is the provider's, not the simulation's), so `now` here defaults to Date.now, not Herald's Clock.
 */
import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../../../shared/errors';

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** A compact JWS: header.claims.signature. ES256 signatures are the raw r||s pair JOSE requires. */
export function signJwt(
  alg: 'RS256' | 'ES256',
  key: KeyObject,
  claims: Record<string, unknown>,
  header: Record<string, unknown> = {},
): string {
  const input = `${b64url(JSON.stringify({ alg, typ: 'JWT', ...header }))}.${b64url(JSON.stringify(claims))}`;
  const sig =
    alg === 'RS256'
      ? sign('sha256', Buffer.from(input), key)
      : sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64url(sig)}`;
}

/** A private key from PEM text; a bad PEM or the wrong kind of key throws ConfigError naming `variable`. */
export function privateKeyFrom(pem: string, variable: string, kind: 'rsa' | 'ec'): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    throw new ConfigError(
      `config: ${variable} is not a readable PEM private key: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (key.asymmetricKeyType !== kind)
    throw new ConfigError(`config: ${variable} holds a ${key.asymmetricKeyType} key; expected ${kind}`);
  return key;
}

/** A file's text; a missing or unreadable file throws ConfigError naming `variable`. */
export function readConfigFile(path: string | undefined, variable: string): string {
  if (!path) throw new ConfigError(`config: ${variable} is required by the configured push providers`);
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError(`config: ${variable}=${JSON.stringify(path)} cannot be read (${code})`);
  }
}

const ServiceAccount = z.object({
  project_id: z.string().min(1),
  client_email: z.string().min(3),
  private_key: z.string().min(1),
  private_key_id: z.string().optional(),
  token_uri: z.url().optional(),
});

export interface GoogleServiceAccount {
  projectId: string;
  clientEmail: string;
  key: KeyObject;
  keyId?: string;
  tokenUri: string;
}

/** A Google service-account JSON file, checked: its fields, and its private key as an RSA PEM. */
export function loadServiceAccount(path: string | undefined, variable: string): GoogleServiceAccount {
  const text = readConfigFile(path, variable);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ConfigError(`config: ${variable}=${JSON.stringify(path)} is not JSON`);
  }
  const parsed = ServiceAccount.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(
      `config: ${variable}=${JSON.stringify(path)} is not a service account: ${issue.path.join('.')} ${issue.message}`,
    );
  }
  const sa = parsed.data;
  return {
    projectId: sa.project_id,
    clientEmail: sa.client_email,
    key: privateKeyFrom(sa.private_key, `${variable} (private_key)`, 'rsa'),
    ...(sa.private_key_id ? { keyId: sa.private_key_id } : {}),
    tokenUri: sa.token_uri ?? 'https://oauth2.googleapis.com/token',
  };
}

/**
 * A bearer token that is fetched once and reused until shortly before it expires; concurrent callers share
 * one fetch. `invalidate` drops it (the provider said 401).
 */
export function cachedToken(
  fetchToken: () => Promise<{ token: string; expiresInMs: number }>,
  now: () => number = Date.now,
  marginMs = 60_000,
) {
  let current: { token: string; until: number } | undefined;
  let inflight: Promise<string> | undefined;
  return {
    async get(): Promise<string> {
      if (current && current.until > now()) return current.token;
      inflight ??= fetchToken()
        .then((t) => {
          current = { token: t.token, until: now() + Math.max(0, t.expiresInMs - marginMs) };
          return t.token;
        })
        .finally(() => {
          inflight = undefined;
        });
      return inflight;
    },
    invalidate(): void {
      current = undefined;
    },
  };
}
