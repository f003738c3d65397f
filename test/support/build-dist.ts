// vitest global setup (both projects): rebuild dist/ from the sources before
// any test runs, so every test that starts the real `herald` or `routes`
// (src/bin/*.mjs run the bundles, decision 0027) tests the code as it is
// now, never a bundle left from an older checkout. esbuild takes well under a
// second. No RFC: test infrastructure.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Build dist/ with src/bin/build.mjs, the same step as `npm run build`. */
export function setup(): void {
  execFileSync(process.execPath, [fileURLToPath(new URL('../../src/bin/build.mjs', import.meta.url))], { stdio: 'inherit' });
}
