// Every documented setting exists, and every setting is documented (issue 10
// item 1): docs/configuration.md's key tables are walked against the zod
// schema the daemon validates with. A key added to schema.ts without a row
// in the docs (or a row for a key that is gone) fails here. Whether each key
// does what its row says is checked by the tests of its feature; the ones
// with an effect visible from outside a running daemon (logging level and
// format, listen: false, state_dir, host_addresses, api.socket) are run
// against the real `herald run` in test/interop/ops.test.ts.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../../src/config/index.js';

const DOC = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');

interface Def {
  type: string;
  shape?: Record<string, { _zod: { def: Def } }>;
  element?: { _zod: { def: Def } };
  innerType?: { _zod: { def: Def } };
  in?: { _zod: { def: Def } };
  options?: { _zod: { def: Def } }[];
  valueType?: { _zod: { def: Def } };
}

const defOf = (s: unknown): Def => (s as { _zod: { def: Def } })._zod.def;

/** Strip optional/default/prefault/pipe wrappers; of a union, keep its object branch if it has one. */
function unwrap(d: Def): Def {
  for (;;) {
    if (d.innerType) d = d.innerType._zod.def;
    else if (d.type === 'pipe' && d.in) d = d.in._zod.def;
    else if (d.type === 'union' && d.options) {
      const obj = d.options.map((o) => unwrap(o._zod.def)).find((o) => o.type === 'object');
      if (!obj) return d;
      d = obj;
    } else return d;
  }
}

/** The schema at a path of keys, '*' stepping into a list item or a record value. */
function at(path: string[]): Def {
  let d = unwrap(defOf(configSchema));
  for (const seg of path) {
    if (seg === '*') d = unwrap((d.element ?? d.valueType)!._zod.def);
    else d = unwrap(d.shape![seg]!._zod.def);
  }
  return d;
}

const keysAt = (path: string[]): string[] => Object.keys(at(path).shape ?? {}).sort();

/** Headings (## and ###) with the key names of their `| key |` tables, and each row's text. */
function docSections(): Map<string, { keys: Set<string>; rows: Map<string, string> }> {
  const out = new Map<string, { keys: Set<string>; rows: Map<string, string> }>();
  let cur: { keys: Set<string>; rows: Map<string, string> } | null = null;
  let inKeyTable = false;
  for (const line of DOC.split('\n')) {
    const h = /^#{2,3} (.+)$/.exec(line);
    if (h) {
      cur = { keys: new Set(), rows: new Map() };
      out.set(h[1]!.trim(), cur);
      inKeyTable = false;
      continue;
    }
    if (!line.startsWith('|')) {
      inKeyTable = false;
      continue;
    }
    const cells = line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
    if (cells[0] === 'key') {
      inKeyTable = true;
      continue;
    }
    if (!inKeyTable || !cur || /^-+$/.test(cells[0]!)) continue;
    for (const m of cells[0]!.matchAll(/`([a-z_.0-9]+)`/g)) {
      cur.keys.add(m[1]!);
      cur.rows.set(m[1]!, line);
    }
  }
  return out;
}

/** Which heading documents which object of the schema. */
const SECTIONS: Record<string, string[][]> = {
  'Top level': [[]],
  listen: [['listen']],
  api: [['api']],
  peers: [['peers', '*']],
  'Received routes: import and limits': [['peers', '*', 'import_limits']],
  services: [['services', '*']],
  host_addresses: [['services', '*', 'host_addresses']],
  'tcp: healthy when a TCP connection opens': [['services', '*', 'checks', '*', 'tcp']],
  'http and https: one request; redirects are not followed': [
    ['services', '*', 'checks', '*', 'http'],
    ['services', '*', 'checks', '*', 'https'],
  ],
  'dns: one query to a given server': [['services', '*', 'checks', '*', 'dns']],
  'exec: run a program; exit status 0 is healthy': [['services', '*', 'checks', '*', 'exec']],
  when_down: [['services', '*', 'when_down']],
  static: [['static', '*']],
  logging: [['logging']],
  drain: [['drain']],
  peer_defaults: [['peer_defaults']],
  graceful_restart: [['graceful_restart']],
  bfd: [['bfd'], ['peers', '*', 'bfd']],
  metrics: [['metrics']],
  lxd: [['lxd']],
};

describe('docs/configuration.md against the schema', () => {
  const docs = docSections();

  it('maps every heading that has a key table', () => {
    const tabled = [...docs].filter(([, s]) => s.keys.size > 0).map(([h]) => h);
    expect(tabled.filter((h) => !(h in SECTIONS)), 'a new key table needs a line in SECTIONS').toEqual([]);
    expect(Object.keys(SECTIONS).filter((h) => !docs.has(h)), 'a heading SECTIONS names is gone').toEqual([]);
  });

  for (const [heading, paths] of Object.entries(SECTIONS)) {
    it(`${heading}: documented keys = schema keys`, () => {
      const documented = new Set([...docs.get(heading)!.keys].map((k) => k.split('.')[0]!));
      const schema = new Set(paths.flatMap(keysAt));
      expect([...schema].filter((k) => !documented.has(k)).sort(), `in the schema at ${paths.map((p) => p.join('.')).join(' + ')} but not documented under "${heading}"`).toEqual([]);
      expect([...documented].filter((k) => !schema.has(k)).sort(), `documented under "${heading}" but not in the schema`).toEqual([]);
      // Dotted rows (lxd's rules.ovn_networks) and mappings inside a row (next_hop_self {ipv4, ipv6}).
      for (const path of paths) {
        for (const k of keysAt(path)) {
          const inner = at([...path, k]);
          if (inner.type !== 'object' || Object.values(SECTIONS).some((ps) => ps.some((p) => p.join('.') === [...path, k].join('.')))) continue;
          const dotted = [...docs.get(heading)!.keys].filter((x) => x.startsWith(`${k}.`)).map((x) => x.slice(k.length + 1));
          const rowText = docs.get(heading)!.rows.get(k) ?? '';
          for (const sub of Object.keys(inner.shape ?? {})) {
            expect(dotted.includes(sub) || new RegExp(`\\b${sub}\\b`).test(rowText), `${[...path, k, sub].join('.')} is not documented under "${heading}"`).toBe(true);
          }
        }
      }
    });
  }

  it('every check kind has its heading', () => {
    const kinds = keysAt(['services', '*', 'checks', '*']);
    expect(kinds).toEqual(['dns', 'exec', 'http', 'https', 'maintenance_file', 'tcp']);
    const headings = [...docs.keys()];
    for (const k of kinds) expect(headings.some((h) => new RegExp(`^${k}\\b|\\b${k}:`).test(h) || h.startsWith(`http and ${k}`)), k).toBe(true);
  });

  it('a template takes every peer key but name, address and template, as the templates section says', () => {
    expect(keysAt(['templates', '*'])).toEqual(keysAt(['peers', '*']).filter((k) => !['name', 'address', 'template'].includes(k)));
    expect(DOC).toMatch(/may hold any peer key except `name`, `address` and\s+`template`/);
  });
});
