/**
 * Process configuration, parsed once at boot from the environment. Defaults live here and nowhere else.
 * A bad value stops the process with one line that names the variable: `loadConfig` throws ConfigError,
 * and `bootConfig` prints it and exits 78 (EX_CONFIG).
 */
import { z } from 'zod';
import { ConfigError } from './errors';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

/**
 * The platform's settings. Each strategy adds its own (services/strategies), composed with these into
 * Herald's config by services/config.ts.
 */
export const baseConfigShape = {
  /** Redis for BullMQ and the state store. Default redis://127.0.0.1:6379. */
  REDIS_URL: z.url().default('redis://127.0.0.1:6379'),
  /** Prefix of every Redis key Herald writes, queues included. Default `herald`. */
  HERALD_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only')
    .default('herald'),
  /** Comma-separated Kafka bootstrap servers. Default 127.0.0.1:19092 (the local broker of stack:up). */
  KAFKA_BROKERS: z
    .string()
    .default('127.0.0.1:19092')
    .transform((s) => s.split(',').map((b) => b.trim()))
    .pipe(z.array(z.string().regex(/^[^:\s]+:\d{1,5}$/, 'host:port')).min(1)),
  /** Prefix of every topic name. Default `herald.`. */
  KAFKA_TOPIC_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9._-]*$/)
    .default('herald.'),
  /** Prefix of every consumer group id. Default `herald`. */
  KAFKA_GROUP_PREFIX: z.string().min(1).default('herald'),
  /** Partitions per topic when stack:up creates them. Default 3. */
  KAFKA_PARTITIONS: int(1, 256).default(3),
  /** Items per stage job (DESIGN rule 1). Default 500. */
  BATCH_SIZE: int(1, 10_000).default(500),
  /** Concurrent jobs per stage worker process. Default 2. */
  STAGE_CONCURRENCY: int(1, 64).default(2),
  /**
   * How long a worker holds a job lock; a killed worker's job is retried after about this long plus a stalled
   * check (half of it). BullMQ renews the lock at half its length, so a batch may block the event loop up to
   * that long before it is taken for stalled. Default 10000.
   */
  STAGE_LOCK_MS: int(1000, 600_000).default(10_000),
  /**
   * The contact window: at most one push per user in this many hours. Default 20: shorter than a day, so a
   * daily campaign at a fixed hour still reaches a user whose yesterday's push went out a few minutes later
   * than today's starts (with 24, such users would hear from Herald only every other day).
   */
  CONTACT_WINDOW_HOURS: z.coerce
    .number()
    .positive()
    .max(24 * 30)
    .default(20),
  /**
   * `immediate` delivers as soon as a winner is booked; `local-hour` at SEND_LOCAL_HOUR in the user's zone;
   * `predicted` at the user's predicted engagement hour (services/timing), outside QUIET_HOURS. Default
   * immediate.
   */
  SEND_MODE: z.enum(['immediate', 'local-hour', 'predicted']).default('immediate'),
  /** Local hours when nothing is sent under SEND_MODE=predicted, `start-end` (end exclusive, may wrap). Default 22-8. */
  QUIET_HOURS: z
    .string()
    .default('22-8')
    .transform((s, ctx) => {
      const m = /^(\d{1,2})-(\d{1,2})$/.exec(s.trim());
      const [start, end] = m ? [Number(m[1]), Number(m[2])] : [NaN, NaN];
      if (!(start >= 0 && start <= 23 && end >= 0 && end <= 23)) {
        ctx.addIssue({ code: 'custom', message: 'start-end, local hours 0-23 (e.g. 22-8)' });
        return z.NEVER;
      }
      return { start, end };
    }),
  /** Share of predicted sends whose hour is drawn from the user's posterior instead of its best. Default 0.05. */
  SEND_EXPLORE: z.coerce.number().min(0).max(1).default(0.05),
  /** A real-time push waits for a later hour only if the model rates it this much better than now. Default 0.2. */
  SEND_WAIT_MARGIN: z.coerce.number().min(0).max(100).default(0.2),
  /**
   * `registry`: score workers serve the model promoted in the model registry, and the heuristic while none
   * is (or while the promoted one is refused); `off`: the heuristic only. Default registry.
   */
  SCORE_MODEL: z.enum(['registry', 'off']).default('registry'),
  /** How often a score worker checks the registry for a newly promoted model, in ms. Default 2000. */
  MODEL_POLL_MS: int(50, 600_000).default(2000),
  /** The model's score is SCORE_OPEN_WEIGHT x p_open + SCORE_CLICK_WEIGHT x p_click. Defaults 1 and 2. */
  SCORE_OPEN_WEIGHT: z.coerce.number().min(0).max(1000).default(1),
  SCORE_CLICK_WEIGHT: z.coerce.number().min(0).max(1000).default(2),
  /** AUC points a new model must beat the current model and the heuristic by to be promoted. Default 0.01. */
  MODEL_GATE_MARGIN: z.coerce.number().min(-1).max(1).default(0.01),
  /**
   * Record the feature vector of every scored pick; the push that goes out carries it on push.sent, the
   * score model's training log. Default true.
   */
  FEATURE_LOG: bool.default(true),
  /** Share of picks whose feature vector is logged (a hash of user and target), 0..1. Default 1. */
  FEATURE_LOG_RATE: z.coerce.number().min(0).max(1).default(1),
  /**
   * When the scheduler retrains the score model from Herald's own log (a cron on Herald's clock, e.g.
   * `30 3 * * *`), in RETRAIN_TZ; empty: never (`npm run train -- --from-kafka --register` by hand). Default
   * empty.
   */
  RETRAIN_CRON: z.string().default(''),
  /** Zone of RETRAIN_CRON. Default UTC. */
  RETRAIN_TZ: z.string().min(1).default('UTC'),
  /** Where scheduled retraining writes each model and its report. Default out/models. */
  MODEL_DIR: z.string().min(1).default('out/models'),
  /** Population stability index of a served feature above which a score worker warns. Default 0.2. */
  MODEL_DRIFT_WARN: z.coerce.number().positive().max(100).default(0.2),
  /** How often a score worker reports drift (log and the `{model}:drift` hash), in real ms. Default 60000. */
  MODEL_DRIFT_REPORT_MS: int(100, 86_400_000).default(60_000),
  /** Days after which an engagement event counts half. Default 30. */
  ENGAGEMENT_HALF_LIFE_DAYS: z.coerce.number().positive().max(3650).default(30),
  /** How many events the cohort prior is worth against a user's own. Default 4. */
  ENGAGEMENT_PRIOR_STRENGTH: z.coerce.number().min(0).max(10_000).default(4),
  /**
   * How conciliation picks each user's push for the contact window. `value`: the candidate of highest
   * expected value (a Thompson-sampled bandit over strategies, with fatigue, caps, a minimum value and
   * holdouts; services/conciliation); `compare`: the higher score wins (the compare-and-set Herald began
   * with). Default value.
   */
  CONCILIATION: z.enum(['value', 'compare']).default('value'),
  /** Nothing is sent below this expected value (click-weighted opens per push). Default 0.02 (0.01 until a second seed confirmed 0.02: README, Conciliation). */
  CONCILIATE_MIN_VALUE: z.coerce.number().min(0).max(10).default(0.02),
  /** Share of decisions spread evenly over the arms and sending nothing (offline evaluation's support). Default 0.05. */
  CONCILIATE_EXPLORE: z.coerce.number().min(0).max(1).default(0.05),
  /** Weight of the click-to-open rate in a candidate's value. Default 1. */
  CONCILIATE_CLICK_WEIGHT: z.coerce.number().min(0).max(100).default(1),
  /** How much each unit of fatigue (decayed ignored pushes) raises the minimum value. Default 0.15. */
  FATIGUE_WEIGHT: z.coerce.number().min(0).max(100).default(0.15),
  /** Days after which an ignored push weighs half in the fatigue load. Default 3. */
  FATIGUE_HALF_LIFE_DAYS: z.coerce.number().positive().max(365).default(3),
  /** The recovering penalty of a strategy the user just got (0..1), fading with RECOVER_HOURS. Default 0.5. */
  RECOVER_PENALTY: z.coerce.number().min(0).max(1).default(0.5),
  RECOVER_HOURS: z.coerce
    .number()
    .positive()
    .max(24 * 365)
    .default(48),
  /** Pushes per user per local day and per local week (Monday first), all strategies; 0: no cap. Defaults 1, 5. */
  CAP_DAY: int(0, 1000).default(1),
  CAP_WEEK: int(0, 10_000).default(5),
  /**
   * Caps per strategy, `strategy:day/week,...` (0: no cap), e.g. `market-basket:1/2`. Default none.
   */
  CAP_STRATEGY: z
    .string()
    .default('')
    .transform((s, ctx) => {
      const out: Record<string, { day: number; week: number }> = {};
      for (const part of s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean)) {
        const m = /^([a-z0-9][a-z0-9-]*):(\d+)\/(\d+)$/.exec(part);
        if (!m) {
          ctx.addIssue({
            code: 'custom',
            message: `"${part}": expected strategy:day/week, e.g. market-basket:1/2`,
          });
          return z.NEVER;
        }
        out[m[1]!] = { day: Number(m[2]), week: Number(m[3]) };
      }
      return out;
    }),
  /** Share of users in the global control group: never pushed, what they would get is logged. Default 0.05. */
  HOLDOUT_SHARE: z.coerce.number().min(0).max(0.5).default(0.05),
  /** Share of users held out of each strategy (independent per strategy), for its incremental lift. Default 0.05. */
  HOLDOUT_STRATEGY_SHARE: z.coerce.number().min(0).max(0.5).default(0.05),
  /** Salt of the holdout hashes: change it to draw new groups. Default herald. */
  HOLDOUT_SALT: z.string().min(1).default('herald'),
  /** Share of decisions that send nothing that are logged on push.decisions (a hash of the decision). Default 1. */
  DECISION_LOG_RATE: z.coerce.number().min(0).max(1).default(1),
  /** The local hour (0-23) of delivery when SEND_MODE=local-hour. Default 10. */
  SEND_LOCAL_HOUR: int(0, 23).default(10),
  /** How often send-time looks for due users, in ms. Default 250. */
  SEND_POLL_MS: int(10, 60_000).default(250),
  /** Real ms a delivery batch stays leased to one send-time process; a dead one's batch is retaken after it. Default 30000. */
  SEND_LEASE_MS: int(500, 600_000).default(30_000),
  /**
   * A JSON file of push templates per strategy and locale (services/delivery/templates.ts), checked at
   * start. Default: none, each strategy renders its own pushes.
   */
  TEMPLATES_FILE: z.string().min(1).optional(),
  /** Path of the JSON-lines file the development sink appends to. Default out/pushes.jsonl. */
  SINK_FILE: z.string().min(1).default('out/pushes.jsonl'),
  /** Also print each push on stdout. Default false. */
  SINK_CONSOLE: bool.default(false),
  /** Provider of Android devices: `fcm`, `webhook` or `file` (SINK_FILE). Default file. */
  PUSH_ANDROID: z.enum(['fcm', 'webhook', 'file']).default('file'),
  /** Provider of iOS devices: `apns`, `fcm` (FCM relays to APNs), `webhook` or `file`. Default file. */
  PUSH_IOS: z.enum(['apns', 'fcm', 'webhook', 'file']).default('file'),
  /** Provider of browsers: `webpush`, `webhook` or `file`. Default file. */
  PUSH_WEB: z.enum(['webpush', 'webhook', 'file']).default('file'),
  /** The Google service-account JSON file FCM authenticates with. Required when a platform uses fcm. */
  FCM_SERVICE_ACCOUNT_FILE: z.string().min(1).optional(),
  /** Base URL of the FCM HTTP v1 API. Default https://fcm.googleapis.com. */
  FCM_ENDPOINT: z.url().default('https://fcm.googleapis.com'),
  /** The OAuth token endpoint. Default: the service account's token_uri. */
  FCM_TOKEN_URI: z.url().optional(),
  /** The APNs signing key (.p8, PEM). Required when PUSH_IOS=apns, with APNS_KEY_ID, APNS_TEAM_ID, APNS_TOPIC. */
  APNS_KEY_FILE: z.string().min(1).optional(),
  /** The key's id (10 characters, from the developer account). */
  APNS_KEY_ID: z.string().min(1).optional(),
  /** The team id (10 characters). */
  APNS_TEAM_ID: z.string().min(1).optional(),
  /** The app's bundle id, sent as apns-topic. */
  APNS_TOPIC: z.string().min(1).optional(),
  /** APNs base URL. Default https://api.push.apple.com (development builds: https://api.sandbox.push.apple.com). */
  APNS_ENDPOINT: z.url().default('https://api.push.apple.com'),
  /** Extra CA certificates (PEM file) trusted for APNS_ENDPOINT: a local test server's. */
  APNS_CA_FILE: z.string().min(1).optional(),
  /** VAPID public key, URL-safe base64. Required when PUSH_WEB=webpush, with the private key and subject. */
  WEBPUSH_VAPID_PUBLIC_KEY: z.string().min(1).optional(),
  /** VAPID private key, URL-safe base64. */
  WEBPUSH_VAPID_PRIVATE_KEY: z.string().min(1).optional(),
  /** VAPID subject: a mailto: or https: URL where the push service can reach the sender. */
  WEBPUSH_SUBJECT: z
    .string()
    .regex(/^(mailto:|https:)/, 'a mailto: or https: URL')
    .optional(),
  /** Seconds a push service keeps a message for an offline browser. Default 86400. */
  WEBPUSH_TTL_S: int(0, 2_419_200).default(86_400),
  /** Extra CA certificates (PEM file) trusted for push services: a local test server's. */
  WEBPUSH_CA_FILE: z.string().min(1).optional(),
  /** The webhook's URL. Required when a platform uses webhook. */
  WEBHOOK_URL: z.url().optional(),
  /** The webhook's HMAC-SHA256 secret, at least 16 characters. Required with WEBHOOK_URL. */
  WEBHOOK_SECRET: z.string().min(16, 'at least 16 characters').optional(),
  /**
   * Real ms before a provider's request counts as timed out (and is retried). At most SEND_LEASE_MS / 4, so
   * a batch's sends end inside its lease. Default 5000.
   */
  PUSH_TIMEOUT_MS: int(100, 120_000).default(5000),
  /** Provider requests in flight at once per send-time process. Default 64. */
  PUSH_CONCURRENCY: int(1, 1024).default(64),
  /** Sends tried per device on 5xx, timeouts and 429 before the device counts as failed. Default 6. */
  PUSH_MAX_ATTEMPTS: int(1, 50).default(6),
  /** Backoff after a device's first failed send, real ms; doubles with each, with jitter. Default 1000. */
  PUSH_RETRY_BASE_MS: int(1, 3_600_000).default(1000),
  /** Longest backoff between sends, real ms. Default 300000. */
  PUSH_RETRY_MAX_MS: int(1, 86_400_000).default(300_000),
  /**
   * Rate limits per provider (and per app at it), shared by every send-time replica through a token bucket
   * in Redis: `<provider>=<sends per second>`, comma-separated, e.g. `fcm=600,apns=2000`. Default: none.
   */
  PUSH_RATE_LIMITS: z
    .string()
    .default('')
    .transform((spec, ctx) => {
      const out: Partial<Record<'fcm' | 'apns' | 'webpush' | 'webhook' | 'file', number>> = {};
      for (const part of spec
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)) {
        const m = /^(fcm|apns|webpush|webhook|file)=(\d+(\.\d+)?)$/.exec(part);
        if (!m || !(Number(m[2]) > 0)) {
          ctx.addIssue({
            code: 'custom',
            message: `"${part}" is not <fcm|apns|webpush|webhook|file>=<sends/s>`,
          });
          return z.NEVER;
        }
        out[m[1] as keyof typeof out] = Number(m[2]);
      }
      return out;
    }),
  /** A rate-limit bucket holds this many seconds' worth of sends (the burst after an idle spell). Default 1. */
  PUSH_RATE_BURST_S: z.coerce.number().positive().max(3600).default(1),
  /**
   * How long a sent push id is remembered, in days, so no replay or duplicate sends it again. Longer than a
   * failed job waits for an operator's replay (a day less than this). Default 8.
   */
  PUSH_RECORD_DAYS: z.coerce
    .number()
    .min(8, 'at least 8: failed jobs wait 7 days for a replay')
    .max(365)
    .default(8),
  /** How long after a purchase in A a purchase in B counts as following it, for the basket miner. Default 14. */
  BASKET_WINDOW_DAYS: z.coerce.number().positive().max(365).default(14),
  /** How often the scheduler rebuilds the mined follow-up table, in minutes of Herald's clock; 0 never. Default 60. */
  BASKET_REBUILD_MINUTES: z.coerce
    .number()
    .min(0)
    .max(7 * 24 * 60)
    .default(60),
  /** Follow-ups kept per category in the mined table. Default 10. */
  BASKET_TOP: int(1, 1000).default(10),
  /** How often the scheduler looks for due campaign ticks on Herald's clock, in real ms. Default 1000. */
  SCHEDULER_POLL_MS: int(10, 60_000).default(1000),
  /**
   * A campaign tick missed while no scheduler ran (a restart, a deploy) still fires when found within this
   * many minutes of its time; older ticks are skipped. Default 60.
   */
  CAMPAIGN_CATCHUP_MINUTES: int(0, 24 * 60).default(60),
  /**
   * The clock: `system`, or `accelerated:<simulated start ISO>:<speed>` for the simulator, whose processes
   * share CLOCK_EPOCH_MS (the real instant the simulated start maps to). Default system.
   */
  CLOCK: z
    .string()
    .regex(/^(system|accelerated:[^:]+.*:\d+(\.\d+)?)$/, 'system or accelerated:<ISO start>:<speed>')
    .default('system'),
  /** Real epoch ms at which an accelerated clock reads its simulated start. */
  CLOCK_EPOCH_MS: z.coerce.number().int().positive().optional(),
  /**
   * Share of users whose campaign-lane decisions are traced for `explain` (by a hash of the user id, so a
   * traced user is traced at every stage). Real-time decisions are always traced. Default 0.01.
   */
  TRACE_CAMPAIGN_SHARE: z.coerce.number().min(0).max(1).default(0.01),
  /** Days a user's decision trace is kept (it is also capped at about 64 entries per user). Default 7. */
  TRACE_DAYS: z.coerce.number().positive().max(90).default(7),
  /**
   * Port of this worker's Prometheus /metrics; 0 serves none. `npm run workers` gives each worker its own,
   * counting up from this one in the order of shared/workers.ts. Default 9464.
   */
  METRICS_PORT: int(0, 65_535).default(9464),
  /** pino log level. Default info. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
};

export const baseConfigSchema = z.object(baseConfigShape);
export type Config = z.infer<typeof baseConfigSchema>;

/** The platform's config (no strategy's settings): for tools that run no strategy. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return parseConfig(baseConfigSchema, env);
}

/** Parses `env` with `schema`; a bad value throws ConfigError with one line naming the variable. */
export function parseConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const name = String(issue.path[0] ?? '?');
  const value = env[name];
  throw new ConfigError(
    `config: ${name}=${value === undefined ? '(unset)' : JSON.stringify(value)} is invalid: ${issue.message}`,
  );
}

/** A config loader for an entry point: on a bad value print one line and exit 78. */
export function bootConfig(env?: NodeJS.ProcessEnv): Config;
export function bootConfig<T>(env: NodeJS.ProcessEnv, load: (env: NodeJS.ProcessEnv) => T): T;
export function bootConfig<T>(
  env: NodeJS.ProcessEnv = process.env,
  load: (env: NodeJS.ProcessEnv) => T = loadConfig as (env: NodeJS.ProcessEnv) => T,
): T {
  try {
    return load(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
}

/**
 * The delivery windows in clock time (the state store turns them into Redis TTLs): the contact window, and
 * how long a sent push id is remembered.
 */
export function deliveryWindows(config: Pick<Config, 'CONTACT_WINDOW_HOURS' | 'PUSH_RECORD_DAYS'>): {
  contactWindowMs: number;
  pushRecordMs: number;
} {
  return {
    contactWindowMs: Math.round(config.CONTACT_WINDOW_HOURS * 3_600_000),
    pushRecordMs: Math.round(config.PUSH_RECORD_DAYS * 86_400_000),
  };
}
