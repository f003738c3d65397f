// The node options a bin script runs with: the words after `node` on its
// `#!/usr/bin/env -S node …` line (src/bin/herald.mjs says why it has them).
// One reader for everything that starts herald without that line: the Debian
// wrappers (packaging/deb/build.mjs), the benchmarks and the fault labs
// (through test/support/node-flags.ts).
import { readFileSync } from 'node:fs';

/** The node options on the first line of `script` (none for a plain `#!/usr/bin/env node`). */
export function shebangFlags(script) {
  return (readFileSync(script, 'utf8').split('\n', 1)[0] ?? '')
    .replace(/^#!.*?\bnode\b/, '')
    .trim()
    .split(/\s+/)
    .filter(Boolean);
}
