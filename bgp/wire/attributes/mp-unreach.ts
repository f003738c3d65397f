/**
 * MP_UNREACH_NLRI (type 15), optional non-transitive. RFC 4760 §4, §7;
 * RFC 7911 §3 (path ids); RFC 7606 §7.12; RFC 4724 §2 (an empty one is the
 * family's End-of-RIB marker).
 *
 *   +---------------------------------------------------------+
 *   | Address Family Identifier (2 octets)                    |
 *   | Subsequent Address Family Identifier (1 octet)          |
 *   | Withdrawn Routes (variable)                             |
 *   +---------------------------------------------------------+
 */
import { AttrType, ErrCode, UpdateSub, type Afi } from '../iana.js';
import { BgpError } from '../errors.js';
import { familyKey, type CodecContext } from '../context.js';
import type { Reader } from '../reader.js';
import type { Writer } from '../writer.js';
import type { PathAttributes } from '../types.js';
import { OPTIONAL, beginAttr, endAttr, type AttrCodec, type DecodeState } from './codec.js';
import { decodeMpNlri, familyFault, isSupportedFamily, writeNlriEntry } from './mp-reach.js';

export const mpUnreachCodec: AttrCodec = {
  type: AttrType.MP_UNREACH_NLRI,
  name: 'MP_UNREACH_NLRI',
  label: 'mp-unreach',
  flags: OPTIONAL,
  decode(r: Reader, st: DecodeState): void {
    if (r.remaining < 3) {
      // No AFI/SAFI to disable: RFC 7606 §7.12 leaves "session reset".
      throw new BgpError(ErrCode.UpdateMessage, UpdateSub.OptionalAttributeError, `MP_UNREACH_NLRI of ${r.remaining} bytes`);
    }
    const afi = r.u16();
    const safi = r.u8();
    if (!isSupportedFamily(afi, safi)) throw familyFault(afi, safi, `MP_UNREACH_NLRI for unsupported family ${afi}/${safi}`);
    const nlri = decodeMpNlri(r, afi as Afi, safi, st.ctx.addPathReceive.has(familyKey(afi, safi)), 'MP_UNREACH_NLRI');
    st.attrs.mpUnreach = { afi: afi as Afi, safi, nlri };
  },
  encode(w: Writer, a: PathAttributes, ctx: CodecContext): void {
    const m = a.mpUnreach;
    if (m === undefined) return;
    const addPath = ctx.addPathSend.has(familyKey(m.afi, m.safi));
    const at = beginAttr(w, OPTIONAL, AttrType.MP_UNREACH_NLRI);
    w.u16(m.afi).u8(m.safi);
    for (const n of m.nlri) writeNlriEntry(w, n, addPath);
    endAttr(w, at);
  },
  format(a: PathAttributes): string | undefined {
    const m = a.mpUnreach;
    return m === undefined ? undefined : `${m.afi}/${m.safi}, ${m.nlri.length} withdrawn`;
  },
};
