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
import { formatIPv4 } from '../prefix.js';
import type { Reader } from '../reader.js';
import type { Writer } from '../writer.js';
import type { PathAttributes } from '../types.js';
import { OPTIONAL_TRANSITIVE, beginAttr, endAttr, lengthFault, type AttrCodec, type DecodeState } from './codec.js';

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** Render one extended community: "rt 65000:1", "soo 192.0.2.1:7", else hex. */
export function formatExtendedCommunity(b: Uint8Array): string {
  const type = b[0]! & 0xbf; // ignore the transitive bit (RFC 4360 §2)
  const sub = b[1]!;
  const kind = sub === 0x02 ? 'rt' : sub === 0x03 ? 'soo' : undefined;
  const u16 = (i: number) => (b[i]! << 8) | b[i + 1]!;
  const u32 = (i: number) => b[i]! * 0x1000000 + ((b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!);
  if (kind && type === 0x00) return `${kind} ${u16(2)}:${u32(4)}`; // 2-octet AS specific
  if (kind && type === 0x01) return `${kind} ${formatIPv4(b, 2)}:${u16(6)}`; // IPv4 address specific
  if (kind && type === 0x02) return `${kind} ${u32(2)}:${u16(6)}`; // 4-octet AS specific (RFC 5668)
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
