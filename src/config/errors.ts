/**
 * Config errors an operator can act on: each issue names the file, line,
 * column and key path, and says what was expected.
 *
 *   herald.yaml:23:7: services[1].interval: expected a duration like 500ms or 2s, got "2ss"
 *
 * Secrets never reach a message: issues about a password say what is wrong
 * without the value, and every message is scrubbed of the file's password
 * values before it is stored (so even a YAML syntax error quoting the line
 * cannot leak one).
 */
import { REDACTED } from './secret.js';

export type PathSegment = string | number;

export interface ConfigIssue {
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
  /** Key path like "services[1].checks[0].http.url"; "" for the whole file. */
  readonly path: string;
  readonly message: string;
}

/** A config that cannot be used; holds every issue found, in file order. */
export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    const sorted = [...issues].sort((a, b) => a.line - b.line || a.column - b.column || a.path.localeCompare(b.path));
    super(sorted.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
    this.issues = sorted;
  }
}

/** Format one issue as "file:line:col: path: message". */
export function formatIssue(i: ConfigIssue): string {
  return `${i.file}:${i.line}:${i.column}: ${i.path ? `${i.path}: ` : ''}${i.message}`;
}

/** Render a key path: ['services', 1, 'checks', 0, 'http', 'url'] → "services[1].checks[0].http.url". */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${seg}` : seg;
  }
  return out;
}


/** Replace every known secret in a message. */
export function scrub(message: string, secrets: readonly string[]): string {
  let out = message;
  for (const s of secrets) if (s.length > 0) out = out.split(s).join(REDACTED);
  return out;
}

/**
 * Collect candidate secrets straight from the text, so they can be scrubbed
 * even when the YAML does not parse: the value of every `password:` key.
 */
export function secretsInText(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/password\s*:\s*("((?:[^"\\]|\\.)*)"|'((?:[^']|'')*)'|([^\s,}#][^,}#\n]*?))\s*(?=[,}\n#]|$)/g)) {
    const v = m[2] ?? m[3]?.replace(/''/g, "'") ?? m[4];
    if (v) {
      out.push(v);
      // Also the raw text inside quotes, in case a message quotes the source.
      if (m[1] && m[1] !== v) out.push(m[1]);
    }
  }
  return out.sort((a, b) => b.length - a.length);
}

/** Closest of `known` to `key` by edit distance (or as a prefix), if it is plausibly a typo. */
export function suggest(key: string, known: readonly string[]): string | null {
  const k = key.toLowerCase();
  let best: string | null = null;
  let bestD = Infinity;
  for (const cand of known) {
    const d = editDistance(k, cand.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = cand;
    }
  }
  const limit = Math.max(1, Math.floor(key.length / 3));
  if (best !== null && bestD <= limit) return best;
  // "verify" for "verify_tls", "large" for "large_communities".
  if (k.length >= 3) return known.find((cand) => cand.toLowerCase().startsWith(k)) ?? null;
  return null;
}

/** Edit distance counting an adjacent swap as one edit ("prot" → "port"). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
