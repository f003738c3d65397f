/**
 * Durations in herald's config: "500ms", "2s", "1m", "1h30m", "1.5s", or a
 * bare number meaning seconds (`hold_time: 9`, as routers write it).
 *
 *   duration = 1*( number unit )      number = digits [ "." digits ]
 *   unit     = "ms" / "s" / "m" / "h"
 *
 * Values are kept as whole milliseconds. A typo ("2ss", "5 seconds") gets a
 * message saying what was expected and, when the intent is plain, how to write it.
 */

const DURATION_RE = /^(\d+(\.\d+)?(ms|s|m|h))+$/;
/** What a duration string may look like, as published in the JSON Schema (units, or bare seconds). */
export const DURATION_PATTERN = '^((\\d+(\\.\\d+)?(ms|s|m|h))+|\\d+(\\.\\d+)?)$';
const PART_RE = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Spelled-out units operators reach for, and the short form herald wants. */
const WORDY_UNITS: readonly [RegExp, string][] = [
  [/^(milliseconds?|millis|msecs?)$/i, 'ms'],
  [/^(seconds?|secs?|sec)$/i, 's'],
  [/^(minutes?|mins?)$/i, 'm'],
  [/^(hours?|hrs?)$/i, 'h'],
  [/^(MS|Ms)$/, 'ms'],
  [/^S$/, 's'],
  [/^M$/, 'm'],
  [/^H$/, 'h'],
];

export type DurationResult = { ok: true; ms: number } | { ok: false; reason: string };

const EXPECTED = 'expected a duration like 500ms or 2s';

/** Parse a duration (string with units, or a number of seconds) into milliseconds. */
export function parseDuration(v: unknown): DurationResult {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return { ok: false, reason: `${EXPECTED}, got ${String(v)}` };
    if (v < 0) return { ok: false, reason: `${EXPECTED}, got ${v} (durations cannot be negative)` };
    const ms = v * 1000;
    if (!Number.isInteger(Math.round(ms * 1e6) / 1e6)) return { ok: false, reason: `${EXPECTED}, got ${v} (finer than 1ms)` };
    return { ok: true, ms: Math.round(ms) };
  }
  if (typeof v !== 'string') return { ok: false, reason: `${EXPECTED}, got ${describe(v)}` };
  const got = `${EXPECTED}, got ${JSON.stringify(v)}`;
  const s = v.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return parseDuration(Number(s));
  if (!DURATION_RE.test(s)) {
    const hint = hintFor(s);
    return { ok: false, reason: hint ? `${got} (write ${hint})` : got };
  }
  let total = 0;
  for (const m of s.matchAll(PART_RE)) total += Number(m[1]) * UNIT_MS[m[2]!]!;
  const ms = Math.round(total * 1e6) / 1e6;
  if (!Number.isInteger(ms)) return { ok: false, reason: `${got} (finer than 1ms)` };
  return { ok: true, ms };
}

/** Suggest the short spelling of a duration written out in words ("5 seconds" → "5s"). */
function hintFor(s: string): string | null {
  if (s.startsWith('-')) return null;
  const m = /^(\d+(?:\.\d+)?)\s*([A-Za-z]+)$/.exec(s);
  if (m) {
    for (const [re, unit] of WORDY_UNITS) if (re.test(m[2]!)) return `${m[1]}${unit}`;
    // A doubled or stray letter: "2ss", "500mss", "1hh".
    const collapsed = m[2]!.replace(/(.)\1+/g, '$1');
    if (UNIT_MS[collapsed] !== undefined) return `${m[1]}${collapsed}`;
    return null;
  }
  // "1h 30m" → "1h30m"
  const joined = s.replace(/\s+/g, '');
  if (joined !== s && DURATION_RE.test(joined)) return joined;
  return null;
}

/** Format milliseconds as the shortest duration text that parses back to it. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  if (rest > 0) out += `${rest}ms`;
  return out;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return typeof v === 'boolean' ? String(v) : typeof v;
}
