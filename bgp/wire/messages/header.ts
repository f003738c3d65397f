/**
 * The 19-octet BGP message header and its error checks (RFC 4271 §4.1, §6.1;
 * RFC 8654 §4 for the extended maximum; RFC 7313 §5 for ROUTE-REFRESH).
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                                                               |
 *   +                      Marker (16 octets, all ones)             +
 *   |                                                               |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |          Length               |      Type     |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * This module owns the header checks for both the framer (which runs them as
 * soon as 19 bytes have arrived) and `decodeMessage`; a message body is only
 * ever decoded after its header passed here.
 */
import { BgpError } from '../errors.js';
import { ErrCode, HEADER_LEN, HeaderSub, MAX_MESSAGE_LEN, MsgType } from '../iana.js';
import type { Writer } from '../writer.js';

/** RFC 4271 §4.1: the 16-octet marker, all ones. */
export const MARKER_LEN = 16;

/** The header fields after the marker. */
export interface MessageHeader {
  /** Total message length including the header. */
  length: number;
  type: MsgType;
}

/**
 * Smallest legal total length per type: RFC 4271 §4.2 (OPEN 29), §4.3
 * (UPDATE 23), §4.4 (KEEPALIVE 19), §4.5 (NOTIFICATION 21), RFC 2918 §3
 * (ROUTE-REFRESH 23).
 */
export const MIN_LENGTH: Readonly<Record<MsgType, number>> = {
  [MsgType.OPEN]: 29,
  [MsgType.UPDATE]: 23,
  [MsgType.NOTIFICATION]: 21,
  [MsgType.KEEPALIVE]: 19,
  [MsgType.ROUTE_REFRESH]: 23,
};

const isMsgType = (t: number): t is MsgType => t >= MsgType.OPEN && t <= MsgType.ROUTE_REFRESH;

/** Return the two length octets as NOTIFICATION data (RFC 4271 §6.1). */
function lengthData(length: number): Uint8Array {
  return Uint8Array.of((length >>> 8) & 0xff, length & 0xff);
}

/** Make the Message Header Error / Bad Message Length error for a length field. */
export function badLength(length: number, why: string): BgpError {
  return new BgpError(ErrCode.MessageHeader, HeaderSub.BadMessageLength, `${why} (length ${length})`, lengthData(length));
}

/**
 * Check the marker octets present in `buf[start, start+n)`, n <= 16.
 * Lets the framer reject garbage before a whole header has arrived.
 */
export function checkMarker(buf: Uint8Array, start: number, n: number): void {
  for (let i = 0; i < n; i++) {
    if (buf[start + i] !== 0xff) {
      // RFC 4271 §6.1: "If the Marker field of the message header is not as
      // expected, then a synchronization error has occurred and the Error
      // Subcode MUST be set to Connection Not Synchronized."
      throw new BgpError(ErrCode.MessageHeader, HeaderSub.ConnectionNotSynchronized, `marker octet ${i} is 0x${(buf[start + i] ?? 0).toString(16)}`);
    }
  }
}

/**
 * Decode and check the header at `buf[start, start+19)`; `maxLen` is 4096, or
 * 65535 once RFC 8654 Extended Message is negotiated.
 */
export function decodeHeader(buf: Uint8Array, maxLen: number, start = 0): MessageHeader {
  if (buf.length - start < HEADER_LEN) {
    throw badLength(buf.length - start, 'message shorter than its header');
  }
  checkMarker(buf, start, MARKER_LEN);
  const length = (buf[start + 16]! << 8) | buf[start + 17]!;
  const type = buf[start + 18]!;
  // RFC 4271 §6.1: "if the Length field of the message header is less than 19
  // or greater than 4096 [...] the Error Subcode MUST be set to Bad Message
  // Length. The Data field MUST contain the erroneous Length field."
  if (length < HEADER_LEN) throw badLength(length, 'length below the 19-octet header');
  if (length > maxLen) throw badLength(length, `length above the maximum ${maxLen}`);
  // RFC 4271 §6.1: "If the Type field of the message header is not recognized,
  // then the Error Subcode MUST be set to Bad Message Type. The Data field MUST
  // contain the erroneous Type field."
  if (!isMsgType(type)) {
    throw new BgpError(ErrCode.MessageHeader, HeaderSub.BadMessageType, `unknown message type ${type}`, Uint8Array.of(type));
  }
  checkTypeLength(type, length);
  return { length, type };
}

/** Throw Bad Message Length if `length` is impossible for `type` (RFC 4271 §6.1). */
export function checkTypeLength(type: MsgType, length: number): void {
  if (length < MIN_LENGTH[type]) throw badLength(length, `message type ${type} needs at least ${MIN_LENGTH[type]} octets`);
  // RFC 4271 §6.1: "if the Length field of a KEEPALIVE message is not equal to 19".
  if (type === MsgType.KEEPALIVE && length !== HEADER_LEN) throw badLength(length, 'KEEPALIVE must be 19 octets');
  // RFC 8654 §4: "The BGP Extended Message Capability applies to all messages
  // except for OPEN and KEEPALIVE messages."
  if (type === MsgType.OPEN && length > MAX_MESSAGE_LEN) throw badLength(length, 'OPEN above 4096 octets');
  // ROUTE-REFRESH longer than 23 octets is not a header error: RFC 7313 §5
  // gives subtypes 1 and 2 their own error (route-refresh.ts), and a subtype 0
  // message may carry RFC 5291 ORF entries.
}

/**
 * Write the marker, a placeholder length and the type; return the length's
 * offset for `finishHeader`. RFC 4271 §4.1: the Marker "MUST be set to all ones".
 */
export function writeHeader(w: Writer, type: MsgType): number {
  for (let i = 0; i < MARKER_LEN; i++) w.u8(0xff);
  const at = w.reserve16();
  w.u8(type);
  return at;
}

/** Patch the total length (header included) into the header written at `lengthAt`. */
export function finishHeader(w: Writer, lengthAt: number): number {
  const total = w.pos - (lengthAt - MARKER_LEN);
  w.buf[lengthAt] = (total >>> 8) & 0xff;
  w.buf[lengthAt + 1] = total & 0xff;
  return total;
}
