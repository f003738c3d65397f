/**
 * ORIGINATOR_ID (type 9), optional non-transitive. RFC 4456 §8;
 * RFC 7606 §7.9.
 *
 *   +--------------------------+
 *   | Router ID (4 octets)     |
 *   +--------------------------+
 */
import { AttrType } from '../iana.js';
import { formatIPv4 } from '../prefix.js';
import type { Reader } from '../reader.js';
import type { Writer } from '../writer.js';
import type { PathAttributes } from '../types.js';
import { OPTIONAL, lengthFault, type AttrCodec, type DecodeState } from './codec.js';
import { ipv4Bytes } from './next-hop.js';

export const originatorIdCodec: AttrCodec = {
  type: AttrType.ORIGINATOR_ID,
  name: 'ORIGINATOR_ID',
  label: 'originator-id',
  flags: OPTIONAL,
  decode(r: Reader, st: DecodeState): void {
    // RFC 7606 §7.9: malformed "if its length is not 4" ... "treat-as-withdraw".
    if (r.remaining !== 4) throw lengthFault('ORIGINATOR_ID', r.remaining, '4', 'treat-as-withdraw');
    st.attrs.originatorId = formatIPv4(r.bytes(4));
  },
  encode(w: Writer, a: PathAttributes): void {
    if (a.originatorId === undefined) return;
    w.u8(OPTIONAL).u8(AttrType.ORIGINATOR_ID).u8(4).bytes(ipv4Bytes(a.originatorId, 'ORIGINATOR_ID'));
  },
  format(a: PathAttributes): string | undefined {
    return a.originatorId;
  },
};
