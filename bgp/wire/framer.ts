/**
 * Cut a TCP byte stream into whole BGP messages (RFC 4271 §4.1, §6.1;
 * RFC 8654 §4 for the larger maximum).
 *
 *   chunk 1            chunk 2         chunk 3
 *   [hdr|body..][hdr|bo][dy][hdr|body|hdr|...]
 *    \_frame 1_/ \_frame 2_/ \_frame 3_/
 *
 * Chunks are queued as they arrive, never concatenated. A frame that lies
 * inside one chunk is returned as a view of it (no copy); a frame that spans
 * chunks is copied once into a buffer of exactly its length. Each byte is thus
 * copied at most once, however finely the stream is split (pg-protocol's
 * parser does the same with one growing buffer).
 *
 * Errors are found as early as the bytes allow, so a garbage stream fails
 * fast: each marker octet is checked as it arrives, and the length and type
 * as soon as the 19-octet header is complete (before the body). `push` never
 * throws (it runs in a socket 'data' handler); the error is raised by the
 * next call to `next()`. After an error the framer stays failed, drops what
 * is pushed, and `next()` rethrows the same error: the session is over.
 */
import { BgpError } from './errors.js';
import { HEADER_LEN, MAX_EXTENDED_MESSAGE_LEN, MAX_MESSAGE_LEN } from './iana.js';
import { checkMarker, decodeHeader, MARKER_LEN } from './messages/header.js';

export class Framer implements Iterable<Uint8Array> {
  /** Queued chunks; `chunks[head]` is the oldest one still holding unread bytes. */
  private chunks: Uint8Array[] = [];
  private head = 0;
  /** Read offset into `chunks[head]`. */
  private offset = 0;
  /** Unread bytes across all queued chunks. */
  private buffered = 0;
  /** Marker octets of the pending message already checked. */
  private markerChecked = 0;
  /** Total length of the pending message, once its header has been checked. */
  private pendingLength = 0;
  private maxLen: number;
  private failed: BgpError | null = null;

  /** Make a framer; `maxLength` is 4096 until Extended Message is negotiated. */
  constructor(maxLength: number = MAX_MESSAGE_LEN) {
    this.maxLen = maxLength;
    this.setMaxLength(maxLength);
  }

  /** Set the largest accepted message: 4096, or 65535 with RFC 8654 Extended Message. */
  setMaxLength(n: number): void {
    if (!Number.isInteger(n) || n < HEADER_LEN || n > MAX_EXTENDED_MESSAGE_LEN) throw new RangeError(`bad maximum message length ${n}`);
    this.maxLen = n;
  }

  /** The largest accepted message length. */
  get maxLength(): number {
    return this.maxLen;
  }

  /** Unread bytes held. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Queue a chunk from the socket and check the header octets it completes; never throws. */
  push(chunk: Uint8Array): void {
    if (this.failed || chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.checkEarly();
  }

  /** The error that stopped this framer, if any. */
  get error(): BgpError | null {
    return this.failed;
  }

  /** Return the next whole message (header included), or null until more bytes arrive. */
  next(): Uint8Array | null {
    this.checkEarly();
    if (this.failed) throw this.failed;
    if (this.pendingLength === 0 || this.buffered < this.pendingLength) return null;
    const frame = this.take(this.pendingLength);
    this.pendingLength = 0;
    this.markerChecked = 0;
    // The next header is checked by the next push() or next(), not here: the
    // frame just returned may be the KEEPALIVE that completes the session and
    // raises the limit to 65535 (RFC 8654), and a peer may send its first
    // extended UPDATE right behind it in the same TCP segment.
    return frame;
  }

  /** Iterate over the whole messages available now. */
  *[Symbol.iterator](): Iterator<Uint8Array> {
    for (let f = this.next(); f !== null; f = this.next()) yield f;
  }

  /** Check the marker octets and, once 19 bytes are in, the header of the pending message; record a failure. */
  private checkEarly(): void {
    if (this.pendingLength !== 0 || this.failed) return;
    try {
      // Marker octets as they arrive, chunk by chunk, without copying.
      let idx = this.head;
      let off = this.offset;
      let seen = 0;
      while (this.markerChecked < MARKER_LEN && idx < this.chunks.length) {
        const c = this.chunks[idx]!;
        const avail = c.length - off;
        const skip = this.markerChecked - seen; // octets of this chunk already checked
        if (skip >= avail) {
          seen += avail;
          idx++;
          off = 0;
          continue;
        }
        const n = Math.min(avail - skip, MARKER_LEN - this.markerChecked);
        checkMarker(c, off + skip, n);
        this.markerChecked += n;
        seen += skip + n;
        idx++;
        off = 0;
      }
      if (this.buffered < HEADER_LEN) return;
      const h = decodeHeader(this.peek(HEADER_LEN), this.maxLen);
      this.pendingLength = h.length;
    } catch (e) {
      // Only BgpErrors come from the header checks; anything else is a bug here.
      if (!(e instanceof BgpError)) throw e;
      this.failed = e;
    }
  }

  /** Return the first n unread bytes without consuming them (a view when possible). */
  private peek(n: number): Uint8Array {
    const c = this.chunks[this.head]!;
    if (c.length - this.offset >= n) return c.subarray(this.offset, this.offset + n);
    const out = new Uint8Array(n);
    let filled = 0;
    for (let i = this.head, off = this.offset; filled < n; i++, off = 0) {
      const part = this.chunks[i]!.subarray(off, off + (n - filled));
      out.set(part, filled);
      filled += part.length;
    }
    return out;
  }

  /** Consume n bytes: a view of one chunk when they lie in it, else one copy. */
  private take(n: number): Uint8Array {
    const c = this.chunks[this.head]!;
    let out: Uint8Array;
    if (c.length - this.offset >= n) {
      out = c.subarray(this.offset, this.offset + n);
      this.offset += n;
    } else {
      out = new Uint8Array(n);
      let filled = 0;
      while (filled < n) {
        const cur = this.chunks[this.head]!;
        const part = cur.subarray(this.offset, this.offset + (n - filled));
        out.set(part, filled);
        filled += part.length;
        this.offset += part.length;
        if (this.offset === cur.length) this.dropHead();
      }
    }
    if (this.head < this.chunks.length && this.offset === this.chunks[this.head]!.length) this.dropHead();
    this.buffered -= n;
    return out;
  }

  private dropHead(): void {
    this.head++;
    this.offset = 0;
    // Compact now and then so the queue does not grow without bound; cheap
    // because it happens only after as many chunks were consumed.
    if (this.head >= 64 && this.head * 2 >= this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}
