// `node --import ./record-loads.mjs …`: appends the URL of every file: module
// the process loads (static and dynamic imports, in every thread) to the file
// named by $HERALD_LOAD_LOG, one per line. Test support for
// test/packaging/dist.test.ts (which chunks a config makes herald load).
import { register } from 'node:module';

register('./record-loads-hooks.mjs', import.meta.url);
