#!/usr/bin/env node
// Entry point for `herald`: runs the daemon's bundle, dist/herald.mjs, built
// from src/main.ts by `npm run build` (decision 0027). Source maps are on so
// a stack trace names the .ts file and line; the maps are read only when a
// trace is printed. In a clone, `npm ci` (prepare) and `npm test` build dist/;
// `node src/bin/build.mjs --check` tells whether it is stale.
const built = new globalThis.URL('../../dist/herald.mjs', import.meta.url).href;
let main;
try {
  ({ main } = await import(built));
} catch (e) {
  if (e?.code !== 'ERR_MODULE_NOT_FOUND' || e.url !== built) throw e;
  process.stderr.write('herald: dist/herald.mjs is missing; run `npm run build` in the herald tree\n');
  process.exit(1);
}
process.exitCode = await main(process.argv.slice(2));
