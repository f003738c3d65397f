/**
 * NEXT_HOP (type 3), well-known; mandatory when the UPDATE carries IPv4 NLRI
 * in its body (RFC 4760 makes it discretionary otherwise). RFC 4271 §5.1.3,
 * §6.3; RFC 7606 §7.3.
 *
 *   +--------------------------+
 *   | IPv4 address (4 octets)  |
 *   +--------------------------+
 */
import { AttrType, UpdateSub } from '../iana.js';
import { formatIPv4, parseIPv4 } from '../prefix.js';
import type { Reader } from '../reader.js';
import type { Writer } from '../writer.js';
import type { PathAttributes } from '../types.js';
import { WELL_KNOWN, attrFault, lengthFault, type AttrCodec, type DecodeState } from './codec.js';

/** Parse a dotted-quad next hop for encoding; a bad one is a programming error, not a peer's. */
export function ipv4Bytes(s: string, what: string): Uint8Array {
  const b = parseIPv4(s);
  if (!b) throw new RangeError(`${what}: not an IPv4 address: ${s}`);
  return b;
}

export const nextHopCodec: AttrCodec = {
  type: AttrType.NEXT_HOP,
  name: 'NEXT_HOP',
  label: 'next-hop',
  flags: WELL_KNOWN,
  decode(r: Reader, st: DecodeState): void {
    // RFC 7606 §7.3: "The attribute is considered malformed if its length is
    // not 4" ... "SHALL be handled using the approach of 'treat-as-withdraw'".
    if (r.remaining !== 4) throw lengthFault('NEXT_HOP', r.remaining, '4', 'treat-as-withdraw');
    const b = r.bytes(4);
    // RFC 4271 §6.3: "If the NEXT_HOP attribute field is syntactically
    // incorrect, then the Error Subcode MUST be set to Invalid NEXT_HOP
    // Attribute." herald takes 0.0.0.0 and 224.0.0.0/3 (multicast, class E,
    // broadcast) as syntactically incorrect; RFC 7606 §2 turns the reset into
    // treat-as-withdraw, since only these routes are affected.
    if ((b[0] === 0 && b[1] === 0 && b[2] === 0 && b[3] === 0) || b[0]! >= 224) {
      throw attrFault(UpdateSub.InvalidNextHopAttribute, 'treat-as-withdraw', `NEXT_HOP ${formatIPv4(b)}`);
    }
    st.attrs.nextHop = formatIPv4(b);
  },
  encode(w: Writer, a: PathAttributes): void {
    if (a.nextHop === undefined) return;
    w.u8(WELL_KNOWN).u8(AttrType.NEXT_HOP).u8(4).bytes(ipv4Bytes(a.nextHop, 'NEXT_HOP'));
  },
  format(a: PathAttributes): string | undefined {
    return a.nextHop;
  },
};
