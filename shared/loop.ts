/**
 * A background loop that does work in rounds: `round()` returns how much it did; after a round that did
 * nothing it idles for `idleMs` (or until `wake()`), after a failure it logs and backs off. `stop()` ends
 * it after the round in progress. Delivery, the outbox publisher and the scheduler run on it.
 */
import type { Logger } from './logger';

export interface LoopOptions {
  name: string;
  round: () => Promise<number>;
  /** Real ms to idle after a round that found nothing to do. */
  idleMs: number;
  /** Real ms to wait after a failed round. Default 1000. */
  backoffMs?: number;
  logger: Logger;
}

export interface Loop {
  /** Cuts the idle wait short: work has arrived. */
  wake(): void;
  /** Ends the loop once the round in progress is done. */
  stop(): Promise<void>;
}

export function startLoop(opts: LoopOptions): Loop {
  let running = true;
  let wake: (() => void) | undefined;
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      wake = done;
    });
  const done = (async () => {
    while (running) {
      try {
        if ((await opts.round()) === 0 && running) await pause(opts.idleMs);
      } catch (err) {
        opts.logger.error({ err, loop: opts.name }, `${opts.name} round failed; retrying`);
        if (running) await pause(opts.backoffMs ?? 1000);
      }
    }
  })();
  return {
    wake: () => wake?.(),
    async stop() {
      running = false;
      wake?.();
      await done;
    },
  };
}
