#!/usr/bin/env node
// Entry point for `routes`, herald's operator CLI. Runs the prebuilt
// dist/routes.mjs (`npm run build`, also run by `npm ci` / `npm install`):
// plain JavaScript, no TypeScript transform at start-up, so the summary
// answers in well under 200 ms (issue 5; decisions/0016). Only when dist is
// missing does it register tsx and run the TypeScript sources, as
// src/bin/herald.mjs does. Ctrl-C ends `routes watch` cleanly.
// (No `import 'node:fs'` to test for dist first: the ESM facade of node:fs
// loads its lazy streams, ~6 ms; a failed import says as much.)
const built = new globalThis.URL('../../dist/routes.mjs', import.meta.url).href;
let runCli;
try {
  ({ runCli } = await import(built));
} catch (e) {
  if (e?.code !== 'ERR_MODULE_NOT_FOUND' || e.url !== built) throw e;
  const { register } = await import('tsx/esm/api');
  register();
  ({ runCli } = await import('../cli/index.ts'));
}
const ac = new globalThis.AbortController();
process.once('SIGINT', () => ac.abort());
process.stdout.on('error', (e) => {
  // `routes list | head` closes the pipe early: not an error worth a trace.
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});
process.exitCode = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, signal: ac.signal });
