/**
 * LOCAL_PREF (type 5), well-known; iBGP only. RFC 4271 §5.1.5; RFC 7606 §7.5.
 *
 *   +--------------------------+
 *   | Local preference (4)     |
 *   +--------------------------+
 */
import { AttrType } from '../iana.js';
import type { CodecContext } from '../context.js';
import type { Reader } from '../reader.js';
import type { Writer } from '../writer.js';
import type { PathAttributes } from '../types.js';
import { WELL_KNOWN, lengthFault, writeU32Attr, type AttrCodec, type DecodeState } from './codec.js';

export const localPrefCodec: AttrCodec = {
  type: AttrType.LOCAL_PREF,
  name: 'LOCAL_PREF',
  label: 'local-pref',
  flags: WELL_KNOWN,
  decode(r: Reader, st: DecodeState): void {
    // RFC 7606 §7.5: malformed "if its length is not 4" ... "treat-as-withdraw".
    if (r.remaining !== 4) throw lengthFault('LOCAL_PREF', r.remaining, '4', 'treat-as-withdraw');
    const v = r.u32();
    // RFC 7606 §7.5 / RFC 4271 §5.1.5: received from an external peer, the
    // attribute "SHALL be discarded" (herald has no confederations).
    if (st.ctx.ibgp) st.attrs.localPref = v;
  },
  encode(w: Writer, a: PathAttributes, ctx: CodecContext): void {
    // RFC 4271 §5.1.5: "A BGP speaker MUST NOT include this attribute in
    // UPDATE messages it sends to external peers".
    if (a.localPref !== undefined && ctx.ibgp) writeU32Attr(w, WELL_KNOWN, AttrType.LOCAL_PREF, a.localPref);
  },
  format(a: PathAttributes): string | undefined {
    return a.localPref === undefined ? undefined : String(a.localPref);
  },
};
