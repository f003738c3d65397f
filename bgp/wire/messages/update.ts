/**
 * UPDATE message body codec. RFC 4271 §4.3 (format), §6.3 (errors);
 * RFC 7606 (revised error handling; §5.3 NLRI syntax); RFC 7911 §3 (ADD-PATH
 * path ids); RFC 4724 §2 (End-of-RIB); RFC 4760 (MP NLRI, via attributes/).
 *
 *   +-----------------------------------------------------+
 *   |   Withdrawn Routes Length (2 octets)                |
 *   +-----------------------------------------------------+
 *   |   Withdrawn Routes (variable)                       |
 *   +-----------------------------------------------------+
 *   |   Total Path Attribute Length (2 octets)            |
 *   +-----------------------------------------------------+
 *   |   Path Attributes (variable)                        |
 *   +-----------------------------------------------------+
 *   |   Network Layer Reachability Information (variable) |
 *   +-----------------------------------------------------+
 *
 * messages/index.ts frames the 19-byte header and calls decodeUpdateBody /
 * encodeUpdateBody. Routes in bulk are packed by one packer only, the
 * Adj-RIB-Out's (rib/update-builder.ts), which also writes End-of-RIB;
 * `isEndOfRib` here is how a received one is recognised.
 */
import { Afi, ErrCode, UpdateSub } from '../iana.js';
import { BgpError } from '../errors.js';
import { IPV4_UNICAST, type CodecContext } from '../context.js';
import { decodeNlriList } from '../prefix.js';
import { Reader, type ShortError } from '../reader.js';
import type { Writer } from '../writer.js';
import type { UpdateMessage } from '../types.js';
import { decodePathAttributes, encodePathAttributes, missingMandatory } from '../attributes/index.js';
import { writeNlriEntry } from '../attributes/mp-reach.js';

export { encodePathAttributes, formatAttributes, describeAttributes } from '../attributes/index.js';

/** RFC 4271 §6.3 / RFC 7606 §5.3: a bad Withdrawn Routes or NLRI field resets the session. */
const NLRI_SHORT: ShortError = { code: ErrCode.UpdateMessage, subcode: UpdateSub.InvalidNetworkField, what: 'NLRI' };

const malformedList = (why: string): BgpError => new BgpError(ErrCode.UpdateMessage, UpdateSub.MalformedAttributeList, why);

/** Decode an UPDATE body (r is the window after the 19-byte header). */
export function decodeUpdateBody(r: Reader, ctx: CodecContext): UpdateMessage {
  // RFC 4271 §6.3: "If the Withdrawn Routes Length or Total Attribute Length
  // is too large (i.e., if Withdrawn Routes Length + Total Attribute Length +
  // 23 exceeds the message Length), then the Error Subcode MUST be set to
  // Malformed Attribute List."
  if (r.remaining < 4) throw malformedList(`UPDATE body of ${r.remaining} bytes`);
  const wrLen = r.u16();
  if (wrLen + 2 > r.remaining) throw malformedList(`Withdrawn Routes Length ${wrLen} exceeds the message`);
  const wr = new Reader(r.buf, NLRI_SHORT, r.pos, r.pos + wrLen);
  r.pos += wrLen;
  const attrLen = r.u16();
  if (attrLen > r.remaining) throw malformedList(`Total Path Attribute Length ${attrLen} exceeds the message`);
  const ar = r.sub(attrLen);
  const nr = new Reader(r.buf, NLRI_SHORT, r.pos, r.end);
  r.pos = r.end;

  // RFC 7606 §5.3: a Withdrawn Routes or NLRI field with an overrun or a
  // prefix length "larger than 32" is "syntactically incorrect"; that
  // "SHALL be handled using the 'session reset' approach" (decodeNlriEntry
  // throws with NLRI_SHORT's identity).
  const addPath = ctx.addPathReceive.has(IPV4_UNICAST);
  const withdrawn = decodeNlriList(wr, Afi.IPv4, addPath);
  const { attrs, errors, seen, listMalformed } = decodePathAttributes(ar, ctx);
  const nlri = decodeNlriList(nr, Afi.IPv4, addPath);

  if (listMalformed) {
    // RFC 7606 §5.3: treat-as-withdraw needs the NLRI to be found; "If this
    // is not possible, the procedures of [RFC4271] and/or [RFC4760] continue
    // to apply, meaning that the 'session reset' approach ... MUST be
    // followed." When neither body NLRI nor an MP attribute (which §5.1 puts
    // first) was found, the routes this UPDATE is about are unknown.
    if (nlri.length === 0 && attrs.mpReach === undefined && attrs.mpUnreach === undefined) {
      throw malformedList('attribute list overruns Total Path Attribute Length and no NLRI could be located');
    }
  } else if (nlri.length > 0 || (attrs.mpReach !== undefined && attrs.mpReach.nlri.length > 0)) {
    errors.push(...missingMandatory(seen, nlri.length > 0));
  }

  const msg: UpdateMessage = { type: 'update', withdrawn, attributes: attrs, nlri };
  if (errors.length > 0) msg.errors = errors;
  return msg;
}

/** Encode an UPDATE body (everything after the 19-byte header). */
export function encodeUpdateBody(w: Writer, msg: UpdateMessage, ctx: CodecContext): void {
  const addPath = ctx.addPathSend.has(IPV4_UNICAST);
  const wAt = w.reserve16();
  for (const n of msg.withdrawn) writeNlriEntry(w, n, addPath);
  w.fill16(wAt);
  const aAt = w.reserve16();
  encodePathAttributes(w, msg.attributes, ctx);
  w.fill16(aAt);
  for (const n of msg.nlri) writeNlriEntry(w, n, addPath);
}

/** Return the family an End-of-RIB marker stands for (RFC 4724 §2), or null for any other UPDATE. */
export function isEndOfRib(msg: UpdateMessage): { afi: number; safi: number } | null {
  if (msg.withdrawn.length > 0 || msg.nlri.length > 0) return null;
  const a = msg.attributes;
  let present = 0;
  for (const k in a) if (a[k as keyof typeof a] !== undefined) present++;
  // RFC 4724 §2: "An UPDATE message with no reachable Network Layer
  // Reachability Information (NLRI) and empty withdrawn NLRI is specified as
  // the End-of-RIB marker" for IPv4 unicast.
  if (present === 0) return { afi: Afi.IPv4, safi: 1 };
  // RFC 4724 §2: for other families, "an UPDATE message that contains only
  // the MP_UNREACH_NLRI attribute with no withdrawn routes for that <AFI, SAFI>".
  if (present === 1 && a.mpUnreach !== undefined && a.mpUnreach.nlri.length === 0) {
    return { afi: a.mpUnreach.afi, safi: a.mpUnreach.safi };
  }
  return null;
}
