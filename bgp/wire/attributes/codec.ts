/**
 * The shape of one path attribute codec, and the helpers every codec shares.
 *
 * Owns: the `AttrCodec` table entry (BIRD's attrs.c idea: one entry per type
 * code with expected flags, decode, encode and format hooks), the RFC 7606
 * fault helpers codecs throw, and the attribute header writer.
 *
 * RFC 4271 §4.3 (path attribute encoding), RFC 7606 §2 (error-handling
 * approaches).
 *
 *    0                   1
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |O|T|P|E|  0    |  Type Code    |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   | Length (1 octet, 2 if E set)  |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   | Value (Length octets)         |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
import { AttrFlag, ErrCode, UpdateSub } from '../iana.js';
import { BgpError, type ErrorAction } from '../errors.js';
import type { CodecContext } from '../context.js';
import type { Reader } from '../reader.js';
import type { Writer } from '../writer.js';
import type { PathAttributes } from '../types.js';

/** Expected Optional/Transitive bits: well-known (always transitive). */
export const WELL_KNOWN = AttrFlag.Transitive;
/** Expected Optional/Transitive bits: optional transitive. */
export const OPTIONAL_TRANSITIVE = AttrFlag.Optional | AttrFlag.Transitive;
/** Expected Optional/Transitive bits: optional non-transitive. */
export const OPTIONAL = AttrFlag.Optional;
/** The two flag bits RFC 7606 §3 (a) checks against the attribute's definition. */
export const CATEGORY_MASK = AttrFlag.Optional | AttrFlag.Transitive;

/** Per-message decode state handed to every attribute codec. */
export interface DecodeState {
  readonly ctx: CodecContext;
  /** Attributes decoded so far; a codec sets its own field. */
  readonly attrs: PathAttributes;
  /** Non-fatal problems a codec reports without throwing (e.g. AS4_PATH segments dropped). */
  readonly errors: BgpError[];
}

/** One registry entry: everything herald knows about one attribute type. */
export interface AttrCodec {
  readonly type: number;
  /** IANA name, for logs and `formatAttributes`. */
  readonly name: string;
  /** Expected Optional/Transitive bits (WELL_KNOWN, OPTIONAL or OPTIONAL_TRANSITIVE). */
  readonly flags: number;
  /** Short name used by `formatAttributes`. */
  readonly label: string;
  /**
   * Decode the value window `r` (exactly Attribute Length bytes) into
   * `st.attrs`. A malformed value throws a BgpError carrying the RFC 7606
   * action; the attribute list loop adds the attribute bytes as data.
   */
  decode(r: Reader, st: DecodeState): void;
  /** Write the whole attribute (header and value) if `attrs` holds it; write nothing otherwise. */
  encode(w: Writer, attrs: PathAttributes, ctx: CodecContext): void;
  /** Render the attribute's value for logs and the CLI, or undefined when absent. */
  format(attrs: PathAttributes): string | undefined;
}

/**
 * An error that concerns one address family (MP_REACH_NLRI / MP_UNREACH_NLRI),
 * so that an 'afi-safi-disable' action says which family to disable.
 */
export class FamilyError extends BgpError {
  readonly afi: number;
  readonly safi: number;

  constructor(afi: number, safi: number, subcode: number, message: string, data: Uint8Array, action: ErrorAction) {
    super(ErrCode.UpdateMessage, subcode, message, data, action);
    this.name = 'FamilyError';
    this.afi = afi;
    this.safi = safi;
  }
}

/** Make an UPDATE Message Error with an RFC 7606 action; data is filled in later. */
export function attrFault(subcode: number, action: ErrorAction, message: string): BgpError {
  return new BgpError(ErrCode.UpdateMessage, subcode, message, new Uint8Array(0), action);
}

/** Make an Attribute Length Error with the given RFC 7606 action. */
export function lengthFault(name: string, len: number, expected: string, action: ErrorAction): BgpError {
  return attrFault(UpdateSub.AttributeLengthError, action, `${name} length ${len}, expected ${expected}`);
}

/** Return `e` with `data` as its NOTIFICATION data, keeping class, action and text. */
export function withData(e: BgpError, data: Uint8Array): BgpError {
  const text = e.message;
  const out =
    e instanceof FamilyError
      ? new FamilyError(e.afi, e.safi, e.subcode, '', data, e.action)
      : new BgpError(e.code, e.subcode, '', data, e.action);
  out.message = text;
  return out;
}

/** Write an attribute's flags and type and reserve its length; returns the start for `endAttr`. */
export function beginAttr(w: Writer, flags: number, type: number): number {
  const at = w.pos;
  w.u8(flags & ~AttrFlag.ExtendedLength);
  w.u8(type);
  w.u8(0);
  return at;
}

/**
 * Patch the length of the attribute begun at `at`. A value over 255 bytes gets
 * the Extended Length bit and a 2-octet length (RFC 4271 §4.3), moving the
 * value one byte to the right; that is rare, so the common case stays a
 * single store.
 */
export function endAttr(w: Writer, at: number): void {
  const n = w.pos - at - 3;
  if (n <= 0xff) {
    w.buf[at + 2] = n;
    return;
  }
  if (n > 0xffff) throw new RangeError(`attribute ${w.buf[at + 1]} value of ${n} bytes does not fit`);
  w.u8(0); // grow by one byte; w.buf may be a new array after this
  const b = w.buf;
  b.copyWithin(at + 4, at + 3, w.pos - 1);
  b[at] = b[at]! | AttrFlag.ExtendedLength;
  b[at + 2] = n >>> 8;
  b[at + 3] = n & 0xff;
}

/** Write an attribute whose value is a 4-octet number. */
export function writeU32Attr(w: Writer, flags: number, type: number, v: number): void {
  w.u8(flags);
  w.u8(type);
  w.u8(4);
  w.u32(v);
}
