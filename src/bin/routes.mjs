#!/usr/bin/env node
// Entry point for `routes`, herald's operator CLI: registers tsx so the
// TypeScript sources run directly (as src/bin/herald.mjs does), then hands
// over to src/cli/index.ts. Ctrl-C ends `routes watch` cleanly.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../cli/index.ts');
const ac = new globalThis.AbortController();
process.once('SIGINT', () => ac.abort());
process.stdout.on('error', (e) => {
  // `routes list | head` closes the pipe early: not an error worth a trace.
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});
process.exitCode = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, signal: ac.signal });
