/**
 * LARGE_COMMUNITY (type 32), optional transitive. RFC 8092 §3, §6.
 *
 *   +--------------------+--------------------+--------------------+
 *   | Global Admin (4)   | Local Data 1 (4)   | Local Data 2 (4)   |  x N
 *   +--------------------+--------------------+--------------------+
 */
import { AttrType } from '../iana.js';
import type { Reader } from '../reader.js';
import { fail, u32, type Checked } from './text.js';
import type { Writer } from '../writer.js';
import type { PathAttributes } from '../types.js';
import { OPTIONAL_TRANSITIVE, beginAttr, endAttr, lengthFault, type AttrCodec, type DecodeState } from './codec.js';

/** Parse an RFC 8092 large community "global:local1:local2". */
export function parseLargeCommunity(text: string): Checked<[number, number, number]> {
  if (typeof text === 'string') {
    const parts = text.split(':');
    if (parts.length === 3) {
      const v = parts.map(u32);
      if (v[0] != null && v[1] != null && v[2] != null) return { ok: true, value: [v[0], v[1], v[2]] };
    }
  }
  return fail(`large community ${JSON.stringify(text)}: expected "global:local1:local2" (each 0..4294967295)`);
}

/** Render a large community as "global:local1:local2": the inverse of parseLargeCommunity. */
export function formatLargeCommunity(c: readonly [number, number, number]): string {
  return `${c[0]}:${c[1]}:${c[2]}`;
}

export const largeCommunitiesCodec: AttrCodec = {
  type: AttrType.LARGE_COMMUNITY,
  name: 'LARGE_COMMUNITY',
  label: 'large-communities',
  flags: OPTIONAL_TRANSITIVE,
  decode(r: Reader, st: DecodeState): void {
    // RFC 8092 §6: malformed if the value length "is not a non-zero multiple
    // of 12"; the UPDATE "SHALL be handled using the approach of
    // 'treat-as-withdraw'". Duplicates are not an error (also §6).
    const n = r.remaining;
    if (n === 0 || n % 12 !== 0) throw lengthFault('LARGE_COMMUNITY', n, 'a non-zero multiple of 12', 'treat-as-withdraw');
    const out: [number, number, number][] = [];
    while (!r.atEnd) out.push([r.u32(), r.u32(), r.u32()]);
    st.attrs.largeCommunities = out;
  },
  encode(w: Writer, a: PathAttributes): void {
    const cs = a.largeCommunities;
    if (cs === undefined || cs.length === 0) return;
    const at = beginAttr(w, OPTIONAL_TRANSITIVE, AttrType.LARGE_COMMUNITY);
    for (const [g, l1, l2] of cs) w.u32(g).u32(l1).u32(l2);
    endAttr(w, at);
  },
  format(a: PathAttributes): string | undefined {
    return a.largeCommunities === undefined ? undefined : a.largeCommunities.map((c) => c.join(':')).join(' ');
  },
};
