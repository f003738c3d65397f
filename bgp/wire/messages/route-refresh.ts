/**
 * ROUTE-REFRESH message body (RFC 2918 §3; RFC 7313 §3 and §5).
 *
 *   0       7      15      23      31
 *   +-------+-------+-------+-------+
 *   |      AFI      | Subtype | SAFI |
 *   +-------+-------+-------+-------+
 *
 * Subtype (RFC 7313 §3; "Reserved" in RFC 2918): 0 normal request,
 * 1 Beginning of Route Refresh (BoRR), 2 End of Route Refresh (EoRR).
 */
import { BgpError } from '../errors.js';
import { ErrCode, HEADER_LEN, MAX_MESSAGE_LEN, RefreshSubtype, RouteRefreshSub } from '../iana.js';
import type { CodecContext } from '../context.js';
import type { Reader } from '../reader.js';
import type { RouteRefreshMessage } from '../types.js';
import type { Writer } from '../writer.js';

/** Largest NOTIFICATION data that keeps the message within 4096 octets. */
const MAX_NOTIFICATION_DATA = MAX_MESSAGE_LEN - HEADER_LEN - 2;

/** True for the subtypes RFC 7313 defines; others must be ignored by the receiver. */
export function isKnownRefreshSubtype(n: number): n is RefreshSubtype {
  return n === RefreshSubtype.Normal || n === RefreshSubtype.BoRR || n === RefreshSubtype.EoRR;
}

/**
 * Decode a ROUTE-REFRESH body. A subtype other than 0, 1, 2 is returned as
 * received (test it with `isKnownRefreshSubtype`): RFC 7313 §5 says the
 * receiver "MUST ignore the received ROUTE-REFRESH message", which is a
 * session decision, not a decode error. Trailing octets on a subtype 0
 * message (RFC 5291 ORF entries, which herald never negotiates) are ignored.
 */
export function decodeRouteRefreshBody(r: Reader, _ctx?: CodecContext): RouteRefreshMessage {
  const start = r.pos;
  const afi = r.u16('AFI');
  const subtype = r.u8('subtype');
  const safi = r.u8('SAFI');
  if ((subtype === RefreshSubtype.BoRR || subtype === RefreshSubtype.EoRR) && !r.atEnd) {
    // RFC 7313 §5: "If the length, excluding the fixed-size message header, of
    // the received ROUTE-REFRESH message with Message Subtype 1 and 2 is not
    // 4, then the BGP speaker MUST send a NOTIFICATION message with the Error
    // Code of "ROUTE-REFRESH Message Error" and the subcode of "Invalid Message
    // Length". The Data field of the NOTIFICATION message MUST contain the
    // complete ROUTE-REFRESH message."
    // decodeMessage hands a window over the whole frame, so the header sits
    // just before `start`. Data is capped so the NOTIFICATION still fits 4096.
    const from = Math.max(0, start - HEADER_LEN);
    const whole = r.buf.slice(from, Math.min(r.end, from + MAX_NOTIFICATION_DATA));
    throw new BgpError(ErrCode.RouteRefresh, RouteRefreshSub.InvalidMessageLength, `ROUTE-REFRESH subtype ${subtype} body is ${r.end - start} octets, not 4`, whole);
  }
  r.rest();
  return { type: 'route-refresh', afi, safi, subtype: subtype as RefreshSubtype };
}

/** Encode a ROUTE-REFRESH body. */
export function encodeRouteRefreshBody(w: Writer, msg: RouteRefreshMessage, _ctx?: CodecContext): void {
  w.u16(msg.afi).u8(msg.subtype).u8(msg.safi);
}
