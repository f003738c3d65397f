/**
 * Prefix lists: many prefixes as binary keys in one Int32Array.
 *
 * src/ parses prefix text once, where people and APIs hand it in (config,
 * LXD, the control API), into this form, and hands it down unchanged: the
 * reconciler compares lists word by word, the session engine takes them
 * across the thread boundary as one buffer (no million strings to clone), and
 * the Adj-RIB-Out loads each key straight into its prefix table
 * (prefix-table.ts `load`). One record per prefix, in the scanner's key
 * encoding (wire/prefix.ts `PrefixScanner`):
 *
 *   IPv4   [ kind = len,        w0 ]                  2 words
 *   IPv6   [ kind = 256 + len,  w0, w1, w2, w3 ]      5 words
 *
 * A million IPv4 /32 cost 8 MB and no objects. Lists are immutable once
 * built; equal lists have equal words.
 */
import { formatKey, KIND_V6, PrefixScanner } from '../wire/prefix.js';

export interface PrefixList {
  /** The records, back to back. */
  readonly words: Int32Array;
  /** Number of prefixes. */
  readonly count: number;
}

/** The empty list. */
export const EMPTY_PREFIX_LIST: PrefixList = { words: new Int32Array(0), count: 0 };

/** A text that is not a prefix, and why (kept by the builder for the caller's error report). */
export interface RejectedPrefix {
  text: string;
  reason: string;
}

/** Builds a PrefixList from text or keys, growing one buffer. */
export class PrefixListBuilder {
  private words: Int32Array;
  private pos = 0;
  private n = 0;
  private readonly scanner = new PrefixScanner();
  /** Texts that did not scan, with the reason (the first 100; `rejectedCount` counts all). */
  readonly rejected: RejectedPrefix[] = [];
  rejectedCount = 0;

  constructor(expected = 16) {
    this.words = new Int32Array(Math.max(8, expected * 2));
  }

  /** Add prefix text (a bare address is a host route); false, with the reason kept, when it is not a prefix. */
  add(text: string): boolean {
    const sc = this.scanner;
    if (!sc.scan(text)) {
      this.rejectedCount++;
      if (this.rejected.length < 100) this.rejected.push({ text: String(text), reason: rejectReason(text, sc) });
      return false;
    }
    this.addKey(sc.kind, sc.w0, sc.w1, sc.w2, sc.w3);
    return true;
  }

  /** Add a key in the scanner's encoding. */
  addKey(kind: number, w0: number, w1: number, w2: number, w3: number): void {
    const need = this.pos + 5;
    if (need > this.words.length) {
      const grown = new Int32Array(Math.max(need, this.words.length * 2));
      grown.set(this.words.subarray(0, this.pos));
      this.words = grown;
    }
    const w = this.words;
    w[this.pos++] = kind;
    w[this.pos++] = w0;
    if (kind >= KIND_V6) {
      w[this.pos++] = w1;
      w[this.pos++] = w2;
      w[this.pos++] = w3;
    }
    this.n++;
  }

  /** Add record `at` of another list's words; returns the next record's index. */
  addFrom(words: Int32Array, at: number): number {
    const k = words[at]!;
    if (k < KIND_V6) {
      this.addKey(k, words[at + 1]!, 0, 0, 0);
      return at + 2;
    }
    this.addKey(k, words[at + 1]!, words[at + 2]!, words[at + 3]!, words[at + 4]!);
    return at + 5;
  }

  get count(): number {
    return this.n;
  }

  /** The list built so far (a right-sized copy; the builder can go on). */
  finish(): PrefixList {
    if (this.n === 0) return EMPTY_PREFIX_LIST;
    return { words: this.words.slice(0, this.pos), count: this.n };
  }
}

/** Say why a text is not a prefix. */
function rejectReason(text: string, sc: PrefixScanner): string {
  if (typeof text !== 'string') return 'prefix is not a string';
  if (sc.failure === 'host-bits') return `prefix ${text}: host bits set past /${text.slice(text.indexOf('/') + 1)}`;
  return `prefix ${JSON.stringify(text)} is not an IPv4 or IPv6 prefix`;
}

/** Build a list from prefix texts; throws on a text that is not a prefix (for callers that validated already). */
export function prefixListOf(texts: Iterable<string>): PrefixList {
  const b = new PrefixListBuilder();
  for (const t of texts) if (!b.add(t)) throw new Error(b.rejected[b.rejected.length - 1]!.reason);
  return b.finish();
}

/** Return the index of the record after the one at `at`. */
export function nextRecord(words: Int32Array, at: number): number {
  return words[at]! < KIND_V6 ? at + 2 : at + 5;
}

/** Format the record at `at` as canonical text. */
export function formatRecord(words: Int32Array, at: number): string {
  const k = words[at]!;
  return k < KIND_V6 ? formatKey(k, words[at + 1]!, 0, 0, 0) : formatKey(k, words[at + 1]!, words[at + 2]!, words[at + 3]!, words[at + 4]!);
}

/** Spell a list out as canonical texts (small lists: display and tests). */
export function prefixTexts(list: PrefixList): string[] {
  const out: string[] = [];
  const w = list.words;
  for (let at = 0; at < w.length; at = nextRecord(w, at)) out.push(formatRecord(w, at));
  return out;
}

/** True when two lists hold the same records in the same order. */
export function samePrefixList(a: PrefixList, b: PrefixList): boolean {
  if (a === b) return true;
  if (a.count !== b.count || a.words.length !== b.words.length) return false;
  const x = a.words;
  const y = b.words;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** Count the IPv4 and IPv6 records of a list. */
export function familyCounts(list: PrefixList): { v4: number; v6: number } {
  const w = list.words;
  let v4 = 0;
  let v6 = 0;
  for (let at = 0; at < w.length; ) {
    if (w[at]! < KIND_V6) {
      v4++;
      at += 2;
    } else {
      v6++;
      at += 5;
    }
  }
  return { v4, v6 };
}
