/**
 * OPEN message body: syntax only (RFC 4271 §4.2; RFC 5492 §4 capabilities;
 * RFC 9072 §2 extended optional parameters length).
 *
 *   +-+-+-+-+-+-+-+-+
 *   |    Version    |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |     My Autonomous System      |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |           Hold Time           |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                         BGP Identifier                        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   | Opt Parm Len  |  Optional Parameters: Type(1) Length(1) Value |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * RFC 9072 form, used when the parameters do not fit 255 octets:
 *
 *   | Non-Ext OP Len = 255 | Non-Ext OP Type = 255 | Ext. Opt. Parm. Length (2) |
 *   | Optional Parameters: Type(1) Length(2) Value ...                        |
 *
 * Meaning (version, peer AS, hold time 1 or 2, BGP Identifier, required
 * capabilities, unknown parameter types) is checked by bgp/session, not here
 * (STYLE.md §3): parameters of types other than 2 are returned in
 * `otherParams` for the session to refuse with Unsupported Optional Parameter.
 */
import { BgpError } from '../errors.js';
import { ErrCode, OpenSub, OptParam } from '../iana.js';
import { formatIPv4, parseIPv4 } from '../prefix.js';
import type { Reader, ShortError } from '../reader.js';
import type { CodecContext } from '../context.js';
import type { OpenMessage } from '../types.js';
import { Writer } from '../writer.js';
import { encodeCapabilities, readCapabilities } from '../capabilities/index.js';
import { CAP_SHORT } from '../capabilities/codec.js';

/** A truncated OPEN field or optional parameter (RFC 4271 §6.2, subcode 0). */
const OPEN_SHORT: ShortError = { code: ErrCode.OpenMessage, subcode: OpenSub.Unspecific, what: 'OPEN field' };

/** RFC 4271 §4.2: "This 1-octet unsigned integer indicates the protocol version number of the message. The current BGP version number is 4." */
export const BGP_VERSION = 4;

function openError(message: string): BgpError {
  return new BgpError(ErrCode.OpenMessage, OpenSub.Unspecific, message);
}

/** Decode an OPEN body (the bytes after the 19-octet header). */
export function decodeOpenBody(body: Reader, _ctx?: CodecContext): OpenMessage {
  const r = body.sub(body.remaining, OPEN_SHORT);
  const version = r.u8('version');
  const myAs = r.u16('my autonomous system');
  const holdTime = r.u16('hold time');
  const bgpId = formatIPv4(r.bytes(4, 'BGP identifier'));
  const optLen = r.u8('optional parameters length');

  // RFC 9072 §2: a Non-Ext OP Type of 255 (a parameter type RFC 9072 reserves
  // for this purpose) means a 2-octet Extended Optional Parameters Length
  // follows and every parameter then has a 2-octet length.
  let extended = false;
  let params: Reader;
  if (optLen > 0 && r.remaining > 0 && r.buf[r.pos] === OptParam.ExtendedLength) {
    r.u8();
    extended = true;
    params = r.sub(r.u16('extended optional parameters length'), OPEN_SHORT, 'optional parameters');
  } else {
    params = r.sub(optLen, OPEN_SHORT, 'optional parameters');
  }
  // The optional parameters end the message; bytes after them mean the length
  // fields disagree, which is as malformed as running short.
  if (!r.atEnd) throw openError(`${r.remaining} octets after the optional parameters`);

  const out: OpenMessage = { type: 'open', version, myAs, holdTime, bgpId, capabilities: [], otherParams: [] };
  while (!params.atEnd) {
    const type = params.u8('parameter type');
    const len = extended ? params.u16('parameter length') : params.u8('parameter length');
    const v = params.sub(len, OPEN_SHORT, `optional parameter ${type}`);
    if (type === OptParam.Capabilities) {
      // RFC 5492 §4: the Capabilities Optional Parameter (type 2) holds one or
      // more <code, length, value> triples; a speaker may send several such
      // parameters, and their capabilities are concatenated.
      const caps = v.sub(v.remaining, CAP_SHORT);
      out.capabilities.push(...readCapabilities(caps));
    } else {
      out.otherParams.push({ type, value: v.rest().slice() });
    }
  }
  return out;
}

/**
 * Encode an OPEN body. All capabilities go into one Capabilities parameter
 * (as BIRD does); the RFC 9072 form is used only when the parameters would
 * not fit the 1-octet lengths.
 */
export function encodeOpenBody(w: Writer, msg: OpenMessage, _ctx?: CodecContext): void {
  const id = parseIPv4(msg.bgpId);
  if (!id) throw new RangeError(`BGP identifier ${msg.bgpId} is not a dotted quad`);
  w.u8(msg.version).u16(msg.myAs).u16(msg.holdTime).bytes(id);

  const params: { type: number; value: Uint8Array }[] = [];
  if (msg.capabilities.length > 0) params.push({ type: OptParam.Capabilities, value: encodeCapabilities(msg.capabilities) });
  params.push(...msg.otherParams);

  const shortTotal = params.reduce((n, p) => n + 2 + p.value.length, 0);
  // A parameter of type 255 cannot come first in the RFC 4271 form: a
  // receiver reads that octet as RFC 9072's Non-Ext OP Type marker.
  const fitsShort = shortTotal <= 255 && params.every((p) => p.value.length <= 255) && params[0]?.type !== OptParam.ExtendedLength;
  if (fitsShort) {
    // RFC 9072 §2: the extended encoding is for parameters longer than 255
    // octets; shorter ones use the RFC 4271 encoding unchanged.
    w.u8(shortTotal);
    for (const p of params) w.u8(p.type).u8(p.value.length).bytes(p.value);
    return;
  }
  // RFC 9072 §2: Non-Ext OP Len and Non-Ext OP Type are both set to 255.
  w.u8(255).u8(OptParam.ExtendedLength);
  const at = w.reserve16();
  for (const p of params) {
    if (p.value.length > 0xffff) throw new RangeError(`optional parameter ${p.type} longer than 65535 octets`);
    w.u8(p.type).u16(p.value.length).bytes(p.value);
  }
  w.fill16(at);
}
