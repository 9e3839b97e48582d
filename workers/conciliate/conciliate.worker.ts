import { deliveryWindows } from '../../shared/config';
import { createConciliateStage, createValueConciliateStage } from '../../services/pipeline/conciliate';
import { conciliationSettings } from '../../services/conciliation/settings';
import { stageMain } from '../stage-main';

stageMain('conciliate', 'conciliate', (rt) => {
  if (rt.config.CONCILIATION === 'compare')
    return createConciliateStage({ decisions: rt.state.decisions, trace: rt.state.trace });
  const s = conciliationSettings(rt.config, rt.strategies);
  return createValueConciliateStage({
    state: rt.state,
    now: () => rt.clock.now(),
    policy: s.policy,
    rules: s.rules,
    holdouts: s.holdouts,
    strategies: s.strategies,
    schedules: s.schedules,
    contactWindowMs: deliveryWindows(rt.config).contactWindowMs,
    logRate: s.logRate,
    trace: rt.state.trace,
  });
});
