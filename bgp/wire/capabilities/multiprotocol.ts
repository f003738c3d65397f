/**
 * Multiprotocol Extensions capability, code 1 (RFC 4760 §8).
 *
 *   +-------+-------+-------+-------+
 *   |      AFI      | Res.  | SAFI  |
 *   +-------+-------+-------+-------+
 */
import { CapCode } from '../iana.js';
import { expectLength, type CapabilityCodec } from './codec.js';

export const multiprotocol: CapabilityCodec<'multiprotocol'> = {
  code: CapCode.Multiprotocol,
  kind: 'multiprotocol',
  decode(r) {
    expectLength(r, 4, 'Multiprotocol');
    const afi = r.u16();
    // RFC 4760 §8: "Res. - Reserved (8 bit) field. SHOULD be set to 0 by the
    // sender and ignored by the receiver."
    r.u8();
    const safi = r.u8();
    return { code: CapCode.Multiprotocol, kind: 'multiprotocol', afi, safi };
  },
  encode(w, cap) {
    w.u16(cap.afi).u8(0).u8(cap.safi);
  },
};
