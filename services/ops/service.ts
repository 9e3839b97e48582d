/**
 * STUB, to be replaced by the real operator service (issue 12, domain side). It exists so that the HTTP
 * API, the `ops` process and the CLI build and start; every call answers 503 'not implemented', and health
 * reports both dependencies down. The deps below are what workers/ops/ops.main.ts passes.
 */
import type { Kafka } from 'kafkajs';
import type { Redis } from 'ioredis';
import type { Clock } from '../../shared/clock';
import type { Logger } from '../../shared/logger';
import type { Queues } from '../../shared/queue-factory';
import type { HeraldConfig } from '../config';
import type { State } from '../state';
import type { StrategyPlugin } from '../strategies';
import type { OpsService } from './api';
import { OpsError } from './errors';

export interface OpsServiceDeps {
  config: HeraldConfig;
  logger: Logger;
  clock: Clock;
  /** BullMQ's connection (the queues'). */
  redis: Redis;
  queues: Queues;
  state: State;
  strategies: Map<string, StrategyPlugin>;
  /** A client of the cluster; the service makes its own producer / consumers from it and closes them. */
  kafka: Kafka;
  /** OPS_MAX_REPLAY: most jobs or letters one replay / re-drive may touch without `override: true` (413). */
  maxReplay: number;
}

export function createOpsService(_deps: OpsServiceDeps): OpsService {
  const notYet = (): Promise<never> => Promise.reject(new OpsError(503, 'not implemented'));
  return {
    listFailed: notYet,
    replay: notYet,
    listDeadLetters: notYet,
    getDeadLetter: notYet,
    redrive: notYet,
    replayTopic: notYet,
    explain: notYet,
    health: () => Promise.resolve({ redis: false, kafka: false }),
    close: () => Promise.resolve(),
  };
}
