import { createTargetStage } from '../../services/pipeline/target';
import { stageMain } from '../stage-main';

stageMain('target', 'target', (rt) =>
  createTargetStage({
    strategies: rt.strategies,
    catalog: rt.catalog,
    batchSize: rt.config.BATCH_SIZE,
    trace: rt.state.trace,
  }),
);
