/**
 * NOTIFICATION message body (RFC 4271 §4.5) and the shutdown communication of
 * Cease / Administrative Shutdown and Administrative Reset (RFC 9003 §2).
 *
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   | Error code    | Error subcode |   Data (variable)             |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * RFC 9003 Data for Cease subcodes 2 and 4:
 *
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   | Length        | Shutdown Communication (UTF-8, Length octets) |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * RFC 8538 §3 Data for Cease subcode 9 (Hard Reset): the NOTIFICATION that
 * caused the reset, minus its header:
 *
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   | ErrCode       | Subcode       |   Data (variable)             |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * A NOTIFICATION is the last word on a session, so decoding one never fails
 * past its two fixed octets (guaranteed by the header check): a malformed
 * shutdown communication simply leaves `shutdownText` unset, and `data` is
 * always kept raw.
 */
import { CeaseSub, ErrCode } from '../iana.js';
import type { CodecContext } from '../context.js';
import type { Reader } from '../reader.js';
import type { NotificationMessage } from '../types.js';
import type { Writer } from '../writer.js';

/** RFC 9003 §2: the shutdown communication fits a 1-octet length. */
export const MAX_SHUTDOWN_COMMUNICATION = 255;

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });
const utf8 = new TextEncoder();

/** True for the Cease subcodes that carry an RFC 9003 shutdown communication. */
export function carriesShutdownText(code: number, subcode: number): boolean {
  return code === ErrCode.Cease && (subcode === CeaseSub.AdministrativeShutdown || subcode === CeaseSub.AdministrativeReset);
}

/**
 * Parse an RFC 9003 shutdown communication from NOTIFICATION data; return
 * undefined when it is absent (length 0) or malformed.
 */
export function parseShutdownText(data: Uint8Array): string | undefined {
  if (data.length < 1) return undefined;
  const len = data[0]!;
  // RFC 9003 §2: a Length of zero means there is no Shutdown Communication;
  // a Length running past the data, or bytes that are not valid UTF-8, make it
  // malformed. RFC 9003 §3 has the receiver log that event without echoing the
  // malformed text, so none is returned here.
  if (len === 0 || 1 + len > data.length) return undefined;
  try {
    return fatalUtf8.decode(data.subarray(1, 1 + len));
  } catch {
    return undefined;
  }
}

/** Encode a shutdown communication as NOTIFICATION data, cut to 255 octets on a UTF-8 boundary. */
export function shutdownData(text: string): { data: Uint8Array; text: string } {
  let bytes = utf8.encode(text);
  if (bytes.length > MAX_SHUTDOWN_COMMUNICATION) {
    // Cut before the character that crosses octet 255: step back over UTF-8
    // continuation octets (10xxxxxx) so no multi-octet character is split.
    let cut = MAX_SHUTDOWN_COMMUNICATION;
    while (cut > 0 && (bytes[cut]! & 0xc0) === 0x80) cut--;
    bytes = bytes.subarray(0, cut);
  }
  const data = new Uint8Array(1 + bytes.length);
  data[0] = bytes.length;
  data.set(bytes, 1);
  return { data, text: fatalUtf8.decode(bytes) };
}

/**
 * Make a Cease NOTIFICATION with an RFC 9003 shutdown communication, for
 * Administrative Shutdown (2) or Administrative Reset (4).
 */
export function makeShutdownNotification(subcode: typeof CeaseSub.AdministrativeShutdown | typeof CeaseSub.AdministrativeReset, text: string): NotificationMessage {
  const { data, text: kept } = shutdownData(text);
  const msg: NotificationMessage = { type: 'notification', code: ErrCode.Cease, subcode, data };
  if (kept.length > 0) msg.shutdownText = kept;
  return msg;
}

/**
 * Wrap a NOTIFICATION in Cease / Hard Reset (RFC 8538 §3): "the Data field
 * ... contains the ErrCode, Subcode and Data of the NOTIFICATION" being
 * encapsulated. The inner shutdown communication stays readable as
 * `shutdownText`.
 */
export function makeHardReset(inner: NotificationMessage): NotificationMessage {
  let innerData = inner.data;
  if (innerData.length === 0 && inner.shutdownText !== undefined && carriesShutdownText(inner.code, inner.subcode))
    innerData = shutdownData(inner.shutdownText).data;
  const data = new Uint8Array(2 + innerData.length);
  data[0] = inner.code;
  data[1] = inner.subcode;
  data.set(innerData, 2);
  const msg: NotificationMessage = {
    type: 'notification',
    code: ErrCode.Cease,
    subcode: CeaseSub.HardReset,
    data,
    hardReset: { code: inner.code, subcode: inner.subcode, data: innerData },
  };
  if (inner.shutdownText !== undefined) msg.shutdownText = inner.shutdownText;
  return msg;
}

/** Decode a NOTIFICATION body; only running short of the two fixed octets can throw. */
export function decodeNotificationBody(r: Reader, _ctx?: CodecContext): NotificationMessage {
  const code = r.u8('error code');
  const subcode = r.u8('error subcode');
  const data = r.rest().slice();
  const msg: NotificationMessage = { type: 'notification', code, subcode, data };
  if (carriesShutdownText(code, subcode)) {
    const text = parseShutdownText(data);
    if (text !== undefined) msg.shutdownText = text;
  } else if (code === ErrCode.Cease && subcode === CeaseSub.HardReset && data.length >= 2) {
    // RFC 8538 §3: the inner ErrCode and Subcode, then the inner Data. Shorter
    // data names no inner message and is kept only raw.
    const inner = { code: data[0]!, subcode: data[1]!, data: data.slice(2) };
    msg.hardReset = inner;
    if (carriesShutdownText(inner.code, inner.subcode)) {
      const text = parseShutdownText(inner.data);
      if (text !== undefined) msg.shutdownText = text;
    }
  }
  return msg;
}

/**
 * Encode a NOTIFICATION body. `data` is sent as is; when it is empty and a
 * `shutdownText` is given for Cease 2 or 4, the RFC 9003 data is built from it.
 */
export function encodeNotificationBody(w: Writer, msg: NotificationMessage, _ctx?: CodecContext): void {
  w.u8(msg.code).u8(msg.subcode);
  if (msg.data.length === 0 && msg.shutdownText !== undefined && carriesShutdownText(msg.code, msg.subcode)) {
    w.bytes(shutdownData(msg.shutdownText).data);
  } else {
    w.bytes(msg.data);
  }
}
