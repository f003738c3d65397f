/**
 * ADD-PATH capability, code 69 (RFC 7911 §4).
 *
 *   +------------------------------------------------+
 *   | Address Family Identifier (2 octets)           |
 *   | Subsequent Address Family Identifier (1 octet) |
 *   | Send/Receive (1 octet): 1 receive, 2 send, 3 both
 *   +------------------------------------------------+  ... repeated
 */
import { CapCode } from '../iana.js';
import type { AddPathFamily } from '../types.js';
import { expectMultiple, type CapabilityCodec } from './codec.js';

export const addPath: CapabilityCodec<'add-path'> = {
  code: CapCode.AddPath,
  kind: 'add-path',
  decode(r) {
    expectMultiple(r, 4, 'ADD-PATH');
    const families: AddPathFamily[] = [];
    while (!r.atEnd) {
      const afi = r.u16();
      const safi = r.u8();
      const sr = r.u8();
      // RFC 7911 §4 defines only 1, 2 and 3; it names no error for other
      // values, so such an entry is skipped (it offers nothing usable), the
      // way BIRD ignores an unknown Send/Receive value with a warning.
      if (sr === 1 || sr === 2 || sr === 3) families.push({ afi, safi, sendReceive: sr });
    }
    return { code: CapCode.AddPath, kind: 'add-path', families };
  },
  encode(w, cap) {
    for (const f of cap.families) w.u16(f.afi).u8(f.safi).u8(f.sendReceive);
  },
};
