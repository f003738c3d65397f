/**
 * Reading herald.yaml: YAML text → validated, typed `Config`, or a
 * `ConfigError` listing every problem with file, line, column and key path.
 *
 * Three passes, each reporting with source positions: the YAML parser
 * (syntax, duplicate keys), the zod schema (types, unknown keys, field
 * syntax), then build.ts (checks across fields). A later pass runs only when
 * the earlier ones found nothing, since it relies on their guarantees.
 */
import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { buildConfig } from './build.js';
import { ConfigError, formatPath, scrub, secretsInText, suggest, type ConfigIssue, type PathSegment } from './errors.js';
import { Locator } from './locator.js';
import { configSchema, show } from './schema.js';
import { expandTemplates, inheritedAt, type Expansion } from './templates.js';
import type { Config } from './types.js';

/** Where a key path sits in the file (for warnings found after loading). */
export type Locate = (path: readonly PathSegment[]) => { line: number; column: number };

/** Parse and validate config text; throws ConfigError naming every problem. */
export function parseConfig(text: string, fileName: string): Config {
  return parseConfigWithLocator(text, fileName).config;
}

/** Parse and validate config text, and keep a way to locate key paths in it; throws ConfigError. */
export function parseConfigWithLocator(text: string, fileName: string): { config: Config; locate: Locate } {
  const secrets = secretsInText(text);
  const lines = new LineCounter();
  // merge: YAML merge keys (`<<: *tor`) share peer settings (decision 0028).
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, version: '1.2', merge: true });
  const fail = (issues: Omit<ConfigIssue, 'file'>[]): never => {
    throw new ConfigError(issues.map((i) => ({ file: fileName, line: i.line, column: i.column, path: i.path, message: scrub(i.message, secrets) })));
  };

  if (doc.errors.length > 0) {
    fail(
      doc.errors.map((e) => {
        const p = lines.linePos(e.pos[0]);
        return { line: p.line, column: p.col, path: '', message: `YAML syntax: ${yamlMessage(e.message)}` };
      }),
    );
  }

  const loc = new Locator(doc, lines);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    fail([{ line: 1, column: 1, path: '', message: `YAML: ${(e as Error).message}` }]);
  }
  if (data === null || data === undefined) fail([{ line: 1, column: 1, path: '', message: 'the file is empty; expected a mapping with at least router_id and asn' }]);
  if (typeof data !== 'object' || Array.isArray(data))
    fail([{ ...loc.at([]), path: '', message: `expected a mapping of keys (router_id, asn, peers, ...) at the top level, got ${show(data)}` }]);

  const expansion = expandTemplates(data as Record<string, unknown>);
  if (expansion.issues.length) fail(expansion.issues.map((i) => ({ ...loc.at(i.path), path: formatPath(i.path), message: i.message })));

  const parsed = configSchema.safeParse(data, { error: fallbackMessage });
  if (!parsed.success) {
    // An object with unknown keys may also fail its own refinement (a check
    // item "htp:" has no known kind); the unknown key is the useful message.
    const unknownAt = new Set(parsed.error.issues.filter((i) => i.code === 'unrecognized_keys').map((i) => i.path.map(String).join('\0')));
    const issues = parsed.error.issues.filter((i) => !(i.code === 'custom' && unknownAt.has(i.path.map(String).join('\0'))));
    fail(dropRepeats(issues.flatMap((iss) => fromZod(iss, data, loc)).map((i) => fromTemplate(i, expansion, loc))));
  }

  const built = buildConfig(parsed.data!, fileName);
  if (built.config === null)
    fail(built.issues.map((i) => fromTemplate({ ...loc.at(i.path), path: formatPath(i.path), message: i.message, segments: i.path }, expansion, loc)));
  return { config: built.config!, locate: (path) => loc.at(inheritedAt(path, expansion)?.at ?? path) };
}

type Located = Omit<ConfigIssue, 'file'> & { segments: readonly PathSegment[] };

/** Point an issue about a key a peer inherited at the template that holds it. */
function fromTemplate(i: Located, x: Expansion, loc: Locator): Located & { fromTemplate?: true } {
  const t = inheritedAt(i.segments, x);
  if (!t) return i;
  return { ...i, ...loc.at(t.at), message: `${i.message} (from template ${t.template})`, fromTemplate: true };
}

/** A bad template value fails for the template and for each peer using it: say it once, at the template. */
function dropRepeats(issues: (Located & { fromTemplate?: true })[]): Located[] {
  const own = new Set(issues.filter((i) => !i.fromTemplate).map((i) => `${i.line}:${i.column}:${i.message}`));
  return issues.filter((i) => !i.fromTemplate || !own.has(`${i.line}:${i.column}:${i.message.replace(/ \(from template [^)]*\)$/, '')}`));
}

/** Read and validate a config file, keeping a locator for its key paths; throws ConfigError. */
export async function loadConfigWithLocator(path: string): Promise<{ config: Config; locate: Locate }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.message;
    throw new ConfigError([{ file: path, line: 1, column: 1, path: '', message: `cannot read the config: ${why}` }]);
  }
  return parseConfigWithLocator(text, path);
}

/** Messages for the few places the schema leaves to zod's defaults (record values, list items). */
function fallbackMessage(iss: z.core.$ZodRawIssue): string | undefined {
  if (iss.code === 'invalid_type') {
    const secret = iss.path?.some((p) => p === 'password');
    return `expected ${iss.expected === 'string' ? 'a string' : iss.expected}, got ${secret ? typeof iss.input : show(iss.input)}`;
  }
  if (iss.code === 'too_small' && iss.origin === 'string') return 'expected a non-empty string';
  return undefined;
}

/** The YAML library's message without its "at line N, column M" tail (we print the position ourselves). */
function yamlMessage(m: string): string {
  return m.replace(/ at line \d+, column \d+:?[\s\S]*$/, '').trim();
}

/** Turn one zod issue into positioned config issues (an unknown-keys issue becomes one per key). */
function fromZod(iss: z.core.$ZodIssue, data: unknown, loc: Locator): Located[] {
  const path = iss.path.filter((p): p is PathSegment => typeof p !== 'symbol');
  if (iss.code === 'unrecognized_keys') {
    const known = knownKeys(path);
    return iss.keys.map((key) => {
      const near = suggest(key, known);
      return {
        ...loc.keyAt([...path, key]),
        segments: [...path, key],
        path: formatPath([...path, key]),
        message: `unknown key '${key}'${near ? ` — did you mean '${near}'?` : known.length ? ` (expected one of: ${known.join(', ')})` : ''}`,
      };
    });
  }
  if ((iss.code === 'invalid_type' || iss.code === 'invalid_union') && valueAt(data, path) === undefined && path.length > 0) {
    return [{ ...loc.at(path), segments: path, path: formatPath(path), message: `missing required key '${String(path[path.length - 1])}'` }];
  }
  return [{ ...loc.at(path), segments: path, path: formatPath(path), message: iss.message }];
}

function valueAt(data: unknown, path: readonly PathSegment[]): unknown {
  let v = data;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

interface Def {
  type: string;
  shape?: Record<string, { _zod: { def: Def } }>;
  element?: { _zod: { def: Def } };
  valueType?: { _zod: { def: Def } };
  innerType?: { _zod: { def: Def } };
  in?: { _zod: { def: Def } };
  options?: { _zod: { def: Def } }[];
}

/** The keys the schema allows in the object at `path` (for "did you mean"). */
function knownKeys(path: readonly PathSegment[]): string[] {
  const unwrap = (d: Def): Def => {
    for (;;) {
      if (d.innerType) d = d.innerType._zod.def;
      else if (d.type === 'pipe' && d.in) d = d.in._zod.def;
      else if (d.type === 'union' && d.options) {
        // A union such as `bfd: true | {...}`: the keys are the mapping option's.
        const obj = d.options.map((o) => o._zod.def).find((o) => o.type === 'object');
        if (!obj) return d;
        d = obj;
      } else return d;
    }
  };
  let d: Def | undefined = unwrap((configSchema as unknown as { _zod: { def: Def } })._zod.def);
  for (const seg of path) {
    if (!d) return [];
    if (d.type === 'object' && typeof seg === 'string') d = d.shape?.[seg]?._zod.def;
    else if (d.type === 'array' && typeof seg === 'number') d = d.element?._zod.def;
    else if (d.type === 'record' && typeof seg === 'string') d = d.valueType?._zod.def;
    else return [];
    if (d) d = unwrap(d);
  }
  return d?.type === 'object' && d.shape ? Object.keys(d.shape) : [];
}
