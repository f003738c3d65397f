/**
 * Where a key path sits in herald.yaml, for the file:line:column of config
 * issues and warnings. Holds the parsed YAML document, so it lives in the
 * config parser (parse.ts), which the daemon loads only while it reads a
 * config (load.ts, decision 0050).
 */
import { isAlias, isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node, type YAMLMap } from 'yaml';
import type { PathSegment } from './errors.js';

/**
 * Locates key paths in a parsed YAML document. `at(path)` gives the position
 * of the value at the path, or, when the path goes further than the file
 * (a missing key), of the nearest enclosing node that exists; `keyAt(path)`
 * gives the position of the key itself (for unknown keys).
 */
export class Locator {
  constructor(
    private readonly doc: Document.Parsed | null,
    private readonly lines: LineCounter,
  ) {}

  /** Position of the value at `path`, or of its nearest existing ancestor. */
  at(path: readonly PathSegment[]): { line: number; column: number } {
    return this.offsetPos(this.find(path, false));
  }

  /** Position of the key of the last segment of `path` (falls back to at()). */
  keyAt(path: readonly PathSegment[]): { line: number; column: number } {
    return this.offsetPos(this.find(path, true));
  }

  /** Position of a byte offset into the text. */
  offsetPos(offset: number): { line: number; column: number } {
    const p = this.lines.linePos(offset);
    return { line: p.line, column: p.col };
  }

  private find(path: readonly PathSegment[], wantKey: boolean): number {
    let node: unknown = this.doc?.contents ?? null;
    let best = startOf(node) ?? 0;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i]!;
      const last = i === path.length - 1;
      let next: unknown = undefined;
      let keyNode: unknown = undefined;
      if (isMap(node)) {
        const pair = this.pairIn(node, String(seg));
        if (pair) {
          keyNode = pair.key;
          next = pair.value;
        }
      } else if (isSeq(node) && typeof seg === 'number') {
        next = node.items[seg];
      }
      if (last && wantKey && keyNode !== undefined) return startOf(keyNode) ?? best;
      if (next === undefined || next === null) {
        // A key with no value ("interval:") points at its key.
        if (keyNode !== undefined) return startOf(keyNode) ?? best;
        return best;
      }
      node = next;
      best = startOf(node) ?? best;
    }
    return best;
  }

  /** The pair for `key` in a mapping, or in the mappings it merges (`<<: *tor`, `<<: [*a, *b]`). */
  private pairIn(map: YAMLMap, key: string, depth = 0): { key: unknown; value: unknown } | undefined {
    const own = map.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === key);
    if (own || depth > 8 || !this.doc) return own;
    for (const p of map.items) {
      // The YAML library marks a merge key with a symbol value; its source text is "<<".
      if (!isScalar(p.key) || typeof p.key.value !== 'symbol') continue;
      const sources = isSeq(p.value) ? p.value.items : [p.value];
      for (const s of sources) {
        const target = isAlias(s) ? s.resolve(this.doc) : s;
        const found = isMap(target) ? this.pairIn(target, key, depth + 1) : undefined;
        if (found) return found;
      }
    }
    return undefined;
  }
}

function startOf(n: unknown): number | null {
  const r = (n as Node | null)?.range;
  return r ? r[0] : null;
}
