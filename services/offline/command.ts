/** What every `npm run offline` subcommand is: a usage line and a run that resolves to an exit code. */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Where a subcommand writes: results on `out`, progress and problems on `err`. */
export interface CommandIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

export interface Subcommand {
  /** The usage text, first line `npm run offline -- NAME ...`. */
  usage: string;
  /** Runs with the arguments after the subcommand's name. Resolves to the process's exit code. */
  run(argv: string[], io: CommandIo): Promise<number>;
}

/** Bad flags or input the user must fix: printed as one line, exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** The flags of `argv` (all strings or booleans as declared); an unknown flag or a stray argument is a UsageError. */
export function flags<O extends Options>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

/** A number flag: `undefined` gives `def`; anything else must pass `ok`. */
export function numberFlag(
  value: string | undefined,
  name: string,
  def: number,
  ok: (n: number) => boolean,
  what: string,
): number {
  if (value === undefined) return def;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || !ok(n))
    throw new UsageError(`--${name} must be ${what}, got ${JSON.stringify(value)}`);
  return n;
}

export const positive = (n: number) => n > 0;
export const positiveInteger = (n: number) => Number.isInteger(n) && n > 0;
