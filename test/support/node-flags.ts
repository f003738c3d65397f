// The node options herald runs with, read from the #! line of its entry
// script (src/bin/herald.mjs, where they are explained): the benchmarks and
// the fault labs start herald with `node` directly and give it the same.
// Test tooling.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The node options on the `#!/usr/bin/env -S node …` line of `script`. */
export function shebangFlags(script: string): string[] {
  return (readFileSync(script, 'utf8').split('\n', 1)[0] ?? '')
    .replace(/^#!.*?\bnode\b/, '')
    .trim()
    .split(/\s+/)
    .filter(Boolean);
}

/** herald's production node options (src/bin/herald.mjs). */
export const PRODUCTION_NODE_FLAGS = shebangFlags(fileURLToPath(new URL('../../src/bin/herald.mjs', import.meta.url)));
