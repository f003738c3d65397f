/**
 * ORIGIN (type 1), well-known mandatory. RFC 4271 §4.3 (a), §5.1.1;
 * RFC 7606 §7.1.
 *
 *   +----------------+
 *   | Origin (1)     |   0 IGP, 1 EGP, 2 INCOMPLETE
 *   +----------------+
 */
import { AttrType, Origin, UpdateSub } from '../iana.js';
import type { Reader } from '../reader.js';
import type { Writer } from '../writer.js';
import type { PathAttributes } from '../types.js';
import { WELL_KNOWN, attrFault, lengthFault, type AttrCodec, type DecodeState } from './codec.js';

const NAMES = ['igp', 'egp', 'incomplete'] as const;

export const originCodec: AttrCodec = {
  type: AttrType.ORIGIN,
  name: 'ORIGIN',
  label: 'origin',
  flags: WELL_KNOWN,
  decode(r: Reader, st: DecodeState): void {
    // RFC 7606 §7.1: "The attribute is considered malformed if its length is
    // not 1 or if it has an undefined value" ... "SHALL be handled using the
    // approach of 'treat-as-withdraw'".
    if (r.remaining !== 1) throw lengthFault('ORIGIN', r.remaining, '1', 'treat-as-withdraw');
    const v = r.u8();
    if (v > Origin.INCOMPLETE) throw attrFault(UpdateSub.InvalidOriginAttribute, 'treat-as-withdraw', `ORIGIN value ${v}`);
    st.attrs.origin = v as Origin;
  },
  encode(w: Writer, a: PathAttributes): void {
    if (a.origin === undefined) return;
    w.u8(WELL_KNOWN).u8(AttrType.ORIGIN).u8(1).u8(a.origin);
  },
  format(a: PathAttributes): string | undefined {
    return a.origin === undefined ? undefined : (NAMES[a.origin] ?? String(a.origin));
  },
};
