/**
 * Shared pieces of the corpus tests: where the MRT data lives, the codec
 * context each MRT record implies, and a line comparer that reports the first
 * differences instead of one giant string diff.
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CONTEXT, IPV4_UNICAST, IPV6_UNICAST, familyKey, withContext, type CodecContext, type FamilyKey } from '../../bgp/wire/context.js';

const here = dirname(fileURLToPath(import.meta.url));

/** The MRT corpus: $HERALD_MRT_DIR, else ../shared/data/mrt next to the repository. */
export const MRT_DIR = process.env['HERALD_MRT_DIR'] ?? resolve(here, '../../../shared/data/mrt');

/** Path of one corpus file; throws (so a test fails, never skips) when it is missing. */
export function corpusFile(name: string): string {
  const p = resolve(MRT_DIR, name);
  if (!existsSync(p)) throw new Error(`corpus file missing: ${p}`);
  return p;
}

const ALL_FAMILIES: ReadonlySet<FamilyKey> = new Set([IPV4_UNICAST, IPV6_UNICAST, familyKey(1, 2), familyKey(2, 2)]);

/**
 * The context a collector's record implies. `as4` from the record subtype
 * (MESSAGE_AS4 / TABLE_DUMP_V2: 4-octet AS numbers; MESSAGE / TABLE_DUMP: 2).
 * `ibgp` is true so that LOCAL_PREF is kept: a collector records it as
 * received, and bgpdump prints it.
 */
export function recordContext(as4: boolean, addPath: boolean): CodecContext {
  return withContext(DEFAULT_CONTEXT, {
    as4,
    ibgp: true,
    addPathReceive: addPath ? ALL_FAMILIES : new Set(),
    addPathSend: addPath ? ALL_FAMILIES : new Set(),
  });
}

/** Result of comparing produced lines with expected ones. */
export interface LineDiff {
  compared: number;
  mismatches: number;
  /** The first few differences, for the failure message. */
  report: string[];
}

/** Compare two line lists position by position (and their lengths). */
export function diffLines(actual: readonly string[], expected: readonly string[], keep = 8): LineDiff {
  const report: string[] = [];
  let mismatches = 0;
  const n = Math.max(actual.length, expected.length);
  for (let i = 0; i < n; i++) {
    const a = actual[i];
    const e = expected[i];
    if (a === e) continue;
    mismatches++;
    if (report.length < keep) report.push(`line ${i + 1}\n  expected: ${e ?? '<none>'}\n  actual:   ${a ?? '<none>'}`);
  }
  if (actual.length !== expected.length) report.push(`line count: expected ${expected.length}, actual ${actual.length}`);
  return { compared: Math.min(actual.length, expected.length), mismatches, report };
}
