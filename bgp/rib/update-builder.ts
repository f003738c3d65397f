/**
 * Packs prefixes into whole UPDATE messages, header included (RFC 4271 §4.3,
 * RFC 4760 §3-§4, RFC 4724 §2, RFC 7911 §3, RFC 7606 §5.1, RFC 8654).
 *
 * This is the Adj-RIB-Out's hot path, so it writes messages straight into one
 * Writer: the attribute block of a bucket is encoded once (by the wire
 * attribute codec) and copied into every UPDATE of that bucket; only the NLRI
 * and, for MP families, the MP_REACH_NLRI / MP_UNREACH_NLRI wrapper are
 * written per message, since their length depends on how many prefixes fit.
 *
 *   +-----------------------------------------------+
 *   | Marker (16 × 0xff) | Length (2) | Type = 2     |   RFC 4271 §4.1
 *   +-----------------------------------------------+
 *   | Withdrawn Routes Length (2)                    |
 *   | Withdrawn Routes (IPv4 NLRI, variable)         |
 *   +-----------------------------------------------+
 *   | Total Path Attribute Length (2)                |
 *   | [MP_REACH_NLRI | MP_UNREACH_NLRI] first        |   RFC 7606 §5.1
 *   | attribute block of the bucket (cached)         |
 *   +-----------------------------------------------+
 *   | NLRI (IPv4, body carrier only)                 |
 *   +-----------------------------------------------+
 *
 *   MP_REACH_NLRI value (RFC 4760 §3):
 *   | AFI (2) | SAFI (1) | NH len (1) | Next Hop | Reserved (1) | NLRI ... |
 *   MP_UNREACH_NLRI value (RFC 4760 §4):
 *   | AFI (2) | SAFI (1) | Withdrawn NLRI ... |
 *
 * Each function writes exactly one message and stops before the negotiated
 * maximum (4096, or 65535 with RFC 8654) would be passed.
 */
import { Afi, AttrFlag, AttrType, HEADER_LEN, MsgType, Safi } from '../wire/iana.js';
import type { CodecContext } from '../wire/context.js';
import type { PathAttributes } from '../wire/types.js';
import type { Writer } from '../wire/writer.js';
import type { AttrSet } from './export.js';

/** Encodes an attribute block (no MP_REACH / MP_UNREACH) for a context. */
export type AttributeEncoder = (w: Writer, attrs: PathAttributes, ctx: CodecContext) => void;

/** Path identifier herald sends when ADD-PATH send is negotiated: one path per prefix. */
export const SEND_PATH_ID = 1;

/** Fixed octets of every UPDATE: header + Withdrawn Routes Length + Total Path Attribute Length. */
export const UPDATE_FIXED = HEADER_LEN + 2 + 2;
/** MP_REACH_NLRI with extended length: flags, type, length (2), AFI, SAFI, NH length, reserved. */
const MP_REACH_FIXED = 4 + 2 + 1 + 1 + 1;

const MARKER = new Uint8Array(16).fill(0xff);

/** Write the header with a length placeholder; returns the message's start offset. */
export function beginUpdate(w: Writer): number {
  const start = w.pos;
  w.bytes(MARKER);
  w.reserve16();
  w.u8(MsgType.UPDATE);
  return start;
}

/** Patch the header length of the message begun at `start`. */
export function endUpdate(w: Writer, start: number): void {
  // The length counts the whole message, marker included (RFC 4271 §4.1).
  w.fill16(start + 16, 16 + 2);
}

/** Octets one NLRI entry of `len` bits takes on this session. */
export function nlriBytes(len: number, addPath: boolean): number {
  return 1 + ((len + 7) >> 3) + (addPath ? 4 : 0);
}

/**
 * Write one NLRI entry — [path id], length in bits, the significant octets —
 * taking the address from four big-endian 32-bit words at `words[at]` (an
 * IPv4 address is the first word). Returns the octets written.
 */
export function writeNlriWords(w: Writer, words: Int32Array, at: number, len: number, addPath: boolean): number {
  if (addPath) w.u32(SEND_PATH_ID);
  w.u8(len);
  const n = (len + 7) >> 3;
  let i = 0;
  for (; i + 4 <= n; i += 4) w.u32(words[at + (i >> 2)]!);
  if (i < n) {
    const v = words[at + (i >> 2)]!;
    for (let k = 0; i < n; i++, k++) w.u8(v >>> (24 - 8 * k));
  }
  return 1 + n + (addPath ? 4 : 0);
}

/**
 * Where a message's prefixes come from: `next` writes the next prefix if it
 * takes at most `room` octets and returns the octets written, or 0 when there
 * is none or it would not fit. (An object, not a closure per message.)
 */
export interface NlriFeed {
  next(w: Writer, room: number): number;
}

/**
 * Octets an UPDATE needs before its first NLRI for this attribute set: the
 * fixed parts, the cached block, and the MP_REACH wrapper for MP carriers.
 */
export function announceOverhead(set: AttrSet, block: Uint8Array): number {
  return UPDATE_FIXED + block.length + (set.carrier === 'mp' ? MP_REACH_FIXED + set.nextHopBytes.length : 0);
}

/**
 * Write one announcing UPDATE for `set`, pulling prefixes from `feed` until
 * the next one would pass `maxLen`; returns how many prefixes went in.
 */
export function writeAnnounce(w: Writer, set: AttrSet, block: Uint8Array, maxLen: number, feed: NlriFeed): number {
  const start = beginUpdate(w);
  w.u16(0); // no withdrawn routes
  const attrLenAt = w.reserve16();
  let count = 0;
  const limit = start + maxLen;
  if (set.carrier === 'mp') {
    // RFC 7606 §5.1: "the MP_REACH_NLRI or MP_UNREACH_NLRI attribute (if
    // present) SHALL be encoded as the very first path attribute".
    w.u8(AttrFlag.Optional | AttrFlag.ExtendedLength);
    w.u8(AttrType.MP_REACH_NLRI);
    const mpLenAt = w.reserve16();
    w.u16(set.afi);
    w.u8(Safi.Unicast);
    w.u8(set.nextHopBytes.length);
    w.bytes(set.nextHopBytes);
    w.u8(0); // RFC 4760 §3: Reserved, "MUST be set to 0"
    const room0 = limit - w.pos - block.length;
    for (let room = room0, n = feed.next(w, room); n > 0; n = feed.next(w, room)) {
      room -= n;
      count++;
    }
    w.fill16(mpLenAt);
    w.bytes(block);
    w.fill16(attrLenAt);
  } else {
    w.bytes(block);
    w.fill16(attrLenAt);
    for (let room = limit - w.pos, n = feed.next(w, room); n > 0; n = feed.next(w, room)) {
      room -= n;
      count++;
    }
  }
  endUpdate(w, start);
  return count;
}

/**
 * Write one withdrawing UPDATE for family `afi`: IPv4 in the Withdrawn Routes
 * field (RFC 4271 §4.3), IPv6 in MP_UNREACH_NLRI (RFC 4760 §4). Returns how
 * many prefixes went in.
 */
export function writeWithdraw(w: Writer, afi: Afi, maxLen: number, feed: NlriFeed): number {
  const start = beginUpdate(w);
  const limit = start + maxLen;
  let count = 0;
  if (afi === Afi.IPv4) {
    const wdLenAt = w.reserve16();
    for (let room = limit - w.pos - 2, n = feed.next(w, room); n > 0; n = feed.next(w, room)) {
      room -= n;
      count++;
    }
    w.fill16(wdLenAt);
    w.u16(0); // no path attributes
  } else {
    w.u16(0); // no IPv4 withdrawn routes
    const attrLenAt = w.reserve16();
    w.u8(AttrFlag.Optional | AttrFlag.ExtendedLength);
    w.u8(AttrType.MP_UNREACH_NLRI);
    const mpLenAt = w.reserve16();
    w.u16(afi);
    w.u8(Safi.Unicast);
    for (let room = limit - w.pos, n = feed.next(w, room); n > 0; n = feed.next(w, room)) {
      room -= n;
      count++;
    }
    w.fill16(mpLenAt);
    w.fill16(attrLenAt);
  }
  endUpdate(w, start);
  return count;
}

/**
 * Write the End-of-RIB marker of a family (RFC 4724 §2): for IPv4 unicast an
 * UPDATE with no withdrawn routes, no attributes and no NLRI (23 octets); for
 * any other family an UPDATE holding only an empty MP_UNREACH_NLRI.
 */
export function writeEndOfRib(w: Writer, afi: number, safi: number): void {
  const start = beginUpdate(w);
  w.u16(0);
  if (afi === Afi.IPv4 && safi === Safi.Unicast) {
    w.u16(0);
  } else {
    w.u16(6);
    w.u8(AttrFlag.Optional);
    w.u8(AttrType.MP_UNREACH_NLRI);
    w.u8(3);
    w.u16(afi);
    w.u8(safi);
  }
  endUpdate(w, start);
}
