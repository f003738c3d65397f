/**
 * FQDN (hostname) capability, code 73 (draft-walton-bgp-hostname-capability §3,
 * as sent by FRR and understood by BIRD and GoBGP).
 *
 *   +--------------------------------+
 *   | Hostname Length (1 octet)      |
 *   | Hostname (variable)            |
 *   | Domain Name Length (1 octet)   |
 *   | Domain Name (variable)         |
 *   +--------------------------------+
 */
import { CapCode } from '../iana.js';
import { capError, type CapabilityCodec } from './codec.js';

// Names are text for display only; a byte that is not UTF-8 becomes U+FFFD
// rather than failing the OPEN, since nothing herald does depends on it.
const utf8 = new TextDecoder('utf-8');
const enc = new TextEncoder();

export const fqdn: CapabilityCodec<'fqdn'> = {
  code: CapCode.Fqdn,
  kind: 'fqdn',
  decode(r) {
    const hostname = utf8.decode(r.bytes(r.u8('hostname length'), 'hostname'));
    const domain = utf8.decode(r.bytes(r.u8('domain name length'), 'domain name'));
    if (!r.atEnd) throw capError(`FQDN capability has ${r.remaining} trailing octets`);
    return { code: CapCode.Fqdn, kind: 'fqdn', hostname, domain };
  },
  encode(w, cap) {
    const h = enc.encode(cap.hostname);
    const d = enc.encode(cap.domain);
    if (h.length > 255 || d.length > 255) throw new RangeError('FQDN capability name longer than 255 octets');
    w.u8(h.length).bytes(h).u8(d.length).bytes(d);
  },
};
