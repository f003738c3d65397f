/**
 * Peer templates (decision 0028): `templates:` holds named sets of peer
 * settings, and a peer's `template: NAME` takes every key of that set it
 * does not give itself. Expansion happens on the parsed YAML data, before
 * the schema sees the peers, so an expanded peer is checked exactly like a
 * peer written out in full, and `herald check` prints it expanded.
 *
 * YAML merge keys (`<<: *tor`) are the other way to share settings; the YAML
 * parser resolves them (parse.ts turns them on), so they need nothing here.
 * A template takes no `template` of its own: one level, easy to read.
 */
import { suggest, type PathSegment } from './errors.js';

/** A peer key that came from a template, for error positions and messages. */
export interface Inherited {
  template: string;
  /** Keys of the peer that came from the template. */
  keys: ReadonlySet<string>;
}

export interface Expansion {
  /** Per peer index, what it inherited (absent: no template). */
  inherited: Map<number, Inherited>;
  /** Unknown template names. */
  issues: { path: PathSegment[]; message: string }[];
}

const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Fill each peer's missing keys from its template, in place; returns what came from where. */
export function expandTemplates(data: Record<string, unknown>): Expansion {
  const out: Expansion = { inherited: new Map(), issues: [] };
  const peers = data.peers;
  if (!Array.isArray(peers)) return out;
  const templates = isMapping(data.templates) ? data.templates : {};
  peers.forEach((p: unknown, i) => {
    if (!isMapping(p) || typeof p.template !== 'string') return;
    const t = templates[p.template];
    if (!isMapping(t)) {
      const names = Object.keys(templates);
      const near = suggest(p.template, names);
      out.issues.push({
        path: ['peers', i, 'template'],
        message: `unknown template '${p.template}'${near ? ` — did you mean '${near}'?` : names.length ? ` (templates: ${names.join(', ')})` : ' (there is no templates section)'}`,
      });
      return;
    }
    const keys = new Set<string>();
    for (const [k, v] of Object.entries(t)) {
      if (k in p) continue;
      p[k] = structuredClone(v);
      keys.add(k);
    }
    out.inherited.set(i, { template: p.template, keys });
  });
  return out;
}

/**
 * Where an issue about `path` sits in the file: a key a peer inherited is
 * written in its template, so point there. Returns null when the path is
 * the peer's own.
 */
export function inheritedAt(path: readonly PathSegment[], x: Expansion): { at: PathSegment[]; template: string } | null {
  if (path[0] !== 'peers' || typeof path[1] !== 'number' || typeof path[2] !== 'string') return null;
  const inh = x.inherited.get(path[1]);
  if (!inh || !inh.keys.has(path[2])) return null;
  return { at: ['templates', inh.template, ...path.slice(2)], template: inh.template };
}
