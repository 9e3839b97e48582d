/**
 * A request the operator service refuses, with the HTTP status the API answers and a message that says what
 * was wrong and where (the field, the id).
 */
export class OpsError extends Error {
  readonly status: number;
  constructor(status: 400 | 404 | 409 | 413 | 422 | 503, message: string) {
    super(message);
    this.name = 'OpsError';
    this.status = status;
  }
}
