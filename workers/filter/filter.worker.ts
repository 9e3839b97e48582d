import { deliveryWindows } from '../../shared/config';
import { createFilterStage } from '../../services/pipeline/filter';
import { stageMain } from '../stage-main';

stageMain('filter', 'filter', (rt) =>
  createFilterStage({
    state: rt.state,
    now: () => rt.clock.now(),
    trace: rt.state.trace,
    // Predicted send times book after an open window ends; fixed ones would send into it, so they drop.
    cooldownGraceMs: rt.config.SEND_MODE === 'predicted' ? deliveryWindows(rt.config).contactWindowMs : 0,
    needsLocationOptIn: (strategy) => rt.strategies.get(strategy)?.needsLocationOptIn === true,
  }),
);
