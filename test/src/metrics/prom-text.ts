/**
 * A small strict parser for the Prometheus text exposition format (0.0.4),
 * written from the format's description, independent of prom-client, so the
 * metrics tests check herald's output against the format and not against the
 * library that produced it.
 *
 * Rejects: samples before their family's TYPE, a family's samples split by
 * another family, HELP/TYPE given twice, a bad metric or label name, a bad
 * escape, a duplicate series, a sample name that does not belong to its
 * family's type (counter `x` only, histogram `x_bucket{le}` / `x_sum` /
 * `x_count`), histogram buckets that decrease or lack `+Inf` equal to count.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help: string | null;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export class PromParseError extends Error {}

function fail(lineNo: number, msg: string): never {
  throw new PromParseError(`line ${lineNo}: ${msg}`);
}

/** A float as the Prometheus server reads one (Go's ParseFloat: NaN and Inf in any case). */
function parseValue(s: string, lineNo: number): number {
  if (/^\+?inf(inity)?$/i.test(s)) return Infinity;
  if (/^-inf(inity)?$/i.test(s)) return -Infinity;
  if (/^nan$/i.test(s)) return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) fail(lineNo, `bad value ${JSON.stringify(s)}`);
  return Number(s);
}

/** Parse `{a="x",b="y"}` starting at `i` (which holds '{'); returns the labels and the index after '}'. */
function parseLabels(line: string, i: number, lineNo: number): [Record<string, string>, number] {
  const labels: Record<string, string> = {};
  i++;
  for (;;) {
    if (line[i] === '}') return [labels, i + 1];
    const m = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i));
    if (!m) fail(lineNo, `bad label name at column ${i}`);
    const name = m[0];
    if (name.startsWith('__')) fail(lineNo, `reserved label name ${name}`);
    if (name in labels) fail(lineNo, `label ${name} given twice`);
    i += name.length;
    if (line[i] !== '=' || line[i + 1] !== '"') fail(lineNo, `expected =" after label ${name}`);
    i += 2;
    let v = '';
    for (;;) {
      const c = line[i];
      if (c === undefined) fail(lineNo, 'unterminated label value');
      if (c === '"') break;
      if (c === '\\') {
        const e = line[i + 1];
        if (e === '\\') v += '\\';
        else if (e === '"') v += '"';
        else if (e === 'n') v += '\n';
        else fail(lineNo, `bad escape \\${e ?? ''}`);
        i += 2;
        continue;
      }
      v += c;
      i++;
    }
    labels[name] = v;
    i++;
    if (line[i] === ',') i++;
    else if (line[i] !== '}') fail(lineNo, `expected , or } after label ${name}`);
  }
}

/** The family a sample name belongs to, given the declared families. */
function familyOf(sample: string, families: Map<string, Family>): Family | undefined {
  const direct = families.get(sample);
  if (direct) return direct;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sample.endsWith(suffix)) continue;
    const f = families.get(sample.slice(0, -suffix.length));
    if (f && (f.type === 'histogram' || (f.type === 'summary' && suffix !== '_bucket'))) return f;
  }
  return undefined;
}

/** Parse exposition text into families; throws PromParseError on anything outside the format. */
export function parseProm(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const closed = new Set<string>();
  const seen = new Set<string>();
  let current: Family | null = null;
  const enter = (f: Family, lineNo: number): void => {
    if (current === f) return;
    if (closed.has(f.name)) fail(lineNo, `family ${f.name} continues after another family began`);
    if (current) closed.add(current.name);
    current = f;
  };
  if (text.length > 0 && !text.endsWith('\n')) throw new PromParseError('text does not end with a newline');
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((line, idx) => {
    const lineNo = idx + 1;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) return; // a plain comment
      const [, kw, name, rest] = m as unknown as [string, 'HELP' | 'TYPE', string, string];
      if (!METRIC_NAME.test(name)) fail(lineNo, `bad metric name ${name}`);
      let f = families.get(name);
      if (!f) {
        if (closed.has(name)) fail(lineNo, `family ${name} declared again`);
        f = { name, type: 'untyped', help: null, samples: [] };
        families.set(name, f);
      }
      enter(f, lineNo);
      if (kw === 'HELP') {
        if (f.help !== null) fail(lineNo, `HELP for ${name} given twice`);
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ''))) fail(lineNo, `bad escape in HELP for ${name}`);
        f.help = rest.replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
      } else {
        if (!TYPES.has(rest)) fail(lineNo, `unknown type ${rest}`);
        if (f.samples.length) fail(lineNo, `TYPE for ${name} after its samples`);
        if ((f as Family & { typed?: boolean }).typed) fail(lineNo, `TYPE for ${name} given twice`);
        (f as Family & { typed?: boolean }).typed = true;
        f.type = rest as Family['type'];
      }
      return;
    }
    const nm = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (!nm) fail(lineNo, `bad sample line ${JSON.stringify(line)}`);
    const name = nm[0];
    let i = name.length;
    let labels: Record<string, string> = {};
    if (line[i] === '{') [labels, i] = parseLabels(line, i, lineNo);
    const rest = line.slice(i);
    const vm = /^ (\S+)( -?\d+)?$/.exec(rest);
    if (!vm) fail(lineNo, `bad value part ${JSON.stringify(rest)}`);
    const value = parseValue(vm[1]!, lineNo);
    const f = familyOf(name, families);
    if (!f) fail(lineNo, `sample ${name} has no TYPE`);
    enter(f, lineNo);
    if (f.type === 'counter' && name !== f.name) fail(lineNo, `counter ${f.name} has a sample named ${name}`);
    if (name.endsWith('_bucket') && f.type === 'histogram' && !('le' in labels)) fail(lineNo, `${name} without le`);
    if (f.type === 'counter' && !(value >= 0)) fail(lineNo, `counter ${name} is ${value}`);
    const key = `${name}{${Object.keys(labels).sort().map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',')}}`;
    if (seen.has(key)) fail(lineNo, `series ${key} given twice`);
    seen.add(key);
    f.samples.push({ name, labels, value });
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

function checkHistogram(f: Family): void {
  const groups = new Map<string, { buckets: { le: number; v: number }[]; count?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const k = JSON.stringify(Object.entries(rest).sort());
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { buckets: [] }));
    if (s.name === `${f.name}_bucket`) g.buckets.push({ le: parseValue(le!, 0), v: s.value });
    else if (s.name === `${f.name}_count`) g.count = s.value;
  }
  for (const [k, g] of groups) {
    const sorted = [...g.buckets].sort((a, b) => a.le - b.le);
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i]!.v < sorted[i - 1]!.v) throw new PromParseError(`${f.name}${k}: buckets decrease`);
    }
    const inf = sorted.at(-1);
    if (!inf || inf.le !== Infinity) throw new PromParseError(`${f.name}${k}: no +Inf bucket`);
    if (g.count !== inf.v) throw new PromParseError(`${f.name}${k}: +Inf bucket ${inf.v} != count ${g.count}`);
  }
}

/** The value of the one sample `name` with exactly these labels (subset match on given keys), or undefined. */
export function sampleValue(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  const f = familyOf(name, families);
  const hits = (f?.samples ?? []).filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (hits.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${hits.length} samples`);
  return hits[0]?.value;
}

/** Assert herald's naming rules on every family; returns the problems found. */
export function namingProblems(families: Map<string, Family>): string[] {
  const out: string[] = [];
  for (const f of families.values()) {
    if (!/^herald_[a-z0-9_]+$/.test(f.name)) out.push(`${f.name}: not herald_[a-z0-9_]+`);
    if (f.help === null || f.help.trim() === '') out.push(`${f.name}: no HELP`);
    if (!(f as Family & { typed?: boolean }).typed) out.push(`${f.name}: no TYPE`);
    if (f.type === 'counter' && !f.name.endsWith('_total')) out.push(`${f.name}: counter without _total`);
    if (f.type !== 'counter' && f.name.endsWith('_total')) out.push(`${f.name}: ${f.type} ending in _total`);
    for (const s of f.samples) for (const l of Object.keys(s.labels)) if (!LABEL_NAME.test(l)) out.push(`${s.name}: label ${l}`);
  }
  return out;
}
