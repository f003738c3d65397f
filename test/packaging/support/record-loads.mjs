// `node --import ./record-loads.mjs …`: appends the URL of every file: module
// the process loads (static and dynamic imports, in every thread) to the file
// named by $HERALD_LOAD_LOG, one per line, and, when the process exits, the
// Node built-ins its main thread loaded, as `builtin:NAME` lines. Test support
// for test/packaging/dist.test.ts (which chunks and built-ins a config makes
// herald load).
import { appendFileSync } from 'node:fs';
import { register } from 'node:module';

register('./record-loads-hooks.mjs', import.meta.url);

process.once('exit', () => {
  const builtins = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => `builtin:${m.slice('NativeModule '.length)}`);
  appendFileSync(process.env.HERALD_LOAD_LOG, `${builtins.join('\n')}\n`);
});
