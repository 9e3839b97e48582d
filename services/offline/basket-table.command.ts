/**
 * `npm run offline -- basket-table [--rebuild]`: the operator's view of the live mined market-basket table
 * (top follow-ups per category with support and score), read from the Redis of Herald's config
 * (REDIS_URL, HERALD_PREFIX, or the flags); `--rebuild` rebuilds it from the streamed counts first, on
 * demand. The one subcommand that talks to a running Herald rather than to files.
 */
import { loadConfig } from '../../shared/config';
import { createRedis } from '../../shared/redis';
import { systemClock } from '../../shared/clock';
import { rebuildBasketTable, showBasketTable } from '../affinity/basket-miner';
import { createState } from '../state';
import { flags, numberFlag, positiveInteger, type CommandIo, type Subcommand } from './command';

const USAGE = `npm run offline -- basket-table [flags]
  --rebuild                rebuild the table from the streamed counts first (a new version)
  --top 5                  follow-ups shown per category
  --json                   the table as JSON on stdout
  --redis URL              default REDIS_URL
  --prefix P               default HERALD_PREFIX`;

async function run(argv: string[], io: CommandIo): Promise<number> {
  const v = flags(argv, {
    rebuild: { type: 'boolean' },
    top: { type: 'string' },
    json: { type: 'boolean' },
    redis: { type: 'string' },
    prefix: { type: 'string' },
  });
  const config = loadConfig(process.env);
  const top = numberFlag(v.top, 'top', 5, positiveInteger, 'a positive whole number');
  const redis = createRedis(v.redis ?? config.REDIS_URL, 'herald-basket-table');
  try {
    const state = createState(redis, v.prefix ?? config.HERALD_PREFIX, systemClock);
    if (v.rebuild) {
      const { version, table } = await rebuildBasketTable({
        basket: state.basket,
        now: () => systemClock.now(),
        build: { top: config.BASKET_TOP, windowDays: config.BASKET_WINDOW_DAYS },
      });
      io.err(`basket-table: rebuilt v${version} from ${table.episodes} episodes\n`);
    }
    const { table, text } = await showBasketTable(state.basket, top);
    io.out(v.json ? `${JSON.stringify(table)}\n` : text);
    return 0;
  } finally {
    redis.disconnect();
  }
}

export const basketTableCommand: Subcommand = { usage: USAGE, run };
