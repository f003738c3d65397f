/**
 * Stack traces of the built herald name the TypeScript files and lines.
 *
 * dist/ is bundled and minified (decision 0027), with a source map beside
 * every file. Node's own `--enable-source-maps` reads and parses every map
 * when its module loads — measured 5–7 MB of idle RSS for maps that are
 * needed only when a trace is printed. This hook maps lazily instead: the
 * first time a stack is formatted, each dist file in it has its map read
 * once (node:module's SourceMap does the decoding), and every frame in a
 * bundled file is rewritten to `src/….ts:line:column`, its minified function
 * name to the original (the map's name at the enclosing function's start). A
 * file without a map (node: internals, koffi) keeps its frame as V8 wrote it.
 *
 * src/bin/build.mjs imports this module first in every entry, so each
 * thread (the daemon, the CLI, a worker) installs it for its own isolate.
 * Under vitest or tsx the sources run directly and no frame is rewritten.
 */
import { createRequire, SourceMap } from 'node:module';

// node:fs and node:url are required when a trace is first mapped, not at
// start-up: their ESM facades cost `routes` several milliseconds (0016).
const requireBuiltin = createRequire(import.meta.url);
const maps = new Map<string, SourceMap | null>();
const lines = new Map<string, string[]>();

/** The generated file's lines (read only when a frame needs its function name). */
function linesOf(file: string): string[] {
  let l = lines.get(file);
  if (!l) {
    const { readFileSync } = requireBuiltin('node:fs') as typeof import('node:fs');
    l = readFileSync(new URL(file), 'utf8').split('\n');
    lines.set(file, l);
  }
  return l;
}

/** The parsed map of one bundled file, or null when it has none. */
function mapOf(file: string): SourceMap | null {
  let map = maps.get(file);
  if (map === undefined) {
    map = null;
    try {
      const { readFileSync } = requireBuiltin('node:fs') as typeof import('node:fs');
      map = new SourceMap(JSON.parse(readFileSync(new URL(`${file}.map`), 'utf8')) as ConstructorParameters<typeof SourceMap>[0]);
    } catch {
      // No map beside it (not one of ours): the frame stays as it is.
    }
    maps.set(file, map);
  }
  return map;
}

/** Rewrite one frame's bundled position to the original source position. */
function frame(site: NodeJS.CallSite): string {
  const text = String(site);
  const name = site.getFileName();
  const line = site.getLineNumber();
  const column = site.getColumnNumber();
  // An ES module (.mjs) names its file by URL, a CommonJS program (.cjs, the `routes` CLI) by path.
  if (!name || !/\.[mc]js$/.test(name) || line === null || column === null) return text;
  let file = name;
  if (name.startsWith('/')) file = (requireBuiltin('node:url') as typeof import('node:url')).pathToFileURL(name).href;
  else if (!name.startsWith('file:')) return text;
  const map = mapOf(file);
  const e = map?.findEntry(line - 1, column - 1);
  if (!e || !('originalSource' in e) || !e.originalSource) return text;
  let named = text;
  const fn = site.getFunctionName();
  const at = site as NodeJS.CallSite & { getEnclosingLineNumber?(): number | null; getEnclosingColumnNumber?(): number | null };
  const fl = at.getEnclosingLineNumber?.();
  const fc = at.getEnclosingColumnNumber?.();
  if (fn && fl && fc) {
    // The minified name's token after the enclosing function's start carries the original name.
    const col = linesOf(file)[fl - 1]?.indexOf(fn, fc - 1) ?? -1;
    const def = col >= 0 ? map!.findEntry(fl - 1, col) : undefined;
    const original = def && 'name' in def ? def.name : undefined;
    if (original && original !== fn) named = text.replace(new RegExp(`(^|[ .])${fn.replace(/[$]/g, '\\$&')}(?= |$)`), `$1${original}`);
  }
  let source = e.originalSource;
  try {
    const { fileURLToPath } = requireBuiltin('node:url') as typeof import('node:url');
    source = fileURLToPath(new URL(source, file));
  } catch {
    // Keep the map's own name.
  }
  return named.replace(`${name}:${line}:${column}`, `${source}:${e.originalLine + 1}:${e.originalColumn + 1}`);
}

const installed = Symbol.for('herald.stackTraces');

/** Install the lazy mapping for this isolate (idempotent); replaces Node's default formatter. */
export function installStackTraces(): void {
  const current = Error.prepareStackTrace as ((...a: unknown[]) => unknown) & { [installed]?: true } | undefined;
  if (current?.[installed]) return;
  const prepare = (err: Error, sites: NodeJS.CallSite[]): string => {
    let head: string;
    try {
      head = Error.prototype.toString.call(err);
    } catch {
      head = 'Error';
    }
    return head + sites.map((s) => `\n    at ${frame(s)}`).join('');
  };
  Error.prepareStackTrace = Object.assign(prepare, { [installed]: true as const });
}

installStackTraces();
