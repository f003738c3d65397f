/**
 * Extended Next Hop Encoding capability, code 5 (RFC 8950 §3).
 *
 *   +--------------------------------------------------------+
 *   | NLRI AFI - 1 (2 octets)                                |
 *   | NLRI SAFI - 1 (2 octets)                               |
 *   | Nexthop AFI - 1 (2 octets)                             |
 *   | ... repeated per triple                                |
 *   +--------------------------------------------------------+
 *
 * Every triple is kept, including ones herald has no use for (the session
 * decides which it accepts); note the SAFI here is 2 octets, unlike in the
 * Multiprotocol capability.
 */
import { CapCode } from '../iana.js';
import type { ExtNextHopEntry } from '../types.js';
import { expectMultiple, type CapabilityCodec } from './codec.js';

export const extendedNextHop: CapabilityCodec<'extended-next-hop'> = {
  code: CapCode.ExtendedNextHop,
  kind: 'extended-next-hop',
  decode(r) {
    // RFC 8950 §3: the value is a list of <NLRI AFI, NLRI SAFI, Nexthop AFI>
    // triples of 2 octets each, so its length is a multiple of 6.
    expectMultiple(r, 6, 'Extended Next Hop');
    const entries: ExtNextHopEntry[] = [];
    while (!r.atEnd) entries.push({ afi: r.u16(), safi: r.u16(), nextHopAfi: r.u16() });
    return { code: CapCode.ExtendedNextHop, kind: 'extended-next-hop', entries };
  },
  encode(w, cap) {
    for (const e of cap.entries) w.u16(e.afi).u16(e.safi).u16(e.nextHopAfi);
  },
};
