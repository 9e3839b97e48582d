import { rankScore } from '../../services/ranking/heuristic';
import { createScoreStage } from '../../services/pipeline/score';
import { stageMain } from '../stage-main';

stageMain('score', 'score', (rt) => createScoreStage({ store: rt.store, scorer: rankScore }));
