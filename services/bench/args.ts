/**
 * Flags of `npm run bench`. Every part can be skipped (`--skip latency,ingest`) or run alone
 * (`--only fanout`); `--quick` shrinks every population for a smoke run of about a minute. An explicit flag
 * always wins over what `--quick` sets.
 */

export const PARTS = ['micro', 'addbulk', 'fanout', 'naive', 'latency', 'ingest', 'providers'] as const;
export type Part = (typeof PARTS)[number];

/** The fan-out runs of each population: fixed-hour booking, predicted send times, compare-and-set. */
export const FANOUT_MODES = ['fixed', 'predicted', 'compare'] as const;
export type FanoutMode = (typeof FANOUT_MODES)[number];

export interface BenchArgs {
  /** Fan-out populations, one run of the campaign each. Default 100000,1000000 (quick: 20000). */
  users: number[];
  /**
   * Which fan-out runs each population gets. Default all three; the figures that compare two need both
   * (predicted and compare are read against fixed).
   */
  fanoutModes: Set<FanoutMode>;
  /** Population of the naive one-job-per-user reference. Default 20000 (quick: 2000). */
  naiveUsers: number;
  /** BullMQ concurrency of each naive worker process (one user per job, so it needs many). Default 50. */
  naiveConcurrency: number;
  /** STAGE_CONCURRENCY handed to Herald's stage workers. Default 2 (Herald's own default). */
  concurrency: number;
  /** Purchases per second produced during the latency run. Default 1000 (quick: 200). */
  latencyRate: number;
  /** Seconds of purchases. Default 30 (quick: 6). */
  latencySeconds: number;
  /** Users of the campaign that runs while the purchases flow. Default 100000 (quick: 10000). */
  latencyFanoutUsers: number;
  /** Rate and length of the quiet phase before it (no campaign). Default 50/s for 10 s (quick: 50/s for 4 s). */
  latencyLowRate: number;
  latencyLowSeconds: number;
  /** Seconds of each latency floor measurement. Default 10 (quick: 3). */
  floorSeconds: number;
  /** Seconds after the first purchase at which that campaign starts. Default 10 (quick: 2). */
  latencyFanoutAtS: number;
  /** Events preproduced for the ingest run (half profiles, half locations). Default 200000 (quick: 20000). */
  ingestEvents: number;
  /** A fan-out that has not booked everyone after this many seconds is stopped and reported. Default 1200. */
  fanoutTimeoutS: number;
  /** Pushes through each provider path (one device each). Default 5000 (quick: 1000). */
  providerPushes: number;
  /** Where the JSON goes. Default out/bench/bench.json. */
  out: string;
  /** Seconds between progress lines. Default 3. */
  progressS: number;
  quick: boolean;
  /** Run the workers under `node --cpu-prof` and print where their CPU went. Default false. */
  profile: boolean;
  parts: Set<Part>;
}

const HELP = `usage: npm run bench -- [flags]
  --users 100000,1000000     fan-out populations (default both; --quick: 20000)
  --naive-users 20000        population of the one-job-per-user reference (--quick: 2000)
  --naive-concurrency 50     BullMQ concurrency of each naive worker
  --concurrency 2            STAGE_CONCURRENCY of Herald's stage workers
  --latency-rate 1000        purchases per second (--quick: 200)
  --latency-seconds 30       seconds of purchases (--quick: 6)
  --latency-fanout-users N   campaign running meanwhile (default 100000; --quick: 10000)
  --latency-fanout-at 10     seconds after the first purchase when that campaign starts (--quick: 2)
  --latency-low-rate 50      purchases per second of the quiet phase before (no campaign)
  --latency-low-seconds 10   its length (--quick: 4)
  --floor-seconds 10         length of each latency floor measurement (--quick: 3)
  --ingest-events 200000     events for the ingest run (--quick: 20000)
  --fanout-timeout 1200      seconds before a fan-out is given up
  --provider-pushes 5000     pushes through each provider path (--quick: 1000)
  --skip a,b / --only a,b    parts: ${PARTS.join(', ')}
  --fanout-modes a,b         fan-out runs per population: ${FANOUT_MODES.join(', ')} (default all)
  --quick                    small smoke run (about a minute)
  --profile                  run the workers under node --cpu-prof and print where their CPU went
  --out out/bench/bench.json
  --progress 3               seconds between progress lines`;

export function parseArgs(argv: readonly string[]): BenchArgs {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') {
      process.stdout.write(`${HELP}\n`);
      process.exit(0);
    }
    if (!a.startsWith('--')) throw new Error(`bench: unexpected argument ${a}\n${HELP}`);
    const eq = a.indexOf('=');
    if (eq > 0) flags.set(a.slice(2, eq), a.slice(eq + 1));
    else if (a === '--quick' || a === '--profile') flags.set(a.slice(2), 'true');
    else {
      const v = argv[i + 1];
      if (v === undefined) throw new Error(`bench: ${a} needs a value`);
      flags.set(a.slice(2), v);
      i++;
    }
  }
  const known = new Set([
    'users',
    'naive-users',
    'naive-concurrency',
    'concurrency',
    'latency-rate',
    'latency-seconds',
    'latency-fanout-users',
    'latency-fanout-at',
    'ingest-events',
    'fanout-timeout',
    'provider-pushes',
    'skip',
    'only',
    'quick',
    'out',
    'progress',
    'profile',
    'latency-low-rate',
    'latency-low-seconds',
    'floor-seconds',
    'fanout-modes',
  ]);
  for (const k of flags.keys()) if (!known.has(k)) throw new Error(`bench: unknown flag --${k}\n${HELP}`);

  const quick = flags.get('quick') === 'true';
  const num = (name: string, dflt: number, quickDflt = dflt): number => {
    const raw = flags.get(name);
    if (raw === undefined) return quick ? quickDflt : dflt;
    const n = Number(raw.replace(/_/g, ''));
    if (!Number.isFinite(n) || n <= 0) throw new Error(`bench: --${name}=${raw} is not a positive number`);
    return n;
  };
  const users = (flags.get('users') ?? (quick ? '20000' : '100000,1000000'))
    .split(',')
    .map((s) => Number(s.trim().replace(/_/g, '')));
  if (users.some((n) => !Number.isInteger(n) || n < 1000))
    throw new Error('bench: --users takes integers >= 1000');

  const list = (name: string): Part[] => {
    const raw = flags.get(name);
    if (!raw) return [];
    const parts = raw.split(',').map((s) => s.trim());
    for (const p of parts) {
      if (!(PARTS as readonly string[]).includes(p))
        throw new Error(`bench: --${name}: unknown part ${p} (${PARTS.join(', ')})`);
    }
    return parts as Part[];
  };
  const only = list('only');
  const skip = new Set(list('skip'));
  const parts = new Set((only.length ? only : [...PARTS]).filter((p) => !skip.has(p)));

  const modes = (flags.get('fanout-modes') ?? FANOUT_MODES.join(',')).split(',').map((s) => s.trim());
  for (const m of modes) {
    if (!(FANOUT_MODES as readonly string[]).includes(m))
      throw new Error(`bench: --fanout-modes: unknown mode ${m} (${FANOUT_MODES.join(', ')})`);
  }

  return {
    users,
    fanoutModes: new Set(modes as FanoutMode[]),
    naiveUsers: Math.round(num('naive-users', 20_000, 2_000)),
    naiveConcurrency: Math.round(num('naive-concurrency', 50)),
    concurrency: Math.round(num('concurrency', 2)),
    latencyRate: Math.round(num('latency-rate', 1000, 200)),
    latencySeconds: num('latency-seconds', 30, 6),
    latencyFanoutUsers: Math.round(num('latency-fanout-users', 100_000, 10_000)),
    latencyFanoutAtS: num('latency-fanout-at', 10, 2),
    latencyLowRate: Math.round(num('latency-low-rate', 50)),
    latencyLowSeconds: num('latency-low-seconds', 10, 4),
    floorSeconds: num('floor-seconds', 10, 3),
    ingestEvents: Math.round(num('ingest-events', 200_000, 20_000)),
    providerPushes: Math.round(num('provider-pushes', 5000, 1000)),
    fanoutTimeoutS: num('fanout-timeout', 1200),
    out: flags.get('out') ?? 'out/bench/bench.json',
    progressS: num('progress', 3),
    quick,
    profile: flags.get('profile') === 'true',
    parts,
  };
}
