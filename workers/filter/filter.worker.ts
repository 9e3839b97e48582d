import { createFilterStage } from '../../services/pipeline/filter';
import { stageMain } from '../stage-main';

stageMain('filter', 'filter', (rt) => createFilterStage({ state: rt.state, now: () => rt.clock.now() }));
