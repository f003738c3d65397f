/**
 * An LXD list response kept as bytes: one scan finds where each element of
 * the envelope's `metadata` array starts and ends, and an element is parsed
 * only when asked (issue 9, decision 0043).
 *
 * Why: at 10,000 instances `GET /1.0/instances?recursion=1&all-projects=true`
 * is ~25 MB of JSON. Decoding it to a string and `JSON.parse` of the whole
 * cost ~300 ms of CPU and ~200 MB of short-lived objects per read (most of
 * it garbage collection), although a resync usually finds almost every
 * instance as it was. Kept as bytes, an element that is byte for byte an
 * element of the last listing (one memcmp) is the same instance with the
 * same record, and costs no allocation; only the others are parsed, one
 * small `JSON.parse` each.
 *
 *   { "type": "sync", ..., "metadata": [ {...}, {...}, ... ] }
 *                                        ^    ^
 *                                        starts[i], ends[i]
 *
 * Scanned against the last listing (`scan(bytes, last)`), an identical
 * body (one memcmp) has the last listing's structure. Otherwise the walk
 * aligns the two: at each element it first compares the bytes there with
 * the old element expected there (the one after the last match, or one
 * either side: an insert or a delete just before); when they are equal,
 * the element is that old one, its extent known, and the walk moves past
 * it without reading its bytes in JS. Only elements that match none are
 * walked byte by byte. An unchanged listing costs one memcmp; a listing
 * with a few changes anywhere, a memcmp per element and a walk over the
 * changed ones. `base(i)` tells which old element element i is (-1: none).
 * A matched element is an object, array or string, whose end its own bytes
 * decide, so the structure found is the one a full walk would find.
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
  /** The old element each element is byte for byte (-1: none); null: none known, or `identical`. */
  bases: Int32Array | null;
  /** The body is the last listing's, byte for byte. */
  identical: boolean;
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
  private bases: Int32Array | null;
  private readonly identical: boolean;

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
    this.bases = r.bases;
    this.identical = r.identical;
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
    const r = last !== null && last.isArray ? alignedScan(bytes, last, last.scanned()) : null;
    const l = new Listing(bytes, last, r ?? new Scanner(bytes).run());
    // Walked whole (the bodies differ before the metadata): matched to `last` element by element after the walk.
    if (r === null && last !== null) l.matchElements(last);
    return l;
  }

  /** `base` for a listing walked whole: each element compared with the old one expected there (as the aligned walk does). */
  private matchElements(last: Listing): void {
    const bases = new Int32Array(this.count);
    let next = 0;
    for (let i = 0; i < this.count; i++) {
      let j = -1;
      for (let d = 0; d < 3 && j < 0; d++) {
        const c = next + (d === 2 ? -1 : d);
        if (c >= 0 && c < last.count && this.same(i, last, c)) j = c;
      }
      bases[i] = j;
      next = j >= 0 ? j + 1 : next + 1;
    }
    this.bases = bases;
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

  /** The element of the listing scanned against that element i is byte for byte (the one after the last match, or one either side); else -1. */
  base(i: number): number {
    if (this.identical) return i;
    return this.bases === null ? -1 : this.bases[i]!;
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
  private bases: Int32Array | null = null;

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
    return this.finish();
  }

  /**
   * Walk the body aligned with the last listing `L` (bytes `lb`), whose
   * envelope up to its array's '[' the caller found equal (see the header).
   */
  aligned(L: LastScan, lb: Buffer): Scanned {
    const b = this.b;
    this.bases = new Int32Array(this.starts.length);
    this.metaStart = L.metaStart;
    this.isArray = true;
    this.i = L.metaStart + 1;
    this.ws();
    if (b[this.i] === RBRACKET) this.i++;
    else {
      let next = 0;
      for (;;) {
        this.ws();
        const s = this.i;
        let j = -1;
        for (let d = 0; d < 3 && j < 0; d++) {
          const c = next + (d === 2 ? -1 : d);
          if (c < 0 || c >= L.count) continue;
          const os = L.starts[c]!;
          const oe = L.ends[c]!;
          const first = lb[os];
          // Only a value its own bytes end (not a number, which the next byte could extend).
          if ((first === LBRACE || first === LBRACKET || first === QUOTE) && s + (oe - os) <= this.n && b.compare(lb, os, oe, s, s + (oe - os)) === 0) j = c;
        }
        if (j >= 0) this.i = s + (L.ends[j]! - L.starts[j]!);
        else this.skipValue();
        this.push(s, this.i, j);
        next = j >= 0 ? j + 1 : next + 1;
        if (this.afterElement()) break;
      }
    }
    this.metaEnd = this.i;
    if (!this.afterMember()) this.members();
    return this.finish();
  }

  private finish(): Scanned {
    this.ws();
    if (this.i !== this.n) throw new ListingSyntaxError('unexpected data after the response', this.i);
    return { starts: this.starts, ends: this.ends, count: this.count, metaStart: this.metaStart, metaEnd: this.metaEnd, isArray: this.isArray, bases: this.bases, identical: false };
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
          else this.elements();
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

  /** Elements from here (at an element) to past the array's ']'. */
  private elements(): void {
    for (;;) {
      this.ws();
      const s = this.i;
      this.skipValue();
      this.push(s, this.i);
      if (this.afterElement()) return;
    }
  }

  private push(s: number, e: number, base = -1): void {
    if (this.count === this.starts.length) {
      const grow = (a: Int32Array): Int32Array => {
        const x = new Int32Array(a.length * 2);
        x.set(a);
        return x;
      };
      this.starts = grow(this.starts);
      this.ends = grow(this.ends);
      if (this.bases !== null) this.bases = grow(this.bases);
    }
    if (this.bases !== null) this.bases[this.count] = base;
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

/**
 * Scan `b` aligned with `last` (see the header); null when the envelope
 * before the array differs (the caller walks it all).
 */
function alignedScan(b: Buffer, last: Listing, L: LastScan): Scanned | null {
  const lb = last.bytes;
  if (b.length === lb.length && b.equals(lb)) {
    // The same bytes: the same structure.
    return { starts: L.starts, ends: L.ends, count: L.count, metaStart: L.metaStart, metaEnd: L.metaEnd, isArray: true, bases: null, identical: true };
  }
  const head = L.metaStart + 1;
  if (b.length <= head || b.compare(lb, 0, head, 0, head) !== 0) return null;
  return new Scanner(b, L.count + 64).aligned(L, lb);
}

/** What a scan against the last listing reads of it. */
interface LastScan {
  starts: Int32Array;
  ends: Int32Array;
  count: number;
  metaStart: number;
  metaEnd: number;
}
