/**
 * A whole pipeline for an integration test: its own environment, state seeded through Kafka by `seed`,
 * a reader of push.sent, every worker its own process, settled before the test begins.
 */
import type { PushSent } from '../../shared/schemas/events.schema';
import { createTestEnv, type TestEnv } from './env';
import { collect, type Collected } from './kafka';
import { PipelineProbe } from './pipeline';
import { ALL_WORKERS, Workers } from './workers';
import type { WorkerName } from '../../shared/workers';

export interface RunningPipeline {
  env: TestEnv;
  probe: PipelineProbe;
  workers: Workers;
  sent: Collected<PushSent>;
  stop(): Promise<void>;
}

export async function startPipeline(
  overrides: Record<string, string>,
  seed: (env: TestEnv) => Promise<void>,
  opts: { without?: readonly WorkerName[] } = {},
): Promise<RunningPipeline> {
  const env = await createTestEnv(overrides);
  const probe = new PipelineProbe(env.config);
  await seed(env);
  const sent = await collect<PushSent>(env.config, 'pushSent');
  const workers = new Workers(env.vars).start(ALL_WORKERS.filter((w) => !opts.without?.includes(w)));
  await probe.settle(120_000);
  return {
    env,
    probe,
    workers,
    sent,
    async stop() {
      await workers.stop();
      await sent.stop();
      await probe.close();
      await env.cleanup();
    },
  };
}
