/**
 * The operator API's settings, composed with Herald's (services/config.ts): the service behind the API reads
 * the same state, queues and strategies as the workers. Parsed once at start; a bad value stops the process
 * with one line naming the variable.
 */
import { z } from 'zod';
import { bootConfig, parseConfig } from '../../shared/config';
import { ConfigError } from '../../shared/errors';
import { heraldConfigSchema } from '../config';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const opsConfigShape = {
  /** Port of the operator API. Default 7070. */
  OPS_PORT: int(0, 65_535).default(7070),
  /** Address the operator API listens on. Default 127.0.0.1 (set 0.0.0.0 in a container). */
  OPS_HOST: z.string().min(1).default('127.0.0.1'),
  /**
   * Accepted as an admin token when set, so a fresh install can create the real tokens; unset it once they
   * exist. At least 24 characters. Default: unset.
   */
  HERALD_OPS_BOOTSTRAP_TOKEN: z.string().min(24, 'at least 24 characters').optional(),
  /** Most jobs (replay) or letters (re-drive) one call may touch without `override: true`. Default 1000. */
  OPS_MAX_REPLAY: int(1, 1_000_000).default(1000),
  /** Replay, re-drive and topic-replay calls (dry runs too) per token per window. Default 10. */
  OPS_RATE_LIMIT: int(1, 100_000).default(10),
  /** The rate-limit window, in ms. Default 60000. */
  OPS_RATE_WINDOW_MS: int(1000, 86_400_000).default(60_000),
  /**
   * How often, in real ms, the ops process samples Herald's counters for the dashboard's charts (a capped
   * stream of OPS_CAP.series samples). Default 60000; 0 takes none.
   */
  OPS_SAMPLE_MS: z.coerce
    .number()
    .int()
    .refine((v) => v === 0 || (v >= 100 && v <= 86_400_000), '0, or 100..86400000')
    .default(60_000),
};

export const opsConfigSchema = heraldConfigSchema.extend(opsConfigShape);
export type OpsConfig = z.infer<typeof opsConfigSchema>;

export function loadOpsConfig(env: NodeJS.ProcessEnv = process.env): OpsConfig {
  try {
    return parseConfig(opsConfigSchema, env);
  } catch (err) {
    // parseConfig quotes the bad value; a secret's stays out of the line (and so out of any log).
    const secret = env.HERALD_OPS_BOOTSTRAP_TOKEN;
    if (err instanceof ConfigError && secret !== undefined) {
      throw new ConfigError(err.message.split(JSON.stringify(secret)).join('(hidden)'));
    }
    throw err;
  }
}

/** loadOpsConfig for the entry point: on a bad value print one line and exit 78. */
export function bootOpsConfig(env: NodeJS.ProcessEnv = process.env): OpsConfig {
  return bootConfig(env, loadOpsConfig);
}
