/**
 * MP_REACH_NLRI (type 14), optional non-transitive. RFC 4760 §3, §7;
 * RFC 2545 §3 (IPv6 next hop: global, or global + link-local);
 * RFC 8950 §3 (IPv4 NLRI with an IPv6 next hop); RFC 7911 §3 (path ids);
 * RFC 7606 §5.3, §7.11.
 *
 *   +---------------------------------------------------------+
 *   | Address Family Identifier (2 octets)                    |
 *   | Subsequent Address Family Identifier (1 octet)          |
 *   | Length of Next Hop Network Address (1 octet)            |
 *   | Network Address of Next Hop (variable)                  |
 *   | Reserved (1 octet)                                      |
 *   | Network Layer Reachability Information (variable)       |
 *   +---------------------------------------------------------+
 *
 * Errors here cannot be contained to some routes: the next hop precedes the
 * NLRI, so a bad length hides where the NLRI start. They are reported as a
 * FamilyError with action 'afi-safi-disable' (RFC 7606 §7.11, RFC 4760 §7),
 * or thrown as session-reset when even the AFI/SAFI cannot be read.
 */
import { Afi, AttrType, ErrCode, UpdateSub } from '../iana.js';
import { BgpError } from '../errors.js';
import { familyKey, type CodecContext } from '../context.js';
import { decodeNlriList, formatIPv4, formatIPv6, parseAddress, type Nlri } from '../prefix.js';
import { Reader } from '../reader.js';
import type { Writer } from '../writer.js';
import type { PathAttributes } from '../types.js';
import { FamilyError, OPTIONAL, beginAttr, endAttr, type AttrCodec, type DecodeState } from './codec.js';

/** Families whose NLRI herald can parse: IPv4/IPv6 unicast and multicast. */
export const isSupportedFamily = (afi: number, safi: number): boolean =>
  (afi === Afi.IPv4 || afi === Afi.IPv6) && (safi === 1 || safi === 2);

/** Make the afi-safi-disable error for a malformed MP attribute (RFC 7606 §7.11). */
export function familyFault(afi: number, safi: number, message: string): FamilyError {
  return new FamilyError(afi, safi, UpdateSub.OptionalAttributeError, message, new Uint8Array(0), 'afi-safi-disable');
}

/**
 * Read the NLRI of an MP attribute. RFC 7606 §5.3: a prefix length past the
 * family maximum or an overrun makes the field syntactically incorrect; in an
 * MP attribute that is handled as AFI/SAFI disable (§7.11, §7.12).
 */
export function decodeMpNlri(r: Reader, afi: Afi, safi: number, addPath: boolean, what: string): Nlri[] {
  const win = new Reader(r.buf, { code: ErrCode.UpdateMessage, subcode: UpdateSub.OptionalAttributeError, what }, r.pos, r.end);
  r.pos = r.end;
  try {
    return decodeNlriList(win, afi, addPath);
  } catch (e) {
    if (e instanceof BgpError) throw familyFault(afi, safi, `${what}: ${e.message}`);
    throw e;
  }
}

/** Write one NLRI entry (path id first when ADD-PATH applies), without per-entry allocation. */
export function writeNlriEntry(w: Writer, n: Nlri, addPath: boolean): void {
  if (addPath) w.u32(n.pathId ?? 0);
  const p = n.prefix;
  w.u8(p.len);
  const k = (p.len + 7) >> 3;
  const a = p.addr;
  for (let i = 0; i < k; i++) w.u8(a[i]!);
}

/** Bytes one NLRI entry takes on the wire. */
export const nlriEntrySize = (n: Nlri, addPath: boolean): number => (addPath ? 5 : 1) + ((n.prefix.len + 7) >> 3);

/**
 * Write AFI, SAFI, next hop and the reserved octet: the part of MP_REACH_NLRI
 * that a batch of announcements shares.
 */
export function writeMpReachHead(w: Writer, afi: number, safi: number, nextHops: readonly string[]): void {
  w.u16(afi).u8(safi);
  const at = w.reserve8();
  for (const nh of nextHops) {
    const a = parseAddress(nh);
    if (!a) throw new RangeError(`MP_REACH_NLRI: bad next hop ${nh}`);
    w.bytes(a.addr);
  }
  w.fill8(at);
  w.u8(0); // RFC 4760 §3: Reserved, "MUST be set to 0"
}

/** Check the next hop length against the family (RFC 4760 §3, RFC 2545 §3, RFC 8950 §3). */
function nextHopLengthOk(afi: number, safi: number, n: number, ctx: CodecContext): boolean {
  if (afi === Afi.IPv6) return n === 16 || n === 32;
  if (n === 4) return true;
  return (n === 16 || n === 32) && ctx.extendedNextHop.has(familyKey(afi, safi));
}

export const mpReachCodec: AttrCodec = {
  type: AttrType.MP_REACH_NLRI,
  name: 'MP_REACH_NLRI',
  label: 'mp-reach',
  flags: OPTIONAL,
  decode(r: Reader, st: DecodeState): void {
    if (r.remaining < 3) {
      // No AFI/SAFI to disable: RFC 7606 §7.11 leaves "session reset".
      throw new BgpError(ErrCode.UpdateMessage, UpdateSub.OptionalAttributeError, `MP_REACH_NLRI of ${r.remaining} bytes`);
    }
    const afi = r.u16();
    const safi = r.u8();
    if (!isSupportedFamily(afi, safi)) throw familyFault(afi, safi, `MP_REACH_NLRI for unsupported family ${afi}/${safi}`);
    const nhLen = r.remaining > 0 ? r.u8() : -1;
    // RFC 7606 §7.11: "If the Length of Next Hop Network Address field of the
    // MP_REACH attribute is inconsistent with that which was expected, the
    // attribute is considered malformed" ... "the 'session reset' approach or
    // the 'AFI/SAFI disable' approach MUST be used."
    if (nhLen < 0 || !nextHopLengthOk(afi, safi, nhLen, st.ctx) || r.remaining < nhLen + 1) {
      throw familyFault(afi, safi, `MP_REACH_NLRI next hop length ${nhLen} for ${afi}/${safi}`);
    }
    const nh = r.bytes(nhLen);
    const nextHops =
      nhLen === 4 ? [formatIPv4(nh)] : nhLen === 16 ? [formatIPv6(nh)] : [formatIPv6(nh), formatIPv6(nh, 16)];
    r.u8(); // RFC 4760 §3: Reserved, "SHOULD be ignored upon receipt"
    const fam = afi as Afi;
    const nlri = decodeMpNlri(r, fam, safi, st.ctx.addPathReceive.has(familyKey(afi, safi)), 'MP_REACH_NLRI');
    st.attrs.mpReach = { afi: fam, safi, nextHops, nlri };
  },
  encode(w: Writer, a: PathAttributes, ctx: CodecContext): void {
    const m = a.mpReach;
    if (m === undefined) return;
    const addPath = ctx.addPathSend.has(familyKey(m.afi, m.safi));
    const at = beginAttr(w, OPTIONAL, AttrType.MP_REACH_NLRI);
    writeMpReachHead(w, m.afi, m.safi, m.nextHops);
    for (const n of m.nlri) writeNlriEntry(w, n, addPath);
    endAttr(w, at);
  },
  format(a: PathAttributes): string | undefined {
    const m = a.mpReach;
    return m === undefined ? undefined : `${m.afi}/${m.safi} via ${m.nextHops.join(' ')}, ${m.nlri.length} nlri`;
  },
};
