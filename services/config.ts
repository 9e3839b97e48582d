/**
 * Herald's config: the platform's settings (shared/config.ts) composed with every registered strategy's
 * own (services/strategies). Parsed once at boot; a bad value stops the process with one line.
 */
import { z } from 'zod';
import { baseConfigShape, bootConfig, parseConfig } from '../shared/config';
import { StrategiesList, strategiesConfigShape } from './strategies';

export const heraldConfigSchema = z.object({
  ...baseConfigShape,
  ...strategiesConfigShape,
  /** Enabled strategies, comma-separated. Default: every registered strategy. */
  STRATEGIES: StrategiesList,
});

export type HeraldConfig = z.infer<typeof heraldConfigSchema>;

export function loadHeraldConfig(env: NodeJS.ProcessEnv = process.env): HeraldConfig {
  return parseConfig(heraldConfigSchema, env);
}

/** loadHeraldConfig for an entry point: on a bad value print one line and exit 78. */
export function bootHeraldConfig(env: NodeJS.ProcessEnv = process.env): HeraldConfig {
  return bootConfig(env, loadHeraldConfig);
}
