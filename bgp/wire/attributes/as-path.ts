/**
 * AS_PATH (type 2), well-known mandatory. RFC 4271 §4.3 (b), §5.1.2;
 * RFC 6793 §4 (2- or 4-octet AS numbers per the negotiated context);
 * RFC 5065 §3 (confederation segments); RFC 7606 §7.2.
 *
 *   +--------------+--------------+----------------------------------+
 *   | Seg type (1) | Seg len (1)  | Seg len AS numbers (2 or 4 each) |
 *   +--------------+--------------+----------------------------------+
 *   ... repeated until the attribute ends (an empty AS_PATH is valid).
 *
 * When the peer is a 2-octet speaker, AS numbers above 65535 are written as
 * AS_TRANS here and the real path goes in AS4_PATH (see as4-path.ts).
 */
import { AS_TRANS, AsPathSegType, AttrType, UpdateSub } from '../iana.js';
import type { ErrorAction } from '../errors.js';
import type { CodecContext } from '../context.js';
import type { Reader } from '../reader.js';
import type { Writer } from '../writer.js';
import type { AsPathSegment, PathAttributes } from '../types.js';
import { WELL_KNOWN, attrFault, beginAttr, endAttr, type AttrCodec, type DecodeState } from './codec.js';

/** RFC 4271 §4.3: a segment holds at most 255 AS numbers (1-octet count). */
const MAX_SEG = 255;

const isConfed = (t: number): boolean => t === AsPathSegType.AS_CONFED_SEQUENCE || t === AsPathSegType.AS_CONFED_SET;

/**
 * Decode AS path segments from the value window. RFC 7606 §7.2: a segment is
 * malformed on an overrun past the attribute, a single octet left over, a
 * zero Path Segment Length, or an unrecognized segment type.
 */
export function decodeSegments(r: Reader, width: 2 | 4, name: string, action: ErrorAction): AsPathSegment[] {
  const segs: AsPathSegment[] = [];
  const bad = (why: string) => attrFault(UpdateSub.MalformedAsPath, action, `${name}: ${why}`);
  while (!r.atEnd) {
    if (r.remaining < 2) throw bad('single octet left after the last segment');
    const type = r.u8();
    const n = r.u8();
    if (type < AsPathSegType.AS_SET || type > AsPathSegType.AS_CONFED_SET) throw bad(`segment type ${type}`);
    if (n === 0) throw bad('segment length 0');
    if (n * width > r.remaining) throw bad(`segment of ${n} AS numbers overruns the attribute`);
    const asns = new Array<number>(n);
    if (width === 4) for (let i = 0; i < n; i++) asns[i] = r.u32();
    else for (let i = 0; i < n; i++) asns[i] = r.u16();
    segs.push({ type: type as AsPathSegType, asns });
  }
  return segs;
}

/**
 * Write segments with `width`-octet AS numbers, splitting any segment over 255
 * numbers. With width 2, numbers above 65535 become AS_TRANS (RFC 6793 §4.2.2).
 */
export function encodeSegments(w: Writer, segs: readonly AsPathSegment[], width: 2 | 4, skipConfed = false): void {
  for (const s of segs) {
    if (skipConfed && isConfed(s.type)) continue;
    const asns = s.asns;
    for (let off = 0; off < asns.length; off += MAX_SEG) {
      const end = Math.min(asns.length, off + MAX_SEG);
      w.u8(s.type).u8(end - off);
      if (width === 4) for (let i = off; i < end; i++) w.u32(asns[i]!);
      else for (let i = off; i < end; i++) w.u16(asns[i]! > 0xffff ? AS_TRANS : asns[i]!);
    }
  }
}

/** True when any AS number outside confederation segments needs 4 octets. */
export function needsAs4(segs: readonly AsPathSegment[]): boolean {
  for (const s of segs) {
    if (isConfed(s.type)) continue;
    for (const a of s.asns) if (a > 0xffff) return true;
  }
  return false;
}

/**
 * Count a path's length as RFC 4271 §9.1.2.2 (a) does: an AS_SET counts 1,
 * confederation segments count 0 (RFC 5065 §5.3); used by RFC 6793 §4.2.3.
 */
export function asPathLength(segs: readonly AsPathSegment[]): number {
  let n = 0;
  for (const s of segs) {
    if (s.type === AsPathSegType.AS_SEQUENCE) n += s.asns.length;
    else if (s.type === AsPathSegType.AS_SET) n += 1;
  }
  return n;
}

/** Render segments the usual way: sequence plain, {set}, (confed seq), [confed set]. */
export function formatAsPath(segs: readonly AsPathSegment[]): string {
  return segs
    .map((s) => {
      switch (s.type) {
        case AsPathSegType.AS_SEQUENCE:
          return s.asns.join(' ');
        case AsPathSegType.AS_SET:
          return `{${s.asns.join(',')}}`;
        case AsPathSegType.AS_CONFED_SEQUENCE:
          return `(${s.asns.join(' ')})`;
        default:
          return `[${s.asns.join(',')}]`;
      }
    })
    .join(' ');
}

export const asPathCodec: AttrCodec = {
  type: AttrType.AS_PATH,
  name: 'AS_PATH',
  label: 'as-path',
  flags: WELL_KNOWN,
  decode(r: Reader, st: DecodeState): void {
    // RFC 7606 §7.2: "An UPDATE message with a malformed AS_PATH attribute
    // SHALL be handled using the approach of 'treat-as-withdraw'."
    st.attrs.asPath = decodeSegments(r, st.ctx.as4 ? 4 : 2, 'AS_PATH', 'treat-as-withdraw');
  },
  encode(w: Writer, a: PathAttributes, ctx: CodecContext): void {
    if (a.asPath === undefined) return;
    const at = beginAttr(w, WELL_KNOWN, AttrType.AS_PATH);
    encodeSegments(w, a.asPath, ctx.as4 ? 4 : 2);
    endAttr(w, at);
  },
  format(a: PathAttributes): string | undefined {
    return a.asPath === undefined ? undefined : formatAsPath(a.asPath);
  },
};
