/**
 * The one bounds-checked reader every decoded byte goes through (STYLE.md §2).
 *
 * A Reader is a window [pos, end) over a byte array. `sub(n)` carves a child
 * window of exactly n bytes and advances the parent past it, so a TLV can never
 * read past its own length. Running out of bytes throws a BgpError with the
 * identity the caller chose for this window (e.g. UPDATE/AttributeLengthError),
 * never a RangeError or an `undefined`.
 */
import { BgpError, type ErrorAction } from './errors.js';

/** The NOTIFICATION identity a reader raises when its window runs short. */
export interface ShortError {
  code: number;
  subcode: number;
  action?: ErrorAction;
  /** Data for the NOTIFICATION; defaults to empty. */
  data?: Uint8Array;
  what?: string;
}

export class Reader {
  readonly buf: Uint8Array;
  pos: number;
  readonly end: number;
  readonly onShort: ShortError;

  constructor(buf: Uint8Array, onShort: ShortError, start = 0, end = buf.length) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.onShort = onShort;
  }

  /** Bytes left in this window. */
  get remaining(): number {
    return this.end - this.pos;
  }

  /** True when the window is fully consumed. */
  get atEnd(): boolean {
    return this.pos >= this.end;
  }

  /** Throw this window's short-read error unless n more bytes are present. */
  need(n: number, what?: string): void {
    if (this.pos + n > this.end) {
      const s = this.onShort;
      throw new BgpError(
        s.code,
        s.subcode,
        `${what ?? s.what ?? 'field'} needs ${n} bytes, ${this.end - this.pos} left`,
        s.data ?? new Uint8Array(0),
        s.action ?? 'session-reset',
      );
    }
  }

  u8(what?: string): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }

  u16(what?: string): number {
    this.need(2, what);
    const b = this.buf;
    const v = (b[this.pos]! << 8) | b[this.pos + 1]!;
    this.pos += 2;
    return v;
  }

  u32(what?: string): number {
    this.need(4, what);
    const b = this.buf;
    const p = this.pos;
    const v = b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
    this.pos += 4;
    return v;
  }

  /** Return a view (not a copy) of the next n bytes. */
  bytes(n: number, what?: string): Uint8Array {
    this.need(n, what);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** Return a view of everything left in the window. */
  rest(): Uint8Array {
    const v = this.buf.subarray(this.pos, this.end);
    this.pos = this.end;
    return v;
  }

  /** Carve a child window of exactly n bytes; the parent skips past it. */
  sub(n: number, onShort: ShortError = this.onShort, what?: string): Reader {
    this.need(n, what);
    const r = new Reader(this.buf, onShort, this.pos, this.pos + n);
    this.pos += n;
    return r;
  }

  /** Return the bytes [from, pos) already read: handy for NOTIFICATION data. */
  since(from: number): Uint8Array {
    return this.buf.subarray(from, this.pos);
  }
}
