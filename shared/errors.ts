/**
 * Herald's error taxonomy. `retriable` tells the plumbing whether another attempt can help: a permanent
 * failure (a payload that fails its schema, a recipient that does not exist) becomes a BullMQ
 * UnrecoverableError and waits in the failed set for an operator instead of burning attempts.
 */
export class HeraldError extends Error {
  readonly retriable: boolean;
  constructor(message: string, options: { retriable: boolean; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.retriable = options.retriable;
  }
}

/** A configuration value is missing or wrong. The message is one line that names the variable. */
export class ConfigError extends HeraldError {
  constructor(message: string) {
    super(message, { retriable: false });
  }
}

/** Data failed its contract: an event on a topic or a job payload on a queue. Never retriable. */
export class SchemaError extends HeraldError {
  readonly where: string;
  constructor(where: string, message: string, cause?: unknown) {
    super(`${where}: ${message}`, { retriable: false, cause });
    this.where = where;
  }
}

/** A dependency (Redis, Kafka, a push provider) failed in a way another attempt may get past. */
export class TransientError extends HeraldError {
  constructor(message: string, cause?: unknown) {
    super(message, { retriable: true, cause });
  }
}

export function isRetriable(err: unknown): boolean {
  return err instanceof HeraldError ? err.retriable : true;
}

/** Something the work needs is not there yet (the day's sales before the campaign): try again later. */
export class NotReadyError extends TransientError {}
