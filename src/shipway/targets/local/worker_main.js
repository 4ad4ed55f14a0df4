// A warm Node.js function worker: `node worker_main.js <service_dir> <handler>`.
//
// The Node twin of worker_main.py, with the same protocol: length-prefixed frames (a 4-byte
// big-endian length, then that many bytes of JSON), requests on stdin, responses on stdout,
// one request at a time. The handler's console output goes to stderr (the service's log,
// written by the parent between its START and END/REPORT lines); stdout carries frames only.
//
//   request:  {"event": ..., "context": {"aws_request_id", "function_name", "memory_limit_in_mb",
//              "invoked_function_arn", "log_group_name", "log_stream_name", "deadline_ms"}}
//   response: {"ok": true, "result": ..., "ms": float}
//             {"ok": false, "errorType", "errorMessage", "stackTrace": [...], "ms": float|null}
//
// Handlers load as the Lambda Node.js runtime loads them (its UserFunction.js): the part of
// the handler after the last `/` splits at its first `.` into the module and the (possibly
// nested) export; `.js` is CommonJS unless the nearest package.json says `"type": "module"`,
// `.mjs` is an ES module, `.cjs` CommonJS. A handler returning a promise is awaited; one that
// takes three parameters answers through its callback. Node's standard library only.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const util = require("node:util");
const { pathToFileURL } = require("node:url");

const protoWrite = process.stdout.write.bind(process.stdout);
const errWrite = process.stderr.write.bind(process.stderr);
// Anything the handler writes to stdout goes to the log; only frames go to the parent.
process.stdout.write = errWrite;

let currentRequestId = "";

// console.* as in Lambda: `<ISO time>\t<request id>\t<LEVEL>\t<message>`, one entry each.
function logLine(level, args) {
  const text = util.format(...args).replace(/\n/g, "\r");
  errWrite(`${new Date().toISOString()}\t${currentRequestId || "undefined"}\t${level}\t${text}\n`);
}
console.log = (...a) => logLine("INFO", a);
console.info = (...a) => logLine("INFO", a);
console.warn = (...a) => logLine("WARN", a);
console.error = (...a) => logLine("ERROR", a);
console.debug = (...a) => logLine("DEBUG", a);
console.trace = (...a) => logLine("TRACE", a);

class RuntimeError extends Error {
  constructor(type, message) {
    super(message);
    this.name = `Runtime.${type}`;
  }
}

function errorDocument(err) {
  if (err instanceof Error || (err && typeof err.message === "string")) {
    return {
      errorType: String(err.name || "Error"),
      errorMessage: String(err.message),
      // the worker's own frames say nothing about the user's code
      stackTrace:
        typeof err.stack === "string"
          ? err.stack.split("\n").filter((line) => !line.includes(__filename))
          : [],
    };
  }
  return { errorType: typeof err, errorMessage: String(err), stackTrace: [] };
}

function hasTypeModule(folder) {
  for (let dir = folder; ; dir = path.dirname(dir)) {
    if (dir.endsWith(`${path.sep}node_modules`)) return false;
    const pj = path.join(dir, "package.json");
    if (fs.existsSync(pj)) {
      try {
        return JSON.parse(fs.readFileSync(pj, "utf8")).type === "module";
      } catch (e) {
        return false;
      }
    }
    if (dir === path.dirname(dir)) return false;
  }
}

async function loadModule(appRoot, moduleRoot, moduleName) {
  const base = path.resolve(appRoot, moduleRoot, moduleName);
  const exists = (suffix) => fs.existsSync(base + suffix);
  if (exists("") && fs.statSync(base).isFile()) return require(base);
  const esm = exists(".js") && hasTypeModule(path.dirname(base));
  if (exists(".js") && !esm) return require(`${base}.js`);
  if (esm) return import(pathToFileURL(`${base}.js`).href);
  if (exists(".mjs")) return import(pathToFileURL(`${base}.mjs`).href);
  if (exists(".cjs")) return require(`${base}.cjs`);
  // as Node resolves it: a folder with an index, or a package in node_modules
  return require(require.resolve(moduleName, { paths: [appRoot, path.resolve(appRoot, moduleRoot)] }));
}

async function loadHandler(appRoot, full) {
  if (full.includes("..")) {
    throw new RuntimeError(
      "MalformedHandlerName",
      `'${full}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const handlerString = path.basename(full);
  const moduleRoot = full.substring(0, full.indexOf(handlerString));
  const match = handlerString.match(/^([^.]*)\.(.*)$/);
  if (!match) throw new RuntimeError("MalformedHandlerName", "Bad handler");
  const [, moduleName, handlerPath] = match;
  let app;
  try {
    app = await loadModule(appRoot, moduleRoot, moduleName);
  } catch (e) {
    if (e instanceof SyntaxError) throw new RuntimeError("UserCodeSyntaxError", String(e));
    if (e && (e.code === "MODULE_NOT_FOUND" || e.code === "ERR_MODULE_NOT_FOUND")) {
      throw new RuntimeError("ImportModuleError", String(e));
    }
    throw e;
  }
  const func = handlerPath.split(".").reduce((obj, key) => obj && obj[key], app);
  if (!func) throw new RuntimeError("HandlerNotFound", `${full} is undefined or not exported`);
  if (typeof func !== "function") {
    throw new RuntimeError("HandlerNotFound", `${full} is not a function`);
  }
  return func;
}

function makeContext(fields, settle) {
  const deadline = Number(fields.deadline_ms || 0);
  return {
    functionName: fields.function_name || "",
    functionVersion: "$LATEST",
    invokedFunctionArn: fields.invoked_function_arn || "",
    memoryLimitInMB: String(fields.memory_limit_in_mb || 128),
    awsRequestId: fields.aws_request_id || "",
    logGroupName: fields.log_group_name || "",
    logStreamName: fields.log_stream_name || "",
    identity: undefined,
    clientContext: undefined,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    // the legacy context methods, still offered by the runtime
    done: (err, result) => settle(err, result),
    succeed: (result) => settle(null, result),
    fail: (err) => settle(err === undefined || err === null ? "handled" : err),
  };
}

let handlerPromise = null; // the loaded handler; a failed load is retried on the next request
let pending = null; // the current request's `settle`, for an uncaught exception

function send(response) {
  let data;
  try {
    data = JSON.stringify(response);
  } catch (e) {
    data = JSON.stringify({
      ok: false,
      errorType: "Runtime.MarshalError",
      errorMessage: `Unable to stringify response body: ${e.message}`,
      stackTrace: [],
      ms: response.ms,
    });
  }
  const body = Buffer.from(data, "utf8");
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length, 0);
  protoWrite(Buffer.concat([head, body]));
}

function logError(kind, doc) {
  const shown = { errorType: doc.errorType, errorMessage: doc.errorMessage, stack: doc.stackTrace };
  logLine("ERROR", [`${kind} ${JSON.stringify(shown)}`]);
}

async function invoke(appRoot, handler, message) {
  const fields = message.context || {};
  currentRequestId = fields.aws_request_id || "";
  let func;
  try {
    if (handlerPromise === null) handlerPromise = loadHandler(appRoot, handler);
    func = await handlerPromise;
  } catch (e) {
    handlerPromise = null;
    const doc = errorDocument(e);
    logError("Uncaught Exception", doc);
    return { ok: false, ...doc, ms: null };
  }
  const started = process.hrtime.bigint();
  const outcome = await new Promise((resolve) => {
    let settled = false;
    const settle = (err, result) => {
      if (settled) return;
      settled = true;
      pending = null;
      resolve({ err, result });
    };
    pending = settle;
    const context = makeContext(fields, settle);
    try {
      const value = func(message.event, context, settle);
      if (value && typeof value.then === "function") {
        value.then(
          (result) => settle(null, result),
          (err) => settle(err === undefined || err === null ? new Error(String(err)) : err),
        );
      } else if (func.length < 3) {
        // neither a promise nor a callback: Lambda answers null once the handler returns
        setImmediate(() => settle(null, null));
      }
    } catch (err) {
      settle(err);
    }
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (outcome.err !== null && outcome.err !== undefined) {
    const doc = errorDocument(outcome.err);
    logError("Invoke Error", doc);
    return { ok: false, ...doc, ms };
  }
  return { ok: true, result: outcome.result === undefined ? null : outcome.result, ms };
}

function main(argv) {
  if (argv.length !== 2) {
    errWrite("usage: worker_main.js <service_dir> <handler>\n");
    process.exit(2);
  }
  const [serviceDir, handler] = argv;
  process.chdir(serviceDir);

  process.on("uncaughtException", (err) => {
    const doc = errorDocument(err);
    logError("Uncaught Exception", doc);
    if (pending) {
      // the request fails and the worker stops, as Lambda restarts the runtime
      send({ ok: false, ...doc, ms: null });
    }
    process.exit(129);
  });
  process.on("unhandledRejection", (reason) => {
    const err = new RuntimeError(
      "UnhandledPromiseRejection",
      reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason),
    );
    process.emit("uncaughtException", err);
  });

  let buffer = Buffer.alloc(0);
  let busy = false;
  const pump = async () => {
    if (busy) return;
    busy = true;
    while (buffer.length >= 4) {
      const size = buffer.readUInt32BE(0);
      if (buffer.length < 4 + size) break;
      const body = buffer.subarray(4, 4 + size).toString("utf8");
      buffer = buffer.subarray(4 + size);
      let response;
      try {
        response = await invoke(serviceDir, handler, JSON.parse(body));
      } catch (e) {
        response = { ok: false, errorType: "Runtime.InvalidRequest", errorMessage: `bad request: ${e.message}`, stackTrace: [], ms: null };
      }
      send(response);
      currentRequestId = "";
    }
    busy = false;
  };
  process.stdin.on("data", (chunk) => {
    buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
    pump();
  });
  process.stdin.on("end", () => process.exit(0));
}

main(process.argv.slice(2));
