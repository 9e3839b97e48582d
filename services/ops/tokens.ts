/**
 * API tokens of the operator API. A token is a random secret (`hrld_` + 32 bytes, base64url) that its
 * creator sees once; Redis keeps only its sha256, with the token's id, name, role and who made it. Looking a
 * token up by its hash needs no constant-time comparison: the secret has 256 bits, so timing the lookup of a
 * guess reveals nothing useful about any real token. The bootstrap token (HERALD_OPS_BOOTSTRAP_TOKEN) lives
 * only in the environment and is compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Clock } from '../../shared/clock';
import { OPS_CAP, opsKeys } from '../../shared/keys';
import type { Actor, Role, TokenView } from './api';
import { OpsError } from './errors';

/** The actor a bootstrap token call runs as. */
export const BOOTSTRAP_ACTOR: Actor = { tokenId: 'bootstrap', name: 'bootstrap', role: 'admin' };

const SECRET_PREFIX = 'hrld_';

interface StoredToken extends TokenView {
  hash: string;
}

export interface TokenStore {
  /** Makes a token; the secret is returned here and never again. */
  create(input: {
    name: string;
    role: Role;
    createdBy: string;
  }): Promise<{ token: TokenView; secret: string }>;
  /** Every token, oldest first, without secrets or hashes. */
  list(): Promise<TokenView[]>;
  /** Removes a token; false when there was none with that id. */
  revoke(id: string): Promise<boolean>;
  /** Who a presented secret belongs to, or undefined. */
  authenticate(secret: string): Promise<Actor | undefined>;
}

export interface TokenStoreOptions {
  redis: Redis;
  /** HERALD_PREFIX. */
  prefix: string;
  clock: Clock;
  /** HERALD_OPS_BOOTSTRAP_TOKEN: accepted as an admin token when set. Default: none. */
  bootstrapToken?: string;
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export function createTokenStore({ redis, prefix, clock, bootstrapToken }: TokenStoreOptions): TokenStore {
  const keys = opsKeys(prefix);
  const bootstrapHash = bootstrapToken ? createHash('sha256').update(bootstrapToken).digest() : undefined;

  const isBootstrap = (secret: string): boolean => {
    if (!bootstrapHash) return false;
    // Equal-length digests, so timingSafeEqual compares without leaking where a guess first differs.
    return timingSafeEqual(createHash('sha256').update(secret).digest(), bootstrapHash);
  };

  return {
    async create({ name, role, createdBy }) {
      if ((await redis.hlen(keys.tokens)) >= OPS_CAP.tokens) {
        throw new OpsError(409, `at most ${OPS_CAP.tokens} tokens may exist; revoke one first`);
      }
      const secret = SECRET_PREFIX + randomBytes(32).toString('base64url');
      const stored: StoredToken = {
        id: `tok_${randomBytes(8).toString('hex')}`,
        name,
        role,
        createdAt: clock.now(),
        createdBy,
        hash: hashSecret(secret),
      };
      await redis
        .multi()
        .hset(keys.tokens, stored.id, JSON.stringify(stored))
        .hset(keys.tokenHashes, stored.hash, stored.id)
        .exec();
      return { token: view(stored), secret };
    },

    async list() {
      const all = Object.values(await redis.hgetall(keys.tokens)).map((v) => JSON.parse(v) as StoredToken);
      return all.sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id)).map(view);
    },

    async revoke(id) {
      const raw = await redis.hget(keys.tokens, id);
      if (!raw) return false;
      const stored = JSON.parse(raw) as StoredToken;
      await redis.multi().hdel(keys.tokens, id).hdel(keys.tokenHashes, stored.hash).exec();
      return true;
    },

    async authenticate(secret) {
      if (isBootstrap(secret)) return BOOTSTRAP_ACTOR;
      if (!secret.startsWith(SECRET_PREFIX)) return undefined;
      const id = await redis.hget(keys.tokenHashes, hashSecret(secret));
      if (!id) return undefined;
      const raw = await redis.hget(keys.tokens, id);
      if (!raw) return undefined;
      const stored = JSON.parse(raw) as StoredToken;
      return { tokenId: stored.id, name: stored.name, role: stored.role };
    },
  };
}

function view({ id, name, role, createdAt, createdBy }: StoredToken): TokenView {
  return { id, name, role, createdAt, createdBy };
}
