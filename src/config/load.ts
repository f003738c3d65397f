/**
 * Reading herald.yaml in the daemon: the parser (parse.ts with the YAML
 * library, zod and the schema) is loaded for one read and dropped after it
 * (decision 0050).
 *
 * Why: an ES module is never unloaded, and the parser is ~2–3 MB of a
 * running daemon's heap (the schema's zod objects, both libraries' code)
 * that is used only at start and at a reload. In a build, the parser is its
 * own CommonJS bundle, dist/config-parser.cjs (src/bin/build.mjs, `LOADED`),
 * compiled here as a function at each read and referenced by nothing once
 * the read is over, so the collector takes it all. What the parser hands
 * back lives on: the Config (plain data), its `Secret`s and a thrown
 * `ConfigError`. Those two classes are this thread's own — the bundle
 * leaves errors.ts and secret.ts out and gets them from here, as
 * `require('herald:config/errors')` and `require('herald:config/secret')` —
 * so `instanceof` holds and no object of the bundle's outlives the read
 * (and ip.ts, `herald:ip`, which the daemon has loaded anyway).
 * The `locate` function it returns does hold the parser: callers keep it
 * only until the config's warnings are written.
 *
 * From the TypeScript sources (tests, tsx) there is no bundle: parse.ts is
 * imported as a module.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileFunction } from 'node:vm';
import * as errors from './errors.js';
import * as secret from './secret.js';
import * as ip from '../ip.js';
import type { Locate } from './parse.js';
import type { Config } from './types.js';

/** The parser bundle's file name in dist/, defined by src/bin/build.mjs; undefined from the sources. */
declare const HERALD_CONFIG_PARSER: string | undefined;

/** What the parser bundle exports (parse.ts). */
type Parser = Pick<typeof import('./parse.js'), 'loadConfigWithLocator' | 'parseConfigWithLocator'>;

/** The modules the bundle takes from this thread instead of its own copies. */
export const SHARED_MODULES: Readonly<Record<string, unknown>> = { 'herald:config/errors': errors, 'herald:config/secret': secret, 'herald:ip': ip };

/** Read and validate a config file, keeping a locator for its key paths; throws ConfigError. */
export async function loadConfigWithLocator(path: string): Promise<{ config: Config; locate: Locate }> {
  if (typeof HERALD_CONFIG_PARSER !== 'string') return ((await import(DEV_PARSER)) as Parser).loadConfigWithLocator(path);
  return withoutNewGlobals(() => loadBundle(fileURLToPath(new URL(`./${HERALD_CONFIG_PARSER}`, import.meta.url))).loadConfigWithLocator(path));
}

/** parse.ts, from the sources; a specifier esbuild does not follow (a build has no use for a chunk of it). */
const DEV_PARSER = './parse.js';

/**
 * Run `f`, then delete the globals it added. zod keeps its settings in
 * `globalThis.__zod_globalConfig`, which holds a function of the bundle and
 * with it the whole bundle: found by a heap snapshot of the daemon, the
 * parser's script retained through that one global.
 */
export async function withoutNewGlobals<T>(f: () => Promise<T>): Promise<T> {
  const before = new Set(Reflect.ownKeys(globalThis));
  try {
    return await f();
  } finally {
    for (const k of Reflect.ownKeys(globalThis)) if (!before.has(k)) Reflect.deleteProperty(globalThis, k);
  }
}

/** Read and validate a config file; throws ConfigError (also when it cannot be read). */
export async function loadConfig(path: string): Promise<Config> {
  return (await loadConfigWithLocator(path)).config;
}

/**
 * Compile a CommonJS parser bundle and run it with a `require` that hands it
 * SHARED_MODULES by name and Node's modules otherwise. Nothing keeps the
 * compiled function or its module object once the caller drops the result.
 */
export function loadBundle(file: string): Parser {
  // Read at once (it is in the page cache after the first start): a thread-pool round trip would sit before the config's own read.
  const source = readFileSync(file, 'utf8');
  const fn = compileFunction(source, ['exports', 'require', 'module', '__filename', '__dirname'], { filename: file }) as (
    exports: object,
    require: (id: string) => unknown,
    module: { exports: object },
    filename: string,
    dirname: string,
  ) => void;
  const nodeRequire = createRequire(file);
  const mod = { exports: {} };
  fn.call(mod.exports, mod.exports, (id) => (Object.hasOwn(SHARED_MODULES, id) ? SHARED_MODULES[id] : nodeRequire(id)), mod, file, dirname(file));
  return mod.exports as Parser;
}
