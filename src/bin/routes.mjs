#!/usr/bin/env node
// Entry point for `routes`, herald's operator CLI: runs the bundle
// dist/routes.mjs, built from src/cli/index.ts by `npm run build` (also run by
// `npm ci`; decision 0027): plain JavaScript, no TypeScript transform at
// start-up, so the summary answers in well under 200 ms (issue 5). Ctrl-C
// ends `routes watch` cleanly.
// (No `import 'node:fs'` to test for dist first: the ESM facade of node:fs
// loads its lazy streams, ~6 ms; a failed import says as much.)
const built = new globalThis.URL('../../dist/routes.mjs', import.meta.url).href;
let runCli;
try {
  ({ runCli } = await import(built));
} catch (e) {
  if (e?.code !== 'ERR_MODULE_NOT_FOUND' || e.url !== built) throw e;
  process.stderr.write('routes: dist/routes.mjs is missing; run `npm run build` in the herald tree\n');
  process.exit(1);
}
const ac = new globalThis.AbortController();
process.once('SIGINT', () => ac.abort());
process.stdout.on('error', (e) => {
  // `routes list | head` closes the pipe early: not an error worth a trace.
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});
process.exitCode = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, signal: ac.signal });
