import { UnrecoverableError } from 'bullmq';
import { toJobError } from '../../shared/stage';
import { ConfigError, NotReadyError, SchemaError, TransientError } from '../../shared/errors';

describe('the stage runner’s error mapping', () => {
  it('sends a permanent failure straight to the failed set, with its message', () => {
    const { error, retry } = toJobError(new SchemaError('job score/7', 'payload of queue score is invalid'));
    expect(retry).toBe(false);
    expect(error).toBeInstanceOf(UnrecoverableError);
    expect(error.message).toBe('job score/7: payload of queue score is invalid');
    expect(toJobError(new ConfigError('config: X is invalid')).error).toBeInstanceOf(UnrecoverableError);
  });

  it('retries what another attempt can get past, as it was thrown', () => {
    const notReady = new NotReadyError('no sale yet');
    expect(toJobError(notReady)).toEqual({ error: notReady, retry: true });
    expect(toJobError(new TransientError('redis down')).retry).toBe(true);
    const plain = new Error('ECONNRESET');
    expect(toJobError(plain)).toEqual({ error: plain, retry: true });
    expect(toJobError('a string').error).toBeInstanceOf(Error);
  });
});
