/**
 * `npm run offline -- <subcommand> ...`: evaluations and exports that run on files, with no stack up. Each
 * subcommand is one file exporting a Subcommand (see command.ts) and one line in SUBCOMMANDS below.
 *
 *   npm run offline -- send-time --events FILE.csv [--tz ZONE] [--split 0.8] [--json] ...
 *   npm run offline -- export-sim --users N --days D [--seed S] [--out FILE.csv]
 *   npm run offline -- basket-table [--rebuild] [--top 5] [--json]   (the live table, from Redis)
 *   npm run offline -- basket --transactions FILE.csv [--split 0.8] [--horizon-days 14] [--k 3] [--json] ...
 *   npm run offline -- recs --transactions FILE.csv [--k 5] [--split 0.8] [--horizon-days 14] [--json] ...
 *
 * Exit codes: 0 done, 2 bad flags or input (one line on stderr), 1 anything else.
 */
import { UsageError, type CommandIo, type Subcommand } from './command';
import { basketCommand } from './basket.command';
import { basketTableCommand } from './basket-table.command';
import { exportSimCommand } from './export-sim.command';
import { opeCommand } from './ope.command';
import { synthBasketCommand } from './synth-basket.command';
import { sendTimeCommand } from './send-time.command';
import { recsCommand } from './recs.command';
import { synthRecsCommand } from './synth-recs.command';

const SUBCOMMANDS: Record<string, Subcommand> = {
  'send-time': sendTimeCommand,
  'export-sim': exportSimCommand,
  basket: basketCommand,
  'synth-basket': synthBasketCommand,
  'basket-table': basketTableCommand,
  ope: opeCommand,
  recs: recsCommand,
  'synth-recs': synthRecsCommand,
};

const usage = () =>
  `usage: npm run offline -- <subcommand> [flags]\n\n${Object.values(SUBCOMMANDS)
    .map((c) => c.usage)
    .join('\n\n')}\n`;

export async function main(argv: string[], io: CommandIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.err(usage());
    return 2;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    io.out(usage());
    return 0;
  }
  const command = SUBCOMMANDS[name];
  if (!command) {
    io.err(
      `offline: unknown subcommand ${JSON.stringify(name)} (known: ${Object.keys(SUBCOMMANDS).join(', ')})\n`,
    );
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(`${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`offline ${name}: ${err.message}\n`);
      return 2;
    }
    io.err(`offline ${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}

if (require.main === module) {
  const io: CommandIo = {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
  };
  main(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`offline failed: ${String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
