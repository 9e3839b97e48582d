import pino from 'pino';

export type Logger = pino.Logger;

/** JSON logs on stderr, one line each, with the process's role in every line. */
export function createLogger(name: string, level = 'info'): Logger {
  return pino({ name, level, base: { pid: process.pid } }, pino.destination(2));
}
