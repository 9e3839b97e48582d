import { createTargetStage } from '../../services/pipeline/target';
import { stageMain } from '../stage-main';
import { strategiesAndCatalog } from '../boot';

stageMain('target', 'target', (rt) =>
  createTargetStage({ ...strategiesAndCatalog(rt), batchSize: rt.config.BATCH_SIZE }),
);
