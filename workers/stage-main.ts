/** The entry point of a BullMQ stage process: build the handler once, run the stage, own the shutdown. */
import type { QueueKey } from '../shared/queue-catalog';
import { onShutdown } from '../shared/shutdown';
import { runStage, type StageHandler } from '../shared/stage';
import { boot, fatal, type Runtime } from './boot';

export interface StageRuntime extends Runtime {
  /** Run on SIGTERM before the stage's worker closes; a caller adds its own loops here. */
  closers: Array<() => Promise<unknown>>;
}

export function stageMain<K extends QueueKey>(
  name: string,
  stage: K,
  makeHandler: (rt: Runtime) => StageHandler<K>,
): StageRuntime {
  const rt = boot(name);
  let handle: StageHandler<K>;
  try {
    handle = makeHandler(rt);
  } catch (err) {
    fatal(rt.logger, err);
  }
  const worker = runStage({
    stage,
    connection: rt.redis,
    queues: rt.queues,
    prefix: rt.config.HERALD_PREFIX,
    handle,
    logger: rt.logger,
    concurrency: rt.config.STAGE_CONCURRENCY,
    lockMs: rt.config.STAGE_LOCK_MS,
  });
  const closers: StageRuntime['closers'] = [];
  onShutdown(rt.logger, [
    async () => {
      for (const c of closers) await c();
    },
    () => worker.close(),
    () => rt.close(),
  ]);
  rt.logger.info({ stage }, 'started');
  return { ...rt, closers };
}
