/**
 * What every part of the stack shares: the config it reads, its options and error, where the repository
 * is, and the small text and file helpers its messages are made of.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Config } from '../../shared/config';
import { HeraldError } from '../../shared/errors';

/** The part of the config the stack reads. */
export type StackConfig = Pick<
  Config,
  'REDIS_URL' | 'KAFKA_BROKERS' | 'KAFKA_TOPIC_PREFIX' | 'KAFKA_PARTITIONS'
>;

export interface StackOptions {
  /** The repository root (the folder holding infra/kafka/pom.xml). Default: found upward from this file. */
  root?: string;
  /** Where progress lines go. Default: stdout. */
  out?: (line: string) => void;
  /** Where warnings go. Default: stderr. */
  warn?: (line: string) => void;
  /** How long a starting broker may take to answer metadata, in ms. Default 90000. */
  kafkaStartTimeoutMs?: number;
  /** How long a stopping process gets after SIGTERM before SIGKILL, in ms. Default 30000. */
  stopTimeoutMs?: number;
}

/** A step of the stack failed. The message is one line naming what failed and where its log is. */
export class StackError extends HeraldError {
  constructor(message: string, cause?: unknown) {
    super(message, { retriable: false, cause });
  }
}

export const KAFKA_LOG_HINT = '.cache/kafka/kafka.log';
export const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** The repository root: the nearest folder upward holding infra/kafka/pom.xml (works from dist/ and src). */
export function findRoot(start: string = __dirname): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'infra', 'kafka', 'pom.xml'))) return dir;
    if (path.dirname(dir) === dir) return process.cwd();
  }
}

/**
 * The line that best says what went wrong in `file`, looking only past byte `from` (this run's part):
 * the last error-looking line, or with `first` the first one (Maven's first [ERROR] names the cause).
 */
export function errorLine(file: string, from = 0, first = false): string | undefined {
  try {
    const lines = fs
      .readFileSync(file)
      .subarray(from)
      .toString('utf8')
      // eslint-disable-next-line no-control-regex
      .replace(/\x1b\[[0-9;]*m/g, '')
      .split('\n')
      .filter((l) => /ERROR|Exception|Error:|FATAL/.test(l));
    const hit = first ? lines[0] : lines[lines.length - 1];
    return hit?.trim().slice(0, 300);
  } catch {
    return undefined;
  }
}

export function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

export function lastLine(text: string): string {
  return (
    text
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .pop() ?? '(no output)'
  );
}

export function redactUrl(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString().replace(/\/$/, '');
}

export function rel(root: string, p: string): string {
  return path.relative(root, p) || '.';
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

export function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function stdoutLine(line: string): void {
  process.stdout.write(`${line}\n`);
}

export function stderrLine(line: string): void {
  process.stderr.write(`${line}\n`);
}
