/**
 * EXTENDED_COMMUNITIES (type 16), optional transitive. RFC 4360 §2;
 * RFC 7606 §7.14.
 *
 *   +-----------+-----------+------------------------------+
 *   | Type (1)  | Subtype(1)| Value (6)                    |  x N
 *   +-----------+-----------+------------------------------+
 *
 * Communities stay 8 opaque bytes each; `formatExtendedCommunity` names the
 * common route-target and route-origin forms for display.
 */
import { AttrType } from '../iana.js';
import { formatIPv4, parseIPv4 } from '../prefix.js';
import { fail, u16, u32, type Checked } from './text.js';
import type { Reader } from '../reader.js';
import type { Writer } from '../writer.js';
import type { PathAttributes } from '../types.js';
import { OPTIONAL_TRANSITIVE, beginAttr, endAttr, lengthFault, type AttrCodec, type DecodeState } from './codec.js';

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/**
 * Parse an RFC 4360 extended community into its 8 bytes:
 * "rt:ASN:n" / "soo:ASN:n" (two-octet AS type 0x00, or RFC 5668 type 0x02 when
 * the AS needs four octets), "rt:192.0.2.1:n" (IPv4 type 0x01), or 16 hex digits.
 */
export function parseExtendedCommunity(text: string): Checked<Uint8Array> {
  const bad = fail(`extended community ${JSON.stringify(text)}: expected "rt:ASN:N", "soo:ASN:N", "rt:IPv4:N" or 16 hex digits`);
  if (typeof text !== 'string') return bad;
  const out = new Uint8Array(8);
  if (/^(0x)?[0-9a-fA-F]{16}$/.test(text)) {
    const hex = text.replace(/^0x/, '');
    for (let i = 0; i < 8; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
    return { ok: true, value: out };
  }
  const parts = text.split(':');
  if (parts.length !== 3) return bad;
  const kind = parts[0]!.toLowerCase();
  const subtype = kind === 'rt' ? 0x02 : kind === 'soo' ? 0x03 : -1; // RFC 4360 §4, §5
  if (subtype < 0) return bad;
  const dv = new DataView(out.buffer);
  const ip = parseIPv4(parts[1]!);
  if (ip) {
    const local = u16(parts[2]!);
    if (local === null) return bad;
    out[0] = 0x01; // RFC 4360 §3.2 IPv4 Address Specific
    out[1] = subtype;
    out.set(ip, 2);
    dv.setUint16(6, local);
    return { ok: true, value: out };
  }
  const asn = u32(parts[1]!);
  if (asn === null) return bad;
  if (asn <= 0xffff) {
    const local = u32(parts[2]!);
    if (local === null) return bad;
    out[0] = 0x00; // RFC 4360 §3.1 Two-Octet AS Specific
    out[1] = subtype;
    dv.setUint16(2, asn);
    dv.setUint32(4, local);
  } else {
    const local = u16(parts[2]!);
    if (local === null) return bad;
    out[0] = 0x02; // RFC 5668 §2 Four-Octet AS Specific
    out[1] = subtype;
    dv.setUint32(2, asn);
    dv.setUint16(6, local);
  }
  return { ok: true, value: out };
}


/**
 * Render one extended community: "rt:65000:1", "soo:192.0.2.1:7", else 0x
 * and 16 hex digits — the inverse of parseExtendedCommunity for the
 * transitive forms it writes.
 */
export function formatExtendedCommunity(b: Uint8Array): string {
  // Only the transitive types herald writes get names (RFC 4360 §2: the 0x40
  // bit marks a non-transitive type); anything else stays hex, so the text
  // always parses back to the same eight octets.
  const sub = b[1]!;
  const kind = sub === 0x02 ? 'rt' : sub === 0x03 ? 'soo' : undefined;
  const at16 = (i: number): number => (b[i]! << 8) | b[i + 1]!;
  const at32 = (i: number): number => b[i]! * 0x1000000 + ((b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!);
  if (kind && b[0] === 0x00) return `${kind}:${at16(2)}:${at32(4)}`; // 2-octet AS specific
  if (kind && b[0] === 0x01) return `${kind}:${formatIPv4(b, 2)}:${at16(6)}`; // IPv4 address specific
  if (kind && b[0] === 0x02) return `${kind}:${at32(2)}:${at16(6)}`; // 4-octet AS specific (RFC 5668)
  return `0x${hex(b)}`;
}

export const extendedCommunitiesCodec: AttrCodec = {
  type: AttrType.EXTENDED_COMMUNITIES,
  name: 'EXTENDED_COMMUNITIES',
  label: 'ext-communities',
  flags: OPTIONAL_TRANSITIVE,
  decode(r: Reader, st: DecodeState): void {
    // RFC 7606 §7.14: malformed "if its length is not a non-zero multiple of
    // 8" ... "treat-as-withdraw".
    const n = r.remaining;
    if (n === 0 || n % 8 !== 0) throw lengthFault('EXTENDED_COMMUNITIES', n, 'a non-zero multiple of 8', 'treat-as-withdraw');
    const out: Uint8Array[] = [];
    while (!r.atEnd) out.push(r.bytes(8).slice());
    st.attrs.extendedCommunities = out;
  },
  encode(w: Writer, a: PathAttributes): void {
    const cs = a.extendedCommunities;
    if (cs === undefined || cs.length === 0) return;
    const at = beginAttr(w, OPTIONAL_TRANSITIVE, AttrType.EXTENDED_COMMUNITIES);
    for (const c of cs) {
      if (c.length !== 8) throw new RangeError(`extended community of ${c.length} bytes`);
      w.bytes(c);
    }
    endAttr(w, at);
  },
  format(a: PathAttributes): string | undefined {
    return a.extendedCommunities === undefined ? undefined : a.extendedCommunities.map(formatExtendedCommunity).join(' ');
  },
};
