/**
 * The Path Attributes field of an UPDATE, as a whole.
 *
 * Owns: walking the attribute list through the registry (registry.ts), the
 * list-level RFC 7606 rules (flag checks §3 (a), duplicates §3 (g), overruns
 * §4, missing mandatory attributes §3 (d)), unknown attributes (RFC 4271 §5,
 * §6.3), AS4_PATH/AS4_AGGREGATOR reconstruction (RFC 6793 §4.2.3), the encoder
 * for a whole attribute set, a pre-encoded form for packing many UPDATEs with
 * the same attributes, and the text rendering for logs and the CLI.
 *
 * Decode never loses the rest of a message to a contained error: non-fatal
 * errors come back in `errors` with their RFC 7606 action; only session-reset
 * errors are thrown.
 */
import { AS_TRANS, AttrFlag, AttrType, ErrCode, UpdateSub } from '../iana.js';
import { BgpError } from '../errors.js';
import type { CodecContext } from '../context.js';
import type { Reader } from '../reader.js';
import { Writer } from '../writer.js';
import type { PathAttributes, RawAttribute } from '../types.js';
import { CATEGORY_MASK, attrFault, withData, type DecodeState } from './codec.js';
import { ENCODE_ORDER, PLAIN_CODECS, attributeCodec } from './registry.js';
import { reconstructAsPath } from './as4-path.js';


export { ATTRIBUTE_CODECS, attributeCodec } from './registry.js';
export { FamilyError, type AttrCodec } from './codec.js';
export { reconstructAsPath } from './as4-path.js';
export { asPathLength, formatAsPath } from './as-path.js';
export { formatCommunity } from './communities.js';
export { formatExtendedCommunity } from './extended-communities.js';

/** What decoding the attribute list produced. */
export interface DecodedAttributes {
  attrs: PathAttributes;
  /** Non-fatal RFC 7606 errors, in the order found. */
  errors: BgpError[];
  /** Type codes that were present (even if then discarded), for the missing-attribute check. */
  seen: Uint8Array;
  /**
   * RFC 7606 §4: the list overran the Total Path Attribute Length; the rest
   * of the list was not parsed.
   */
  listMalformed: boolean;
}

const isMp = (t: number): boolean => t === AttrType.MP_REACH_NLRI || t === AttrType.MP_UNREACH_NLRI;

/**
 * Decode the Path Attributes field (r is a window of exactly Total Path
 * Attribute Length bytes). Throws BgpError only for session-reset cases.
 */
export function decodePathAttributes(r: Reader, ctx: CodecContext): DecodedAttributes {
  const attrs: PathAttributes = {};
  const errors: BgpError[] = [];
  const seen = new Uint8Array(256);
  const st: DecodeState = { ctx, attrs, errors };
  let unknown: RawAttribute[] | undefined;
  let listMalformed = false;
  const buf = r.buf;

  while (!r.atEnd) {
    const start = r.pos;
    const left = r.remaining;
    const flags = buf[start]!;
    const ext = (flags & AttrFlag.ExtendedLength) !== 0;
    // RFC 7606 §4: "fewer than three octets remain (or fewer than four
    // octets, if the Attribute Flags field has the Extended Length bit set)
    // when beginning to parse the attribute" -- or "the length of the last
    // encountered path attribute would cause the Total Attribute Length to be
    // exceeded" -- "an error condition exists and the 'treat-as-withdraw'
    // approach MUST be used" ... "and the Total Attribute Length MUST be
    // relied upon to enable the beginning of the NLRI field to be located."
    const hdr = ext ? 4 : 3;
    const len = left < hdr ? -1 : ext ? (buf[start + 2]! << 8) | buf[start + 3]! : buf[start + 2]!;
    if (len < 0 || len > left - hdr) {
      errors.push(
        attrFault(
          UpdateSub.MalformedAttributeList,
          'treat-as-withdraw',
          len < 0 ? `${left} bytes left, too few for an attribute header` : `attribute ${buf[start + 1]} length ${len} overruns the list (${left - hdr} left)`,
        ),
      );
      listMalformed = true;
      r.pos = r.end;
      break;
    }
    const type = buf[start + 1]!;
    r.pos = start + hdr;
    const value = r.sub(len);
    // The erroneous attribute as RFC 4271 §6.3 wants it in Data: "type,
    // length, and value" with its flags, copied so it outlives the buffer.
    const whole = (): Uint8Array => buf.slice(start, start + hdr + len);

    if (seen[type]) {
      // RFC 7606 §3 (g): "If the MP_REACH_NLRI attribute or the
      // MP_UNREACH_NLRI [RFC4760] attribute appears more than once in the
      // UPDATE message, then a NOTIFICATION message MUST be sent with the
      // Error Subcode 'Malformed Attribute List'. If any other attribute
      // (whether recognized or unrecognized) appears more than once in an
      // UPDATE message, then all the occurrences of the attribute other than
      // the first one SHALL be discarded and the UPDATE message will continue
      // to be processed."
      if (isMp(type)) {
        throw new BgpError(ErrCode.UpdateMessage, UpdateSub.MalformedAttributeList, `attribute ${type} appears twice`);
      }
      continue;
    }
    seen[type] = 1;

    const codec = attributeCodec(type);
    if (codec === undefined) {
      if ((flags & AttrFlag.Optional) === 0) {
        // RFC 4271 §6.3: "If any of the well-known mandatory attributes are
        // not recognized, then the Error Subcode MUST be set to Unrecognized
        // Well-known Attribute. The Data field MUST contain the unrecognized
        // attribute (type, length, and value)."
        throw new BgpError(ErrCode.UpdateMessage, UpdateSub.UnrecognizedWellKnownAttribute, `well-known attribute ${type}`, whole());
      }
      // RFC 4271 §5: "If an optional non-transitive attribute is
      // unrecognized, it is quietly ignored. If an optional transitive
      // attribute is unrecognized, the Partial bit ... is set to 1, and the
      // attribute is retained for propagation to other BGP speakers."
      if (flags & AttrFlag.Transitive) {
        (unknown ??= []).push({ flags: flags & (CATEGORY_MASK | AttrFlag.Partial), type, value: value.rest().slice() });
      }
      continue;
    }

    if ((flags & CATEGORY_MASK) !== codec.flags) {
      // RFC 7606 §3 (a): "If the value of either the Optional or Transitive
      // bits in the Attribute Flags is in conflict with their specified
      // values, then the attribute MUST be treated as malformed and the
      // 'treat-as-withdraw' approach used". The MP attributes are still
      // parsed so that their NLRI can be withdrawn.
      errors.push(
        new BgpError(ErrCode.UpdateMessage, UpdateSub.AttributeFlagsError, `${codec.name} flags 0x${flags.toString(16)}`, whole(), 'treat-as-withdraw'),
      );
      if (!isMp(type)) continue;
    }

    const before = errors.length;
    try {
      codec.decode(value, st);
    } catch (e) {
      if (!(e instanceof BgpError)) throw e;
      const err = e.data.length === 0 ? withData(e, whole()) : e;
      if (err.action === 'session-reset') throw err;
      errors.push(err);
    }
    // Errors a codec reported without throwing get the attribute as data too.
    for (let i = before; i < errors.length; i++) if (errors[i]!.data.length === 0) errors[i] = withData(errors[i]!, whole());
  }

  if (unknown) attrs.unknown = unknown;
  if (!ctx.as4) mergeAs4(attrs);
  return { attrs, errors, seen, listMalformed };
}

/**
 * Fold AS4_PATH / AS4_AGGREGATOR into AS_PATH / AGGREGATOR (RFC 6793 §4.2.3),
 * keeping the raw 4-octet attributes. "If the AS number in the AGGREGATOR
 * attribute is not AS_TRANS, then: the AS4_AGGREGATOR attribute and the
 * AS4_PATH attribute SHALL be ignored" ... otherwise "the AS4_AGGREGATOR
 * attribute SHALL be taken as the information about the aggregating node".
 */
function mergeAs4(a: PathAttributes): void {
  let usePath = a.as4Path !== undefined && a.asPath !== undefined;
  if (a.aggregator !== undefined) {
    if (a.aggregator.asn !== AS_TRANS) usePath = false;
    else if (a.as4Aggregator !== undefined) a.aggregator = { ...a.as4Aggregator };
  }
  if (usePath) a.asPath = reconstructAsPath(a.asPath!, a.as4Path!);
}

/**
 * Report missing well-known mandatory attributes as RFC 7606 §3 (d) says:
 * "If any of the well-known mandatory attributes are not present in an
 * UPDATE message, then 'treat-as-withdraw' MUST be used. (Note that [RFC4760]
 * reclassifies NEXT_HOP as what is effectively discretionary.)" Only an
 * UPDATE that announces something needs them; NEXT_HOP only with NLRI in the
 * message body. Data is the missing type code (RFC 4271 §6.3).
 */
export function missingMandatory(seen: Uint8Array, hasBodyNlri: boolean): BgpError[] {
  const out: BgpError[] = [];
  const need = hasBodyNlri ? [AttrType.ORIGIN, AttrType.AS_PATH, AttrType.NEXT_HOP] : [AttrType.ORIGIN, AttrType.AS_PATH];
  for (const t of need) {
    if (!seen[t]) {
      out.push(
        new BgpError(ErrCode.UpdateMessage, UpdateSub.MissingWellKnownAttribute, `${attributeCodec(t)!.name} missing`, Uint8Array.of(t), 'treat-as-withdraw'),
      );
    }
  }
  return out;
}

/** Write unknown attributes with type in [lo, hi), Partial bit set (RFC 4271 §5). */
function writeUnknown(w: Writer, sorted: readonly RawAttribute[], from: number, hi: number): number {
  let i = from;
  for (; i < sorted.length && sorted[i]!.type < hi; i++) {
    const u = sorted[i]!;
    if (attributeCodec(u.type) !== undefined) continue; // never shadow a known attribute
    const flags = (u.flags & CATEGORY_MASK) | AttrFlag.Partial;
    if (u.value.length > 0xff) w.u8(flags | AttrFlag.ExtendedLength).u8(u.type).u16(u.value.length);
    else w.u8(flags).u8(u.type).u8(u.value.length);
    w.bytes(u.value);
  }
  return i;
}

function encodeList(w: Writer, attrs: PathAttributes, ctx: CodecContext, withMp: boolean): void {
  const codecs = withMp ? ENCODE_ORDER : PLAIN_CODECS;
  const unknown = attrs.unknown;
  if (unknown === undefined || unknown.length === 0) {
    for (const c of codecs) c.encode(w, attrs, ctx);
    return;
  }
  const sorted = [...unknown].sort((x, y) => x.type - y.type);
  let j = 0;
  for (const c of codecs) {
    if (!isMp(c.type)) j = writeUnknown(w, sorted, j, c.type);
    c.encode(w, attrs, ctx);
  }
  writeUnknown(w, sorted, j, 256);
}

/**
 * Write the whole Path Attributes field (without its 2-octet length),
 * including MP_REACH_NLRI / MP_UNREACH_NLRI with their NLRI. AS4_PATH and
 * AS4_AGGREGATOR are derived from `asPath` / `aggregator` when the peer is a
 * 2-octet speaker (RFC 6793 §4.2.2); `as4Path` / `as4Aggregator` are ignored.
 * LOCAL_PREF is written only when ctx.ibgp.
 */
export function encodePathAttributes(w: Writer, attrs: PathAttributes, ctx: CodecContext): void {
  encodeList(w, attrs, ctx, true);
}

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** List the attributes as [label, value] pairs in wire order, for logs, CLI tables and JSON. */
export function describeAttributes(attrs: PathAttributes): [string, string][] {
  const out: [string, string][] = [];
  for (const c of ENCODE_ORDER) {
    const v = c.format(attrs);
    if (v !== undefined) out.push([c.label, v]);
  }
  for (const u of attrs.unknown ?? []) out.push([`attr-${u.type}`, `flags 0x${u.flags.toString(16)} 0x${hex(u.value)}`]);
  return out;
}

/** Render attributes on one line, e.g. "origin igp; as-path 64500 64501; next-hop 192.0.2.1". */
export function formatAttributes(attrs: PathAttributes): string {
  return describeAttributes(attrs)
    .map(([k, v]) => `${k} ${v}`)
    .join('; ');
}
