// Preloaded into `serverless package` by bench/synth_oracle.py (NODE_OPTIONS=--require):
// packaging a service with `layers:` asks CloudFormation for the last stack's layer hash
// (compile/layers.js compareWithLastLayer). Offline, that call answers as for a first
// deploy ("does not exist"), so the oracle runs without AWS. The stacks named in
// SHIPWAY_ORACLE_STACKS ({stack: {output: value}}) answer with those outputs instead: the
// examples' `${cf:<sibling>.Output}`.
'use strict';
const Module = require('module');
const load = Module._load;
Module._load = function (request, parent, isMain) {
  const loaded = load.apply(this, arguments);
  const file = Module._resolveFilename(request, parent, isMain);
  if (file.endsWith('/lib/plugins/aws/provider.js') && !loaded.__shipwayOffline) {
    const request_ = loaded.prototype.request;
    loaded.prototype.request = function (service, method, params) {
      if (service === 'CloudFormation' && method === 'describeStacks') {
        const known = JSON.parse(process.env.SHIPWAY_ORACLE_STACKS || '{}')[params.StackName];
        if (known) {
          const outputs = Object.entries(known).map(([k, v]) => ({ OutputKey: k, OutputValue: v }));
          return Promise.resolve({ Stacks: [{ StackName: params.StackName, Outputs: outputs }] });
        }
        return Promise.reject(new Error(`Stack with id ${params.StackName} does not exist`));
      }
      return request_.apply(this, arguments);
    };
    loaded.__shipwayOffline = true;
  }
  return loaded;
};
