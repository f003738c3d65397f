/**
 * An LXD list response kept as bytes: one scan finds where each element of
 * the envelope's `metadata` array starts and ends, and an element is parsed
 * only when asked (issue 9, decision 0043).
 *
 * Why: at 10,000 instances `GET /1.0/instances?recursion=1&all-projects=true`
 * is ~25 MB of JSON. Decoding it to a string and `JSON.parse` of the whole
 * cost ~300 ms of CPU and ~200 MB of short-lived objects per read (most of
 * it garbage collection), although a resync usually finds almost every
 * instance as it was. Kept as bytes, an element that is byte for byte the
 * element at the same place in the last listing (`same`, one memcmp) is the
 * same instance with the same record, and costs no allocation; only the
 * others are parsed, one small `JSON.parse` each.
 *
 *   { "type": "sync", ..., "metadata": [ {...}, {...}, ... ] }
 *                                        ^    ^
 *                                        starts[i], ends[i]
 *
 * Scanned against the last listing (`scan(bytes, last)`), the bytes both
 * bodies share at their start and at their end are not walked again: the
 * elements wholly inside the common start are the last listing's, at the
 * same offsets; the walk resumes after them and stops at the first element
 * boundary inside the common end that was an element boundary in the last
 * listing too (from there the bytes, and so the structure, are the last
 * listing's, shifted). An unchanged listing costs two memcmp; one changed
 * instance, a walk over that instance. `base(i)` tells which element of
 * the last listing element i is, when the scan knows it.
 *
 * The scan checks the structure it walks (objects, arrays, strings, the
 * commas between elements, nothing after the envelope); an element's own
 * syntax is checked by its `JSON.parse` the first time it is read. An
 * element equal to one parsed before is valid because that one was. The
 * envelope without its metadata is parsed with `JSON.parse` too (a few
 * dozen bytes), so its `type`, `error` and `status_code` are read as before.
 *
 * Pure: no I/O. The bytes are the caller's buffer (reused between reads,
 * client.ts); a listing is valid until its buffer is handed back.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

/** A response body that is not the JSON an LXD list response is. */
export class ListingSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} at byte ${offset}`);
    this.name = 'ListingSyntaxError';
  }
}

const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** The envelope of a list response, without its metadata (see LxdResponse). */
export interface ListingEnvelope {
  type?: unknown;
  status_code?: unknown;
  error?: unknown;
}

/** What a scan found; a Listing's fields. */
interface Scanned {
  starts: Int32Array;
  ends: Int32Array;
  count: number;
  /** The `metadata` value's range (-1, -1: absent). */
  metaStart: number;
  metaEnd: number;
  isArray: boolean;
  /** Elements [0, head) are the last listing's [0, head); elements [tail, count) its [tail - shift, ...). */
  head: number;
  tail: number;
  shift: number;
}

export class Listing {
  /** Byte offsets of element i: [starts[i], ends[i]). */
  private readonly starts: Int32Array;
  private readonly ends: Int32Array;
  /** Elements in `metadata` (0 when it is null or absent). */
  readonly count: number;
  /** True when `metadata` is an array (false: null, absent or another value). */
  readonly isArray: boolean;
  /** The envelope with `metadata` set to null. */
  readonly envelope: ListingEnvelope;
  private readonly metaStart: number;
  private readonly metaEnd: number;
  private readonly head: number;
  private readonly tail: number;
  private readonly shift: number;

  private constructor(
    /** The body (a view of the read buffer). */
    readonly bytes: Buffer,
    /** The listing this one was scanned against (see `base`); null after `detach`. */
    private last: Listing | null,
    r: Scanned,
  ) {
    this.starts = r.starts;
    this.ends = r.ends;
    this.count = r.isArray ? r.count : 0;
    this.isArray = r.isArray;
    this.metaStart = r.metaStart;
    this.metaEnd = r.metaEnd;
    this.head = r.head;
    this.tail = r.tail;
    this.shift = r.shift;
    const n = bytes.length;
    const text = r.metaStart < 0 ? bytes.toString('utf8') : `${bytes.toString('utf8', 0, r.metaStart)}null${bytes.toString('utf8', r.metaEnd, n)}`;
    try {
      this.envelope = JSON.parse(text) as ListingEnvelope;
    } catch (e) {
      throw new ListingSyntaxError(`not JSON: ${(e as Error).message}`, 0);
    }
  }

  /**
   * Scan a response body, against the last listing of the same request
   * when given (its bytes must be intact); throws ListingSyntaxError when
   * the structure is not a JSON object.
   */
  static scan(bytes: Buffer, last: Listing | null = null): Listing {
    const r = last !== null && last.isArray ? resumeScan(bytes, last, last.scanned()) : null;
    return new Listing(bytes, last, r ?? new Scanner(bytes).run());
  }

  /** @internal What a scan against this listing reuses. */
  scanned(): LastScan {
    return { starts: this.starts, ends: this.ends, count: this.count, metaStart: this.metaStart, metaEnd: this.metaEnd };
  }

  /** True when this listing was scanned against `l` (and not detached since). */
  scannedAgainst(l: Listing | null): boolean {
    return l !== null && this.last === l;
  }

  /** Forget the listing scanned against (so listings do not hold each other in a chain). */
  detach(): void {
    this.last = null;
  }

  /** The element of the listing scanned against that element i is byte for byte, when the scan knows it; else -1. */
  base(i: number): number {
    if (i < this.head) return i;
    if (i >= this.tail) return i - this.shift;
    return -1;
  }

  /** Element i parsed (throws SyntaxError when it is not JSON). */
  parse(i: number): unknown {
    return JSON.parse(this.bytes.toString('utf8', this.starts[i]!, this.ends[i]!));
  }

  /** Every element parsed. */
  all(): unknown[] {
    const out = new Array<unknown>(this.count);
    for (let i = 0; i < this.count; i++) out[i] = this.parse(i);
    return out;
  }

  /** True when element i is byte for byte element j of `other`. */
  same(i: number, other: Listing, j: number): boolean {
    const s = this.starts[i]!;
    const e = this.ends[i]!;
    const os = other.starts[j]!;
    const oe = other.ends[j]!;
    return e - s === oe - os && this.bytes.compare(other.bytes, os, oe, s, e) === 0;
  }
}

/** One pass over a body: the top-level object's members, the `metadata` array's element ranges. */
class Scanner {
  private i = 0;
  private readonly n: number;
  private starts: Int32Array;
  private ends: Int32Array;
  private count = 0;
  private metaStart = -1;
  private metaEnd = -1;
  private isArray = false;

  constructor(
    private readonly b: Buffer,
    size = 1024,
  ) {
    this.n = b.length;
    this.starts = new Int32Array(size);
    this.ends = new Int32Array(size);
  }

  /** The whole body. */
  run(): Scanned {
    this.ws();
    this.expect(LBRACE, "'{'");
    this.ws();
    if (this.b[this.i] === RBRACE) this.i++;
    else this.members();
    return this.finish(0, this.count, 0);
  }

  /**
   * Resume inside the metadata array: the first `count` elements are
   * `starts`/`ends` (copied), the array starts at `metaStart`, and the walk
   * goes on after element count-1 (or after the '[' when count is 0).
   * `stop(end, count)`, asked after each element, may end the walk (the
   * rest is known to the caller): then this returns null.
   */
  resume(metaStart: number, starts: Int32Array, ends: Int32Array, count: number, stop: (end: number, count: number) => boolean): Scanned | null {
    this.starts.set(starts.subarray(0, count));
    this.ends.set(ends.subarray(0, count));
    this.count = count;
    this.metaStart = metaStart;
    this.isArray = true;
    if (count === 0) {
      this.i = metaStart + 1;
      this.ws();
      if (this.b[this.i] === RBRACKET) this.i++;
      else if (!this.elements(stop)) return null;
    } else {
      this.i = ends[count - 1]!;
      if (!this.afterElement() && !this.elements(stop)) return null;
    }
    this.metaEnd = this.i;
    if (!this.afterMember()) this.members();
    return this.finish(count, this.count, 0);
  }

  /** The ranges found so far. */
  found(): { starts: Int32Array; ends: Int32Array; count: number } {
    return { starts: this.starts, ends: this.ends, count: this.count };
  }

  private finish(head: number, tail: number, shift: number): Scanned {
    this.ws();
    if (this.i !== this.n) throw new ListingSyntaxError('unexpected data after the response', this.i);
    return { starts: this.starts, ends: this.ends, count: this.count, metaStart: this.metaStart, metaEnd: this.metaEnd, isArray: this.isArray, head, tail, shift };
  }

  /** The top-level object's members, from one's name to the closing '}'. */
  private members(): void {
    const b = this.b;
    for (;;) {
      this.ws();
      const k0 = this.i;
      this.expect(QUOTE, 'a member name');
      this.skipString();
      const isMeta = this.i - k0 === 10 && b.toString('latin1', k0, this.i) === '"metadata"';
      this.ws();
      this.expect(COLON, "':'");
      this.ws();
      const v0 = this.i;
      if (isMeta) {
        this.metaStart = v0;
        this.count = 0;
        this.isArray = b[v0] === LBRACKET;
        if (this.isArray) {
          this.i++;
          this.ws();
          if (b[this.i] === RBRACKET) this.i++;
          else this.elements(null);
        } else this.skipValue();
        this.metaEnd = this.i;
      } else this.skipValue();
      if (this.afterMember()) return;
    }
  }

  /** After a member's value: past ',' (false) or the closing '}' (true). */
  private afterMember(): boolean {
    this.ws();
    const c = this.b[this.i++];
    if (c === COMMA) return false;
    if (c === RBRACE) return true;
    throw new ListingSyntaxError("expected ',' or '}'", this.i - 1);
  }

  /** After an element: past ',' (false: more follow) or the array's ']' (true). */
  private afterElement(): boolean {
    this.ws();
    const c = this.b[this.i++];
    if (c === COMMA) return false;
    if (c === RBRACKET) return true;
    throw new ListingSyntaxError("expected ',' or ']' between elements", this.i - 1);
  }

  /** Elements from here (at an element) to past the array's ']'; false when `stop` ended the walk. */
  private elements(stop: ((end: number, count: number) => boolean) | null): boolean {
    for (;;) {
      this.ws();
      const s = this.i;
      this.skipValue();
      this.push(s, this.i);
      if (stop !== null && stop(this.i, this.count)) return false;
      if (this.afterElement()) return true;
    }
  }

  private push(s: number, e: number): void {
    if (this.count === this.starts.length) {
      const grow = (a: Int32Array): Int32Array => {
        const x = new Int32Array(a.length * 2);
        x.set(a);
        return x;
      };
      this.starts = grow(this.starts);
      this.ends = grow(this.ends);
    }
    this.starts[this.count] = s;
    this.ends[this.count++] = e;
  }

  /** Past one value: a string, an object or array (nesting and strings followed), or a literal or number. */
  private skipValue(): void {
    const b = this.b;
    const n = this.n;
    const c = b[this.i];
    if (c === QUOTE) return this.skipString();
    if (c === LBRACE || c === LBRACKET) {
      // The hot loop of a 25 MB listing: bytes, strings skipped whole.
      let depth = 0;
      let i = this.i;
      while (i < n) {
        const x = b[i++]!;
        if (x === QUOTE) {
          for (;;) {
            if (i >= n) throw new ListingSyntaxError('unterminated string', i);
            const y = b[i++]!;
            if (y === QUOTE) break;
            if (y === BACKSLASH) i++;
          }
        } else if (x === LBRACE || x === LBRACKET) depth++;
        else if (x === RBRACE || x === RBRACKET) {
          if (--depth === 0) {
            this.i = i;
            return;
          }
        }
      }
      throw new ListingSyntaxError('unterminated object or array', n);
    }
    // A literal or number: up to the next delimiter.
    const s = this.i;
    let i = s;
    while (i < n) {
      const x = b[i]!;
      if (x === COMMA || x === RBRACE || x === RBRACKET || isSpace(x)) break;
      i++;
    }
    if (i === s) throw new ListingSyntaxError('expected a value', s);
    this.i = i;
  }

  /** Past a string (at its opening quote). */
  private skipString(): void {
    const b = this.b;
    const n = this.n;
    let i = this.i + 1;
    for (;;) {
      if (i >= n) throw new ListingSyntaxError('unterminated string', i);
      const y = b[i++]!;
      if (y === QUOTE) break;
      if (y === BACKSLASH) i++;
    }
    this.i = i;
  }

  private ws(): void {
    while (this.i < this.n && isSpace(this.b[this.i]!)) this.i++;
  }

  private expect(c: number, what: string): void {
    if (this.b[this.i] !== c) throw new ListingSyntaxError(this.i >= this.n ? `expected ${what}, found the end` : `expected ${what}`, this.i);
    this.i++;
  }
}

/** Bytes a and b share from their start (a memcmp per 64 KiB, then halving inside the block that differs). */
function commonStart(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n) {
    const e = Math.min(n, i + BLOCK);
    if (a.compare(b, i, e, i, e) !== 0) break;
    i = e;
  }
  if (i >= n) return n;
  // [0, lo) equal; a byte in [lo, hi) differs.
  let lo = i;
  let hi = Math.min(n, i + BLOCK);
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (a.compare(b, lo, mid, lo, mid) === 0) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** Bytes a and b share at their end, at most `max`. */
function commonEnd(a: Buffer, b: Buffer, max: number): number {
  const la = a.length;
  const lb = b.length;
  let k = 0;
  while (k < max) {
    const m = Math.min(max, k + BLOCK);
    if (a.compare(b, lb - m, lb - k, la - m, la - k) !== 0) break;
    k = m;
  }
  if (k >= max) return max;
  // The last lo bytes equal; one of the last hi differs.
  let lo = k;
  let hi = Math.min(max, k + BLOCK);
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (a.compare(b, lb - mid, lb - lo, la - mid, la - lo) === 0) lo = mid;
    else hi = mid;
  }
  return lo;
}

const BLOCK = 1 << 16;

/** How many of the sorted `xs[0..n)` are <= v. */
function atMost(xs: Int32Array, n: number, v: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid]! <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Scan `b` reusing what `last` found where their bytes agree (see the
 * header); null when the common start does not reach the array (the
 * caller scans it all).
 */
function resumeScan(b: Buffer, last: Listing, L: LastScan): Scanned | null {
  const lb = last.bytes;
  const n = b.length;
  const pre = commonStart(b, lb);
  if (pre === n && n === lb.length) {
    // The same bytes: the same structure.
    return { starts: L.starts, ends: L.ends, count: L.count, metaStart: L.metaStart, metaEnd: L.metaEnd, isArray: true, head: L.count, tail: L.count, shift: 0 };
  }
  // The walk restarts after the last element wholly inside the common start; the array's '[' must be in it.
  if (pre <= L.metaStart) return null;
  const head = atMost(L.ends, L.count, pre);
  const delta = n - lb.length;
  const sufStart = n - commonEnd(b, lb, Math.min(n, lb.length) - pre);
  let join = -1;
  let from = 0;
  const sc = new Scanner(b, L.count + 64);
  const r = sc.resume(L.metaStart, L.starts, L.ends, head, (end, count) => {
    // From an element boundary inside the common end that was one in `last`, the rest is `last`'s.
    if (end < sufStart) return false;
    const j = atMost(L.ends, L.count, end - delta) - 1;
    if (j < 0 || L.ends[j] !== end - delta) return false;
    join = j;
    from = count;
    return true;
  });
  if (r !== null) return r;
  // Elements [from, ...) are last's [join + 1, ...), moved by delta bytes.
  const f = sc.found();
  const rest = L.count - (join + 1);
  let S = f.starts;
  let E = f.ends;
  if (from + rest > S.length) {
    S = new Int32Array(from + rest);
    E = new Int32Array(from + rest);
    S.set(f.starts.subarray(0, from));
    E.set(f.ends.subarray(0, from));
  }
  for (let k = 0; k < rest; k++) {
    S[from + k] = L.starts[join + 1 + k]! + delta;
    E[from + k] = L.ends[join + 1 + k]! + delta;
  }
  return { starts: S, ends: E, count: from + rest, metaStart: L.metaStart, metaEnd: L.metaEnd + delta, isArray: true, head, tail: from, shift: from - (join + 1) };
}

/** What resumeScan reads of the last listing. */
interface LastScan {
  starts: Int32Array;
  ends: Int32Array;
  count: number;
  metaStart: number;
  metaEnd: number;
}
