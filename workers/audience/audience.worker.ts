import { createAudienceStage } from '../../services/pipeline/audience';
import { stageMain } from '../stage-main';

stageMain('audience', 'audience', (rt) =>
  createAudienceStage({ store: rt.store, batchSize: rt.config.BATCH_SIZE, pagesPerJob: 10 }),
);
