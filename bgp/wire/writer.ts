/**
 * The one growable writer every encoded byte goes through (STYLE.md §2).
 *
 * Lengths are written last: `reserve16()` leaves room for a length field and
 * `fill16(at)` patches in the number of bytes written since, the way a BGP
 * header or an attribute's length is known only after its body is written.
 */
export class Writer {
  buf: Uint8Array;
  pos = 0;

  constructor(initial = 256) {
    this.buf = new Uint8Array(initial);
  }

  private grow(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const nb = new Uint8Array(size);
    nb.set(this.buf.subarray(0, this.pos));
    this.buf = nb;
  }

  u8(v: number): this {
    this.grow(1);
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.grow(2);
    this.buf[this.pos++] = (v >>> 8) & 0xff;
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  u32(v: number): this {
    this.grow(4);
    this.buf[this.pos++] = (v >>> 24) & 0xff;
    this.buf[this.pos++] = (v >>> 16) & 0xff;
    this.buf[this.pos++] = (v >>> 8) & 0xff;
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.grow(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** Reserve a 1-octet length; returns its offset for fill8. */
  reserve8(): number {
    this.grow(1);
    return this.pos++;
  }

  /** Reserve a 2-octet length; returns its offset for fill16. */
  reserve16(): number {
    this.grow(2);
    const at = this.pos;
    this.pos += 2;
    return at;
  }

  /** Patch the 1-octet length at `at` with the bytes written after it. */
  fill8(at: number): void {
    const n = this.pos - at - 1;
    if (n > 0xff) throw new RangeError(`length ${n} does not fit one octet`);
    this.buf[at] = n;
  }

  /** Patch the 2-octet length at `at` with the bytes written after it (plus `extra`). */
  fill16(at: number, extra = 0): void {
    const n = this.pos - at - 2 + extra;
    if (n > 0xffff) throw new RangeError(`length ${n} does not fit two octets`);
    this.buf[at] = (n >>> 8) & 0xff;
    this.buf[at + 1] = n & 0xff;
  }

  /** Drop everything written after `pos` (used to back out a partial write). */
  truncate(pos: number): void {
    this.pos = pos;
  }

  /** Return a view of what was written. */
  view(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  /** Return a copy of what was written. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}
