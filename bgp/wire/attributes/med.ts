/**
 * MULTI_EXIT_DISC (type 4), optional non-transitive. RFC 4271 §5.1.4;
 * RFC 7606 §7.4.
 *
 *   +--------------------------+
 *   | MED (4 octets)           |
 *   +--------------------------+
 */
import { AttrType } from '../iana.js';
import type { Reader } from '../reader.js';
import type { Writer } from '../writer.js';
import type { PathAttributes } from '../types.js';
import { OPTIONAL, lengthFault, writeU32Attr, type AttrCodec, type DecodeState } from './codec.js';

export const medCodec: AttrCodec = {
  type: AttrType.MULTI_EXIT_DISC,
  name: 'MULTI_EXIT_DISC',
  label: 'med',
  flags: OPTIONAL,
  decode(r: Reader, st: DecodeState): void {
    // RFC 7606 §7.4: malformed "if its length is not 4" ... "treat-as-withdraw".
    if (r.remaining !== 4) throw lengthFault('MULTI_EXIT_DISC', r.remaining, '4', 'treat-as-withdraw');
    st.attrs.med = r.u32();
  },
  encode(w: Writer, a: PathAttributes): void {
    if (a.med !== undefined) writeU32Attr(w, OPTIONAL, AttrType.MULTI_EXIT_DISC, a.med);
  },
  format(a: PathAttributes): string | undefined {
    return a.med === undefined ? undefined : String(a.med);
  },
};
