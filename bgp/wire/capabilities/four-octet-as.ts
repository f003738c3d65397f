/**
 * Support for 4-octet AS Number capability, code 65 (RFC 6793 §3).
 *
 *   +-------+-------+-------+-------+
 *   |   4-octet AS number (u32)     |
 *   +-------+-------+-------+-------+
 */
import { CapCode } from '../iana.js';
import { expectLength, type CapabilityCodec } from './codec.js';

export const fourOctetAs: CapabilityCodec<'four-octet-as'> = {
  code: CapCode.FourOctetAs,
  kind: 'four-octet-as',
  decode(r) {
    // RFC 6793 §3: the capability value is the 4-octet AS number, length 4.
    expectLength(r, 4, 'Four-octet AS');
    return { code: CapCode.FourOctetAs, kind: 'four-octet-as', asn: r.u32() };
  },
  encode(w, cap) {
    w.u32(cap.asn);
  },
};
