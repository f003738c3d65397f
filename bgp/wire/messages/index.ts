/**
 * Whole-message codec: header plus a body codec per type (RFC 4271 §4).
 *
 *   +------------------+-------------+------+---------------------------+
 *   | Marker (16, 0xff)| Length (2)  | Type | Body (Length - 19 octets) |
 *   +------------------+-------------+------+---------------------------+
 *
 * `decodeMessage` takes one frame as cut by the Framer (bgp/wire/framer.ts),
 * re-checks the header, and hands each body codec a Reader window over the
 * body only. Every body codec has the shape `decodeXBody(r, ctx)` /
 * `encodeXBody(w, msg, ctx)`.
 */
import { BgpError } from '../errors.js';
import { ErrCode, HEADER_LEN, HeaderSub, MAX_MESSAGE_LEN, MsgType } from '../iana.js';
import { maxMessageLen, type CodecContext } from '../context.js';
import { Reader, type ShortError } from '../reader.js';
import type { BgpMessage } from '../types.js';
import { Writer } from '../writer.js';
import { badLength, decodeHeader, finishHeader, writeHeader } from './header.js';
import { decodeOpenBody, encodeOpenBody } from './open.js';
import { decodeUpdateBody, encodeUpdateBody } from './update.js';
import { decodeNotificationBody, encodeNotificationBody } from './notification.js';
import { decodeKeepaliveBody, encodeKeepaliveBody } from './keepalive.js';
import { decodeRouteRefreshBody, encodeRouteRefreshBody } from './route-refresh.js';

export { decodeHeader, writeHeader, finishHeader, checkMarker, badLength, MIN_LENGTH, type MessageHeader } from './header.js';
export { decodeOpenBody, encodeOpenBody, BGP_VERSION } from './open.js';
export {
  decodeNotificationBody,
  encodeNotificationBody,
  makeShutdownNotification,
  makeHardReset,
  parseShutdownText,
  shutdownData,
  carriesShutdownText,
  MAX_SHUTDOWN_COMMUNICATION,
} from './notification.js';
export { decodeKeepaliveBody, encodeKeepaliveBody } from './keepalive.js';
export { decodeRouteRefreshBody, encodeRouteRefreshBody, isKnownRefreshSubtype } from './route-refresh.js';

/** What a body window raises when a body codec reads past it, per message type. */
const BODY_SHORT: Readonly<Record<MsgType, ShortError>> = {
  [MsgType.OPEN]: { code: ErrCode.OpenMessage, subcode: 0, what: 'OPEN field' },
  // RFC 4271 §6.3: an UPDATE whose fields overrun it is a Malformed Attribute List.
  [MsgType.UPDATE]: { code: ErrCode.UpdateMessage, subcode: 1, what: 'UPDATE field' },
  [MsgType.NOTIFICATION]: { code: ErrCode.MessageHeader, subcode: HeaderSub.BadMessageLength, what: 'NOTIFICATION field' },
  [MsgType.KEEPALIVE]: { code: ErrCode.MessageHeader, subcode: HeaderSub.BadMessageLength, what: 'KEEPALIVE field' },
  [MsgType.ROUTE_REFRESH]: { code: ErrCode.MessageHeader, subcode: HeaderSub.BadMessageLength, what: 'ROUTE-REFRESH field' },
};

const TYPE_OF: Readonly<Record<BgpMessage['type'], MsgType>> = {
  open: MsgType.OPEN,
  update: MsgType.UPDATE,
  notification: MsgType.NOTIFICATION,
  keepalive: MsgType.KEEPALIVE,
  'route-refresh': MsgType.ROUTE_REFRESH,
};

/** Decode one whole message (19-octet header included) in the given context. */
export function decodeMessage(frame: Uint8Array, ctx: CodecContext): BgpMessage {
  const h = decodeHeader(frame, maxMessageLen(ctx));
  // The Length field must describe exactly the frame we were handed; the
  // framer guarantees it, a caller passing a bare buffer may not.
  if (h.length !== frame.length) throw badLength(h.length, `frame holds ${frame.length} octets`);
  const r = new Reader(frame, BODY_SHORT[h.type], HEADER_LEN, h.length);
  switch (h.type) {
    case MsgType.OPEN:
      return decodeOpenBody(r, ctx);
    case MsgType.UPDATE:
      return decodeUpdateBody(r, ctx);
    case MsgType.NOTIFICATION:
      return decodeNotificationBody(r, ctx);
    case MsgType.KEEPALIVE:
      return decodeKeepaliveBody(r, ctx);
    case MsgType.ROUTE_REFRESH:
      return decodeRouteRefreshBody(r, ctx);
  }
}

/** Encode a message body after a header into `w`; return the total length written. */
export function writeMessage(w: Writer, msg: BgpMessage, ctx: CodecContext): number {
  const start = w.pos;
  const at = writeHeader(w, TYPE_OF[msg.type]);
  switch (msg.type) {
    case 'open':
      encodeOpenBody(w, msg, ctx);
      break;
    case 'update':
      encodeUpdateBody(w, msg, ctx);
      break;
    case 'notification':
      encodeNotificationBody(w, msg, ctx);
      break;
    case 'keepalive':
      encodeKeepaliveBody(w, msg, ctx);
      break;
    case 'route-refresh':
      encodeRouteRefreshBody(w, msg, ctx);
      break;
  }
  const total = w.pos - start;
  // RFC 4271 §4 / RFC 8654 §4: never send more than the negotiated maximum;
  // OPEN and KEEPALIVE stay within 4096 whatever was negotiated.
  const max = msg.type === 'open' || msg.type === 'keepalive' ? MAX_MESSAGE_LEN : maxMessageLen(ctx);
  if (total > max) {
    w.truncate(start);
    throw new BgpError(ErrCode.MessageHeader, HeaderSub.BadMessageLength, `encoded ${msg.type} is ${total} octets, above the maximum ${max}`, Uint8Array.of((total >>> 8) & 0xff, total & 0xff));
  }
  finishHeader(w, at);
  return total;
}

/** Encode a whole message; throws BgpError if it would exceed maxMessageLen(ctx). */
export function encodeMessage(msg: BgpMessage, ctx: CodecContext): Uint8Array {
  if (msg.type === 'keepalive') return encodeKeepalive();
  const w = new Writer(msg.type === 'update' ? 512 : 128);
  writeMessage(w, msg, ctx);
  return w.finish();
}

const KEEPALIVE: Uint8Array = (() => {
  const w = new Writer(HEADER_LEN);
  finishHeader(w, writeHeader(w, MsgType.KEEPALIVE));
  return w.finish();
})();

/** Return the 19 octets of a KEEPALIVE (RFC 4271 §4.4); a fresh copy of cached bytes. */
export function encodeKeepalive(): Uint8Array {
  // A copy, so a caller that writes into the buffer cannot corrupt the next one.
  return KEEPALIVE.slice();
}
