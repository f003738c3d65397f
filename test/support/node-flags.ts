// The node options herald runs with, read from the #! line of its entry
// script (src/bin/herald.mjs, where they are explained): the benchmarks and
// the fault labs start herald with `node` directly and give it the same.
// The reader is packaging/node-flags.mjs, which the Debian wrappers use too.
// Test tooling.
import { fileURLToPath } from 'node:url';
import { shebangFlags } from '../../packaging/node-flags.mjs';

export { shebangFlags };

/** herald's production node options (src/bin/herald.mjs). */
export const PRODUCTION_NODE_FLAGS = shebangFlags(fileURLToPath(new URL('../../src/bin/herald.mjs', import.meta.url)));
