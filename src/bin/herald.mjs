#!/usr/bin/env -S node --max-semi-space-size=1 --heap-growing-percent=25
// Entry point for `herald`: runs the daemon's bundle, dist/herald.mjs, built
// from src/main.ts by `npm run build` (decision 0027). Source maps are on so
// a stack trace names the .ts file and line; the maps are read only when a
// trace is printed. In a clone, `npm ci` (prepare) and `npm test` build dist/;
// `node src/bin/build.mjs --check` tells whether it is stale.
// --max-semi-space-size=1: V8's young generation of 1 MB a semi-space instead
// of 16. A daemon that turns a million route strings into prefix lists makes
// short-lived garbage in bulk; with the small nursery it is collected early
// instead of being copied around, which measured 1.1M routes handed over at
// ~0.6× the peak RSS and no slower (decision 0020). The flag must be given at
// start (V8 sizes the main isolate's heap then), hence `env -S` here; the
// Debian wrapper and the benchmarks read the flags from this line; the engine
// worker gets the same young generation through resourceLimits.
// --heap-growing-percent=25: a full collection once the old generation has
// grown by a quarter over what the last one kept, instead of V8's up to 4×.
// A daemon probing a thousand services promotes a few hundred KB a second of
// check results that die a second later; with V8's default its RSS swung
// between ~110 and ~150 MB with the collection cycle, with this it stays at
// 103–107 MB (decision 0045). Bulk work pays a little: ~+60 ms to parse a
// million routes.
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
