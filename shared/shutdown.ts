import type { Logger } from './logger';

/**
 * Each process owns its shutdown: on SIGTERM or SIGINT run the closers in order (workers first, so active
 * jobs finish; then Kafka; then Redis), under a bounded timeout.
 */
export function onShutdown(logger: Logger, closers: Array<() => Promise<unknown>>, timeoutMs = 30_000): void {
  let closing = false;
  const close = async (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs }, 'shutdown timed out; exiting');
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    for (const c of closers) {
      try {
        await c();
      } catch (err) {
        logger.warn({ err }, 'error while closing');
      }
    }
    logger.info('stopped');
    process.exit(0);
  };
  process.once('SIGTERM', () => void close('SIGTERM'));
  process.once('SIGINT', () => void close('SIGINT'));
}
