/**
 * ATOMIC_AGGREGATE (type 6), well-known discretionary, empty value.
 * RFC 4271 §5.1.6; RFC 7606 §7.6.
 *
 *   (no value: Attribute Length 0)
 */
import { AttrType } from '../iana.js';
import type { Reader } from '../reader.js';
import type { Writer } from '../writer.js';
import type { PathAttributes } from '../types.js';
import { WELL_KNOWN, lengthFault, type AttrCodec, type DecodeState } from './codec.js';

export const atomicAggregateCodec: AttrCodec = {
  type: AttrType.ATOMIC_AGGREGATE,
  name: 'ATOMIC_AGGREGATE',
  label: 'atomic-aggregate',
  flags: WELL_KNOWN,
  decode(r: Reader, st: DecodeState): void {
    // RFC 7606 §7.6: malformed "if its length is not 0" ... "SHALL be handled
    // using the approach of 'attribute discard'".
    if (r.remaining !== 0) throw lengthFault('ATOMIC_AGGREGATE', r.remaining, '0', 'attribute-discard');
    st.attrs.atomicAggregate = true;
  },
  encode(w: Writer, a: PathAttributes): void {
    if (a.atomicAggregate) w.u8(WELL_KNOWN).u8(AttrType.ATOMIC_AGGREGATE).u8(0);
  },
  format(a: PathAttributes): string | undefined {
    return a.atomicAggregate ? 'yes' : undefined;
  },
};
