/**
 * AS4_PATH (type 17), optional transitive: the 4-octet AS path that rides
 * beside a 2-octet AS_PATH when the peer is an OLD (2-octet) speaker.
 * RFC 6793 §3, §4.2.2 (sending), §4.2.3 (reconstructing), §6 (errors).
 *
 *   +--------------+--------------+---------------------------+
 *   | Seg type (1) | Seg len (1)  | Seg len AS numbers (4 ea) |
 *   +--------------+--------------+---------------------------+
 *
 * The model keeps only the true path in `asPath`; on encode to an OLD speaker
 * AS4_PATH is derived from it, so `as4Path` is informational on decode.
 */
import { AsPathSegType, AttrType, UpdateSub } from '../iana.js';
import type { CodecContext } from '../context.js';
import type { Reader } from '../reader.js';
import type { Writer } from '../writer.js';
import type { AsPathSegment, PathAttributes } from '../types.js';
import { OPTIONAL_TRANSITIVE, attrFault, beginAttr, endAttr, type AttrCodec, type DecodeState } from './codec.js';
import { asPathLength, decodeSegments, encodeSegments, formatAsPath, needsAs4 } from './as-path.js';

const isConfed = (t: number): boolean => t === AsPathSegType.AS_CONFED_SEQUENCE || t === AsPathSegType.AS_CONFED_SET;

/**
 * Merge AS_PATH and AS4_PATH per RFC 6793 §4.2.3: "If the number of AS
 * numbers in the AS_PATH attribute is less than the number of AS numbers in
 * the AS4_PATH attribute, then the AS4_PATH attribute SHALL be ignored" ...
 * otherwise the path is built "by taking as many AS numbers and path segments
 * as necessary from the leading part of the AS_PATH attribute, and then
 * prepending them to the AS4_PATH attribute so that the AS path information
 * has a number of AS numbers identical to that of the AS_PATH attribute."
 * Confederation segments count zero and are carried along when leading or
 * adjacent to what is taken.
 */
export function reconstructAsPath(asPath: readonly AsPathSegment[], as4Path: readonly AsPathSegment[]): AsPathSegment[] {
  const n2 = asPathLength(asPath);
  const n4 = asPathLength(as4Path);
  if (n2 < n4) return asPath.map((s) => ({ type: s.type, asns: [...s.asns] }));
  let need = n2 - n4;
  const out: AsPathSegment[] = [];
  for (const s of asPath) {
    if (isConfed(s.type)) {
      out.push({ type: s.type, asns: [...s.asns] });
      continue;
    }
    if (need === 0) break;
    if (s.type === AsPathSegType.AS_SET) {
      out.push({ type: s.type, asns: [...s.asns] });
      need -= 1;
    } else {
      const take = Math.min(need, s.asns.length);
      out.push({ type: s.type, asns: s.asns.slice(0, take) });
      need -= take;
    }
  }
  for (const s of as4Path) {
    const last = out[out.length - 1];
    // Join the cut sequence with AS4_PATH's leading sequence: one path, one segment.
    if (last && last.type === AsPathSegType.AS_SEQUENCE && s.type === AsPathSegType.AS_SEQUENCE && last.asns.length + s.asns.length <= 255) {
      last.asns.push(...s.asns);
    } else {
      out.push({ type: s.type, asns: [...s.asns] });
    }
  }
  return out;
}

export const as4PathCodec: AttrCodec = {
  type: AttrType.AS4_PATH,
  name: 'AS4_PATH',
  label: 'as4-path',
  flags: OPTIONAL_TRANSITIVE,
  decode(r: Reader, st: DecodeState): void {
    // RFC 6793 §6: a malformed AS4_PATH is discarded ("attribute discard")
    // and the UPDATE processed further.
    const segs = decodeSegments(r, 4, 'AS4_PATH', 'attribute-discard');
    // RFC 6793 §6: AS_CONFED_SEQUENCE and AS_CONFED_SET "are declared invalid
    // for the AS4_PATH attribute"; a NEW speaker "MUST discard these path
    // segments" and continue processing.
    const kept = segs.filter((s) => !isConfed(s.type));
    if (kept.length !== segs.length) {
      st.errors.push(attrFault(UpdateSub.MalformedAsPath, 'attribute-discard', 'AS4_PATH: confederation segments discarded'));
    }
    // RFC 6793 §6: a NEW speaker receiving AS4_PATH from a NEW speaker
    // discards it; it is only meaningful beside a 2-octet AS_PATH.
    if (!st.ctx.as4) st.attrs.as4Path = kept;
  },
  encode(w: Writer, a: PathAttributes, ctx: CodecContext): void {
    // RFC 6793 §4.2.2: toward an OLD speaker, when the path holds a 4-octet
    // AS number, send AS4_PATH with the path minus confederation segments.
    // A NEW speaker "MUST NOT" send AS4_PATH to a NEW speaker (§4.1).
    if (ctx.as4 || a.asPath === undefined || !needsAs4(a.asPath)) return;
    const at = beginAttr(w, OPTIONAL_TRANSITIVE, AttrType.AS4_PATH);
    encodeSegments(w, a.asPath, 4, true);
    endAttr(w, at);
  },
  format(a: PathAttributes): string | undefined {
    return a.as4Path === undefined ? undefined : formatAsPath(a.as4Path);
  },
};
