import { createConciliateStage } from '../../services/pipeline/conciliate';
import { stageMain } from '../stage-main';

stageMain('conciliate', 'conciliate', (rt) =>
  createConciliateStage({ decisions: rt.state.decisions, trace: rt.state.trace }),
);
