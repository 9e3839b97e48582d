import { rankScore } from '../../services/ranking/heuristic';
import { createModelServer, startDriftReports } from '../../services/ranking/model-server';
import { createScoreStage } from '../../services/pipeline/score';
import { stageMain } from '../stage-main';

let stopModels: (() => Promise<void>) | undefined;

const rt = stageMain('score', 'score', (rt) => {
  const featureLog = rt.config.FEATURE_LOG
    ? {
        rate: rt.config.FEATURE_LOG_RATE,
        decisions: rt.state.decisions,
        telemetry: rt.state.telemetry,
        timing: rt.state.timing,
      }
    : undefined;
  const common = {
    places: { store: rt.state.places, now: () => rt.clock.now() },
    trace: rt.state.trace,
  };
  if (rt.config.SCORE_MODEL === 'off') {
    return createScoreStage({
      users: rt.state.users,
      strategies: rt.strategies,
      scorer: rankScore,
      ...(featureLog ? { featureLog } : {}),
      ...common,
    });
  }
  const server = createModelServer({ models: rt.state.models, logger: rt.logger });
  server.start(rt.config.MODEL_POLL_MS);
  const drift = startDriftReports({
    server,
    models: rt.state.models,
    logger: rt.logger,
    everyMs: rt.config.MODEL_DRIFT_REPORT_MS,
    warnAt: rt.config.MODEL_DRIFT_WARN,
  });
  stopModels = async () => {
    await drift.stop();
    await server.stop();
  };
  return createScoreStage({
    users: rt.state.users,
    strategies: rt.strategies,
    scorer: rankScore,
    ...(featureLog ? { featureLog } : {}),
    ...common,
    model: {
      server,
      telemetry: rt.state.telemetry,
      timing: rt.state.timing,
      weights: { open: rt.config.SCORE_OPEN_WEIGHT, click: rt.config.SCORE_CLICK_WEIGHT },
      logger: rt.logger,
    },
  });
});
if (stopModels) rt.closers.push(stopModels);
