import { rankScore } from '../../services/ranking/heuristic';
import { createScoreStage } from '../../services/pipeline/score';
import { stageMain } from '../stage-main';

stageMain('score', 'score', (rt) =>
  createScoreStage({
    users: rt.state.users,
    places: { store: rt.state.places, now: () => rt.clock.now() },
    strategies: rt.strategies,
    scorer: rankScore,
    trace: rt.state.trace,
  }),
);
