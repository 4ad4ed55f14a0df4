// Writes the Serverless Framework's configuration schema (what `configValidationMode`
// checks a serverless.yml against) to src/shipway/config/framework_schema.json.
//
// Usage (node 18+, serverless@3.40.0 installed, e.g. by .ci/run):
//   SLS_DIR=$HOME/.cache/shipway-sls-oracle/node_modules/serverless \
//     node scripts/framework_schema.js > src/shipway/config/framework_schema.json
//
// It loads the installed Framework for a minimal aws service, lets every core plugin
// register its part of the schema, and prints `configSchemaHandler.schema`, with a
// `$comment` saying where it came from. The schema is the Framework's (MIT licensed).
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');

const base =
  process.env.SLS_DIR ||
  path.join(os.homedir(), '.cache/shipway-sls-oracle/node_modules/serverless');

(async () => {
  const Serverless = require(path.join(base, 'lib/serverless'));
  const readConfiguration = require(path.join(base, 'lib/configuration/read'));
  const version = require(path.join(base, 'package.json')).version;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sls-schema-'));
  const file = path.join(dir, 'serverless.yml');
  fs.writeFileSync(file, 'service: x\nprovider:\n  name: aws\n  runtime: python3.11\n');
  const configuration = await readConfiguration(file);
  const sls = new Serverless({
    configuration,
    serviceDir: dir,
    configurationFilename: 'serverless.yml',
    commands: ['package'],
    options: {},
  });
  await sls.init();
  const schema = {
    $comment:
      `Generated from serverless@${version} by scripts/framework_schema.js ` +
      '(the Serverless Framework, MIT licensed). Do not edit: generate it again.',
    ...sls.configSchemaHandler.schema,
  };
  process.stdout.write(JSON.stringify(schema) + '\n');
  fs.rmSync(dir, { recursive: true, force: true });
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
