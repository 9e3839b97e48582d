import { createAudienceStage } from '../../services/pipeline/audience';
import { stageMain } from '../stage-main';

stageMain('audience', 'audience', (rt) =>
  createAudienceStage({ users: rt.state.users, batchSize: rt.config.BATCH_SIZE, pagesPerJob: 10 }),
);
