import { ttlMs } from '../../shared/clock';
import { contactWindowMs } from '../../shared/config';
import { createConciliateStage } from '../../services/pipeline/conciliate';
import { stageMain } from '../stage-main';

stageMain('conciliate', 'conciliate', (rt) =>
  createConciliateStage({ store: rt.store, contactWindowMs: ttlMs(rt.clock, contactWindowMs(rt.config)) }),
);
