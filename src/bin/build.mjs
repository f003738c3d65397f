#!/usr/bin/env node
// Builds dist/: herald's daemon and its `routes` CLI bundled with esbuild into
// plain JavaScript, so neither compiles TypeScript at start-up and an
// installed herald needs no dev tool (decision 0027, which supersedes 0007
// and 0016).
//
//   node src/bin/build.mjs            build dist/ (npm run build, prepare, prepack)
//   node src/bin/build.mjs --check    exit 1, naming the files, when dist/ is not
//                                     what the sources build to now (stale)
//   --root=DIR                        build or check another tree (tests)
//
// ENTRIES are the daemon's main-thread entry points; each becomes
// dist/<name>.mjs (plus its .map). Code two entries share, and every dynamic import() (the
// LXD client, metrics, the DNS check: loaded only when the config uses them),
// goes into a chunk beside them, dist/<name>-<hash>.mjs. THREADS are worker
// threads' entry points, e.g. `'engine-worker': 'bgp/driver/engine-worker.ts'`
// → dist/engine-worker.cjs, started with
// `new Worker(new URL('./engine-worker.cjs', import.meta.url))` from whichever
// entry or chunk holds that call (all of dist/ is one directory). Each thread
// is one bundle of its own, sharing no chunk with ENTRIES (decision 0039):
// esbuild puts a whole file in a chunk that every entry reaching it loads, so
// a chunk shared with the worker made the main thread load the sessions' code
// (Speaker, FSM, RIB, BFD) that only the worker runs; a thread's isolate
// compiles its own copy of shared code anyway. Threads are CommonJS: a
// worker started on an ES module sets up its own ES module loader, ~0.5 MB of
// idle RSS that a thread loading nothing lazily does not need (decision 0049).
// PROGRAMS are short-lived
// commands (the `routes` CLI), each one CommonJS file, dist/<name>.cjs, with
// nothing loaded lazily: Node starts a CommonJS main ~12 ms sooner than an
// ES module one (no ESM loader to set up), which is a tenth of a `routes`
// call (decision 0046). --check and both packages cover all three lists.
//
// Bundled: every package but koffi (native: its .node file cannot be bundled
// and stays a runtime dependency). Minified: a third less code to hold than
// readable output. Source maps are written beside each file, without the sources'
// text; every entry first imports src/stack-traces.ts, which maps a trace's
// frames back to the .ts files only when a trace is printed (Node's
// --enable-source-maps parses every map at start-up: 5-7 MB of idle RSS).
//
// Output is written under temporary names and renamed into place; files of
// an older build that the new one does not produce are removed last, so a
// `routes` started during a rebuild runs the old build or the new one.
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Main-thread entry points: dist/<key>.mjs is built from the value (a path in the tree). */
export const ENTRIES = {
  herald: 'src/main.ts',
};

/** Commands bundled whole as CommonJS: dist/<key>.cjs, run by src/bin/<key>.cjs. */
export const PROGRAMS = {
  routes: 'src/cli/index.ts',
};

/**
 * Code loaded for a moment and dropped: each is one CommonJS file,
 * dist/<key>.cjs, compiled by its loader at each use and collected after it
 * (decision 0050). The config parser takes errors.ts and secret.ts from the
 * thread that loads it (src/config/load.ts), so what it returns holds none
 * of its own objects, and ip.ts (with the ip-address library), which that
 * thread has loaded anyway.
 */
export const LOADED = {
  'config-parser': 'src/config/parse.ts',
};

/** The loader's names for the modules a LOADED bundle takes from its host (src/config/load.ts, SHARED_MODULES). */
const SHARED = { 'src/config/errors.ts': 'herald:config/errors', 'src/config/secret.ts': 'herald:config/secret', 'src/ip.ts': 'herald:ip' };

/** Worker threads' entry points, each bundled alone as CommonJS, dist/<key>.cjs (no chunk shared with ENTRIES). */
export const THREADS = {
  // The session engine's thread (decision 0020), started by bgp/driver/engine-client.ts.
  'engine-worker': 'bgp/driver/engine-worker.ts',
  // The BFD thread (decision 0040), started by the engine from bgp/bfd/thread.ts.
  'bfd-worker': 'bgp/bfd/bfd-worker.ts',
};

const ALL = { ...ENTRIES, ...THREADS, ...PROGRAMS };

/** Leave SHARED out of a LOADED bundle: a require() of the loader's name for it. */
export const sharedPlugin = (root) => ({
  name: 'herald-shared',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\/.*\.js$/ }, (a) => {
      const file = relative(root, join(a.resolveDir, a.path.replace(/\.js$/, '.ts')));
      return SHARED[file] ? { path: SHARED[file], external: true } : undefined;
    });
  },
});

/** Packages left as imports: native code that must be installed, not bundled. */
export const EXTERNAL = ['koffi'];

const BANNER = [
  '// Generated by src/bin/build.mjs (npm run build) from herald\'s sources; do not edit.',
  // Bundled CommonJS packages (pino, ws...) call require() for node: built-ins.
  "import { createRequire as __heraldRequire } from 'node:module'; const require = __heraldRequire(import.meta.url);",
].join('\n');

/** A CommonJS bundle's `import.meta.url`, made from `__filename` (threads, programs, and the benchmarks' copies). */
export const CJS_DEFINE = { 'import.meta.url': '__heraldImportMetaUrl' };
export const CJS_BANNER = [
  '// Generated by src/bin/build.mjs (npm run build) from herald\'s sources; do not edit.',
  "const __heraldImportMetaUrl = require('node:url').pathToFileURL(__filename).href;",
].join('\n');

/** Each entry is a small virtual module: the stack-trace hook, then the real entry's exports. */
const entryPlugin = (root) => ({
  name: 'herald-entries',
  setup(b) {
    b.onResolve({ filter: /^herald-entry:/ }, (a) => ({ path: a.path.slice('herald-entry:'.length), namespace: 'herald-entry' }));
    b.onLoad({ filter: /.*/, namespace: 'herald-entry' }, (a) => ({
      contents: `import './src/stack-traces.ts';\nexport * from './${ALL[a.path]}';\n`,
      resolveDir: root,
      loader: 'ts',
    }));
  },
});

/** Bundle the tree at `root` in memory; returns [path relative to dist/, contents] pairs. */
export async function bundle(root) {
  let build;
  try {
    ({ build } = await import('esbuild'));
  } catch (e) {
    if (e?.code !== 'ERR_MODULE_NOT_FOUND') throw e;
    throw new Error('esbuild is not installed: dist/ is built in a clone with its dev dependencies (`npm ci`, not `npm ci --omit=dev`); an installed package ships dist/ prebuilt');
  }
  const options = {
    absWorkingDir: root,
    plugins: [entryPlugin(root)],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: EXTERNAL,
    outdir: join(root, 'dist'),
    outExtension: { '.js': '.mjs' },
    // Chunks beside the entries, so `new URL('./engine-worker.cjs',
    // import.meta.url)` names the same file from an entry and from any chunk.
    chunkNames: '[name]-[hash]',
    sourcemap: 'linked',
    sourcesContent: false,
    minify: true,
    // No keepNames: it wraps every function and class in a naming call, which
    // zod runs for every schema it builds: +4.5 MB idle RSS measured. Nothing
    // here reads Function.name (error classes set `name` themselves), and
    // stack traces get their names back from the source maps.
    legalComments: 'none',
    // `herald --version` and `routes --version` answer from the bundle (src/version.ts).
    define: {
      HERALD_VERSION: JSON.stringify(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version),
      // src/config/load.ts compiles the parser from this file instead of importing parse.ts.
      HERALD_CONFIG_PARSER: JSON.stringify('config-parser.cjs'),
    },
    // Paths as the tree names them (a test builds a copy whose node_modules is a link).
    preserveSymlinks: true,
    write: false,
    logLevel: 'warning',
    banner: { js: BANNER },
  };
  const entries = (list) => Object.keys(list).map((out) => ({ in: `herald-entry:${out}`, out }));
  // A CommonJS program has require() and __filename; import.meta.url is made from the latter.
  const cjs = {
    ...options,
    format: 'cjs',
    outExtension: { '.js': '.cjs' },
    define: { ...options.define, ...CJS_DEFINE },
    banner: { js: CJS_BANNER },
  };
  const [main, threads, programs, loaded] = await Promise.all([
    build({ ...options, entryPoints: entries(ENTRIES), splitting: true }),
    build({ ...cjs, entryPoints: entries(THREADS), splitting: false }),
    build({ ...cjs, entryPoints: entries(PROGRAMS), splitting: false }),
    // The source itself, not an entry with the stack-trace hook: the thread that loads it has the hook.
    build({ ...cjs, plugins: [sharedPlugin(root)], entryPoints: Object.entries(LOADED).map(([out, src]) => ({ in: src, out })), splitting: false }),
  ]);
  const dist = join(root, 'dist');
  return [...main.outputFiles, ...threads.outputFiles, ...programs.outputFiles, ...loaded.outputFiles].map((f) => [relative(dist, f.path), Buffer.from(f.contents)]);
}

/** Every file under dir, as paths relative to it. */
function listFiles(dir, sub = '') {
  if (!existsSync(join(dir, sub))) return [];
  return readdirSync(join(dir, sub), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(dir, join(sub, e.name)) : [join(sub, e.name)],
  );
}

const digest = (b) => createHash('sha256').update(b).digest('hex');
const built = (p) => /\.[mc]js(\.map)?$/.test(p);

/** Compare dist/ with a fresh in-memory build; returns the differences (empty when fresh). */
export async function staleFiles(root) {
  const dist = join(root, 'dist');
  const want = new Map((await bundle(root)).map(([p, b]) => [p, digest(b)]));
  const have = new Set(listFiles(dist));
  const problems = [];
  for (const [p, h] of want) {
    if (!have.has(p)) problems.push(`dist/${p} is missing`);
    else if (digest(readFileSync(join(dist, p))) !== h) problems.push(`dist/${p} differs from what the sources build to`);
  }
  for (const p of have) if (!want.has(p) && built(p)) problems.push(`dist/${p} is left from an older build`);
  return problems;
}

/** Build dist/ under `root`; returns the files written. */
export async function writeDist(root) {
  const dist = join(root, 'dist');
  const files = await bundle(root);
  const keep = new Set(files.map(([p]) => p));
  // Chunks first (new hashes, new names), then maps, then the entries that import them.
  const entries = new Set([...Object.keys(ENTRIES).map((n) => `${n}.mjs`), ...Object.keys({ ...THREADS, ...PROGRAMS, ...LOADED }).map((n) => `${n}.cjs`)]);
  const order = (p) => (p.endsWith('.map') ? 1 : entries.has(p) ? 2 : 0);
  for (const [p, contents] of files.sort((a, b) => order(a[0]) - order(b[0]))) {
    const out = join(dist, p);
    mkdirSync(dirname(out), { recursive: true });
    const tmp = `${out}.${process.pid}.tmp`;
    writeFileSync(tmp, contents);
    renameSync(tmp, out);
  }
  for (const p of listFiles(dist)) if (!keep.has(p) && built(p)) rmSync(join(dist, p));
  // Directories an older layout left empty (dist/chunks/ before chunks moved beside the entries).
  for (const e of readdirSync(dist, { withFileTypes: true })) {
    if (e.isDirectory() && listFiles(join(dist, e.name)).length === 0) rmSync(join(dist, e.name), { recursive: true });
  }
  return files.map(([p]) => p);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const rootArg = args.find((a) => a.startsWith('--root='));
  const root = rootArg ? resolve(rootArg.slice('--root='.length)) : fileURLToPath(new globalThis.URL('../..', import.meta.url));
  const unknown = args.filter((a) => a !== '--check' && !a.startsWith('--root='));
  if (unknown.length) {
    process.stderr.write(`build.mjs: unknown argument ${unknown[0]} (known: --check, --root=DIR)\n`);
    process.exit(2);
  }
  if (args.includes('--check')) {
    const problems = await staleFiles(root);
    if (problems.length) {
      process.stderr.write(`dist/ is stale against the sources in ${root}; run \`npm run build\`:\n${problems.map((p) => `  ${p}\n`).join('')}`);
      process.exit(1);
    }
  } else {
    await writeDist(root);
  }
}
