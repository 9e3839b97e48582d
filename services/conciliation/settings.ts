/** Conciliation's settings from Herald's configuration: the policy, the contact rules and the holdouts. */
import type { StrategyPlugin } from '../strategies';
import { contactRules, type ContactRules } from './contact-rules';
import type { Holdouts } from './decide';
import { DEFAULT_POLICY, type PolicyConfig } from './policy';
import type { Cap } from './contact-rules';
import type { QuietHours } from '../timing/plan';

export interface ConciliationConfig {
  CONCILIATE_MIN_VALUE: number;
  CONCILIATE_EXPLORE: number;
  CONCILIATE_CLICK_WEIGHT: number;
  FATIGUE_WEIGHT: number;
  RECOVER_PENALTY: number;
  RECOVER_HOURS: number;
  CAP_DAY: number;
  CAP_WEEK: number;
  CAP_STRATEGY: Record<string, Cap>;
  SEND_MODE: string;
  QUIET_HOURS: QuietHours;
  HOLDOUT_SHARE: number;
  HOLDOUT_STRATEGY_SHARE: number;
  HOLDOUT_SALT: string;
  DECISION_LOG_RATE: number;
}

export interface ConciliationSettings {
  policy: PolicyConfig;
  rules: ContactRules;
  holdouts: Holdouts;
  /** Every enabled strategy, in name order. */
  strategies: string[];
  schedules: Array<{ strategy: string; cron: string; tz: string }>;
  logRate: number;
}

export function conciliationSettings(
  config: ConciliationConfig,
  strategies: ReadonlyMap<string, Pick<StrategyPlugin, 'schedule'>>,
): ConciliationSettings {
  return {
    policy: {
      ...DEFAULT_POLICY,
      minValue: config.CONCILIATE_MIN_VALUE,
      explore: config.CONCILIATE_EXPLORE,
      clickWeight: config.CONCILIATE_CLICK_WEIGHT,
      fatigue: config.FATIGUE_WEIGHT,
      recoverPenalty: config.RECOVER_PENALTY,
      recoverHours: config.RECOVER_HOURS,
    },
    rules: contactRules(config),
    holdouts: {
      share: config.HOLDOUT_SHARE,
      strategyShare: config.HOLDOUT_STRATEGY_SHARE,
      salt: config.HOLDOUT_SALT,
    },
    strategies: [...strategies.keys()].sort(),
    schedules: [...strategies].flatMap(([name, s]) =>
      s.schedule ? [{ strategy: name, cron: s.schedule.cron, tz: s.schedule.tz }] : [],
    ),
    logRate: config.DECISION_LOG_RATE,
  };
}
