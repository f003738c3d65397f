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

export class Listing {
  private constructor(
    /** The body (a view of the read buffer). */
    readonly bytes: Buffer,
    /** Byte offsets of element i: [starts[i], ends[i]). */
    private readonly starts: Int32Array,
    private readonly ends: Int32Array,
    /** Elements in `metadata` (0 when it is null or absent). */
    readonly count: number,
    /** The envelope with `metadata` set to null. */
    readonly envelope: ListingEnvelope,
    /** True when `metadata` is an array (false: null, absent or another value). */
    readonly isArray: boolean,
  ) {}

  /** Scan a response body; throws ListingSyntaxError when its structure is not a JSON object. */
  static scan(bytes: Buffer): Listing {
    return new Scanner(bytes).run();
  }

  /** @internal (the scanner's constructor). */
  static make(bytes: Buffer, starts: Int32Array, ends: Int32Array, count: number, envelope: ListingEnvelope, isArray: boolean): Listing {
    return new Listing(bytes, starts, ends, count, envelope, isArray);
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
  private starts: Int32Array = new Int32Array(1024);
  private ends: Int32Array = new Int32Array(1024);
  private count = 0;

  constructor(private readonly b: Buffer) {
    this.n = b.length;
  }

  run(): Listing {
    const b = this.b;
    this.ws();
    this.expect(LBRACE, "'{'");
    let metaStart = -1;
    let metaEnd = -1;
    let isArray = false;
    this.ws();
    if (b[this.i] === RBRACE) this.i++;
    else {
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
        if (isMeta && b[v0] === LBRACKET) {
          this.elements();
          isArray = true;
        } else this.skipValue();
        if (isMeta) {
          metaStart = v0;
          metaEnd = this.i;
        }
        this.ws();
        const c = b[this.i++];
        if (c === COMMA) continue;
        if (c === RBRACE) break;
        throw new ListingSyntaxError("expected ',' or '}'", this.i - 1);
      }
    }
    this.ws();
    if (this.i !== this.n) throw new ListingSyntaxError('unexpected data after the response', this.i);
    const head = metaStart < 0 ? b.toString('utf8') : `${b.toString('utf8', 0, metaStart)}null${b.toString('utf8', metaEnd, this.n)}`;
    let envelope: ListingEnvelope;
    try {
      envelope = JSON.parse(head) as ListingEnvelope;
    } catch (e) {
      throw new ListingSyntaxError(`not JSON: ${(e as Error).message}`, 0);
    }
    if (!isArray) this.count = 0;
    return Listing.make(b, this.starts, this.ends, this.count, envelope, isArray);
  }

  /** The `metadata` array: each element's range, the commas between them. */
  private elements(): void {
    const b = this.b;
    this.i++; // '['
    this.ws();
    if (b[this.i] === RBRACKET) {
      this.i++;
      return;
    }
    for (;;) {
      this.ws();
      const s = this.i;
      this.skipValue();
      this.push(s, this.i);
      this.ws();
      const c = b[this.i++];
      if (c === COMMA) continue;
      if (c === RBRACKET) return;
      throw new ListingSyntaxError("expected ',' or ']' between elements", this.i - 1);
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
