/**
 * KEEPALIVE message (RFC 4271 §4.4): the header alone, 19 octets, no body.
 */
import type { CodecContext } from '../context.js';
import type { KeepaliveMessage } from '../types.js';
import type { Reader } from '../reader.js';
import type { Writer } from '../writer.js';

/** Decode a KEEPALIVE body; the header check already required length 19. */
export function decodeKeepaliveBody(_r: Reader, _ctx?: CodecContext): KeepaliveMessage {
  return { type: 'keepalive' };
}

/** Encode a KEEPALIVE body (nothing). */
export function encodeKeepaliveBody(_w: Writer, _msg: KeepaliveMessage, _ctx?: CodecContext): void {}
