/**
 * COMMUNITIES (type 8), optional transitive. RFC 1997; RFC 7606 §7.8.
 *
 *   +------------------------------------+
 *   | Community (4 octets: AS:value) ... |
 *   +------------------------------------+
 */
import { AttrType, WellKnownCommunity } from '../iana.js';
import type { Reader } from '../reader.js';
import { fail, u16, type Checked } from './text.js';
import type { Writer } from '../writer.js';
import type { PathAttributes } from '../types.js';
import { OPTIONAL_TRANSITIVE, beginAttr, endAttr, lengthFault, type AttrCodec, type DecodeState } from './codec.js';

const WELL_KNOWN_NAMES = new Map<number, string>(
  Object.entries(WellKnownCommunity).map(([k, v]) => [v, k.toLowerCase().replace(/_/g, '-')]),
);

/** Well-known community names accepted in text (lower case, '-' or '_'). */
export const COMMUNITY_NAMES: Readonly<Record<string, number>> = {
  'graceful-shutdown': WellKnownCommunity.GRACEFUL_SHUTDOWN,
  blackhole: WellKnownCommunity.BLACKHOLE,
  'no-export': WellKnownCommunity.NO_EXPORT,
  'no-advertise': WellKnownCommunity.NO_ADVERTISE,
  'no-export-subconfed': WellKnownCommunity.NO_EXPORT_SUBCONFED,
  'local-as': WellKnownCommunity.NO_EXPORT_SUBCONFED,
  nopeer: WellKnownCommunity.NOPEER,
  'no-peer': WellKnownCommunity.NOPEER,
};

/** Parse an RFC 1997 community: "65011:53" or a well-known name. */
export function parseCommunity(text: string): Checked<number> {
  if (typeof text !== 'string') return fail('community is not a string');
  const named = COMMUNITY_NAMES[text.toLowerCase().replace(/_/g, '-')];
  if (named !== undefined) return { ok: true, value: named };
  const parts = text.split(':');
  if (parts.length === 2) {
    const hi = u16(parts[0]!);
    const lo = u16(parts[1]!);
    if (hi !== null && lo !== null) return { ok: true, value: hi * 0x10000 + lo };
  }
  return fail(`community ${JSON.stringify(text)}: expected "asn:value" (each 0..65535) or a well-known name`);
}

/** Render a community as "AS:value", or its well-known name (e.g. "no-export"): the inverse of parseCommunity. */
export function formatCommunity(c: number): string {
  return WELL_KNOWN_NAMES.get(c) ?? `${c >>> 16}:${c & 0xffff}`;
}

export const communitiesCodec: AttrCodec = {
  type: AttrType.COMMUNITIES,
  name: 'COMMUNITIES',
  label: 'communities',
  flags: OPTIONAL_TRANSITIVE,
  decode(r: Reader, st: DecodeState): void {
    // RFC 7606 §7.8: malformed "if the length of the attribute is not a
    // non-zero multiple of 4" ... "treat-as-withdraw".
    const n = r.remaining;
    if (n === 0 || n % 4 !== 0) throw lengthFault('COMMUNITIES', n, 'a non-zero multiple of 4', 'treat-as-withdraw');
    const out = new Array<number>(n / 4);
    for (let i = 0; i < out.length; i++) out[i] = r.u32();
    st.attrs.communities = out;
  },
  encode(w: Writer, a: PathAttributes): void {
    const cs = a.communities;
    if (cs === undefined || cs.length === 0) return;
    const at = beginAttr(w, OPTIONAL_TRANSITIVE, AttrType.COMMUNITIES);
    for (const c of cs) w.u32(c);
    endAttr(w, at);
  },
  format(a: PathAttributes): string | undefined {
    return a.communities === undefined ? undefined : a.communities.map(formatCommunity).join(' ');
  },
};
