// `npm test` needs nothing started by hand: bring the local stack up (idempotent; a fraction of a second when
// it already runs). `npm test` builds first, so the compiled stack script is there.
module.exports = async function globalSetup(globalConfig) {
  const projects = globalConfig.selectProjects;
  if (projects && !projects.includes('integration')) return;
  const { stackUp } = require('../../dist/infra/stack.js');
  const { loadConfig } = require('../../dist/shared/config.js');
  await stackUp(loadConfig(process.env));
};
