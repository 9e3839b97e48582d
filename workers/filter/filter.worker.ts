import { createFilterStage } from '../../services/pipeline/filter';
import { stageMain } from '../stage-main';

stageMain('filter', 'filter', (rt) => createFilterStage({ store: rt.store, now: () => rt.clock.now() }));
