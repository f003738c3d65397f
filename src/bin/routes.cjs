#!/usr/bin/env node
// Entry point for `routes`, herald's operator CLI: runs the bundle
// dist/routes.cjs, built from src/cli/index.ts by `npm run build` (also run by
// `npm ci`; decision 0027): plain JavaScript, no TypeScript transform at
// start-up. CommonJS, this file and the bundle: Node starts a CommonJS main
// without setting up its ES module loader, ~12 ms of a ~140 ms call (decision
// 0046). Ctrl-C ends `routes watch` cleanly.
'use strict';
const bundle = require('node:path').join(__dirname, '../../dist/routes.cjs');
let runCli;
try {
  ({ runCli } = require(bundle));
} catch (e) {
  if (e?.code !== 'MODULE_NOT_FOUND' || !String(e.message).includes(bundle)) throw e;
  process.stderr.write('routes: dist/routes.cjs is missing; run `npm run build` in the herald tree\n');
  process.exit(1);
}
const ac = new globalThis.AbortController();
process.once('SIGINT', () => ac.abort());
process.stdout.on('error', (e) => {
  // `routes list | head` closes the pipe early: not an error worth a trace.
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});
runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, signal: ac.signal }).then((code) => {
  process.exitCode = code;
});
