/** Test helpers: cut a byte stream into messages and decode the UPDATEs with the wire codec. */
import { expect } from 'vitest';
import { DEFAULT_CONTEXT, IPV4_UNICAST, IPV6_UNICAST, withContext, type CodecContext } from '../../../bgp/wire/context.js';
import type { PeerExportContext } from '../../../bgp/rib/export.js';
import { ErrCode, MsgType } from '../../../bgp/wire/iana.js';
import { formatPrefix } from '../../../bgp/wire/prefix.js';
import { Reader } from '../../../bgp/wire/reader.js';
import type { UpdateMessage } from '../../../bgp/wire/types.js';
import { decodeUpdateBody, isEndOfRib } from '../../../bgp/wire/messages/update.js';
import type { AdjRibOut } from '../../../bgp/rib/adj-rib-out.js';

export const CTX: CodecContext = withContext(DEFAULT_CONTEXT, { as4: true });

/** An eBGP session with both families and a local address of each. */
export const PEER: PeerExportContext = {
  localAs: 65011,
  peerAs: 65000,
  ibgp: false,
  localAddress4: '192.0.2.11',
  localAddress6: '2001:db8::11',
  families: [IPV4_UNICAST, IPV6_UNICAST],
  extendedNextHopV4overV6: false,
};

/** The i-th IPv4 /32 and IPv6 /128 of the RIB tests. */
export const v4 = (i: number): string => `240.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`;
export const v6 = (i: number): string => `2001:db8:53::${i.toString(16)}/128`;

/** Split concatenated messages, checking each header (UPDATEs, and RFC 7313 BoRR/EoRR ROUTE-REFRESHes). */
export function split(bytes: Uint8Array, maxLen = 4096): Uint8Array[] {
  const out: Uint8Array[] = [];
  let p = 0;
  while (p < bytes.length) {
    for (let i = 0; i < 16; i++) expect(bytes[p + i]).toBe(0xff);
    const len = (bytes[p + 16]! << 8) | bytes[p + 17]!;
    expect(len).toBeGreaterThanOrEqual(23);
    expect(len).toBeLessThanOrEqual(maxLen);
    expect([MsgType.UPDATE, MsgType.ROUTE_REFRESH]).toContain(bytes[p + 18]);
    if (bytes[p + 18] === MsgType.ROUTE_REFRESH) expect(len).toBe(23);
    out.push(bytes.subarray(p, p + len));
    p += len;
  }
  expect(p).toBe(bytes.length);
  return out;
}

/** Decode one whole UPDATE message (header included). */
export function decode(msg: Uint8Array, ctx: CodecContext = CTX): UpdateMessage {
  return decodeUpdateBody(new Reader(msg, { code: ErrCode.UpdateMessage, subcode: 1 }, 19, msg.length), ctx);
}

export interface Drained {
  messages: Uint8Array[];
  updates: UpdateMessage[];
  announced: Map<string, UpdateMessage>;
  withdrawn: string[];
  eor: string[];
  /** Every message in order: "update", "eor 1/1", "borr 1/1", "eorr 2/1". */
  log: string[];
}

/** Return "borr afi/safi" or "eorr afi/safi" for a ROUTE-REFRESH message, null for anything else. */
export function refreshMarker(m: Uint8Array): string | null {
  if (m[18] !== MsgType.ROUTE_REFRESH) return null;
  const afi = (m[19]! << 8) | m[20]!;
  const sub = m[21]!;
  expect([1, 2]).toContain(sub);
  return `${sub === 1 ? 'borr' : 'eorr'} ${afi}/${m[22]}`;
}

/** Pull everything from a RIB-Out and decode it. */
export function drain(rib: AdjRibOut, ctx: CodecContext = CTX, budget?: number): Drained {
  const d: Drained = { messages: [], updates: [], announced: new Map(), withdrawn: [], eor: [], log: [] };
  const maxLen = ctx.extendedMessage ? 65535 : 4096;
  for (let guard = 0; guard < 1_000_000; guard++) {
    const b = rib.nextBytes(budget);
    if (b === null) break;
    for (const m of split(b, maxLen)) {
      d.messages.push(m);
      const marker = refreshMarker(m);
      if (marker !== null) {
        d.log.push(marker);
        continue;
      }
      const u = decode(m, ctx);
      expect(u.errors ?? []).toEqual([]);
      d.updates.push(u);
      const eor = isEndOfRib(u);
      if (eor) {
        d.eor.push(`${eor.afi}/${eor.safi}`);
        d.log.push(`eor ${eor.afi}/${eor.safi}`);
        continue;
      }
      d.log.push('update');
      for (const n of u.withdrawn) d.withdrawn.push(formatPrefix(n.prefix));
      for (const n of u.attributes.mpUnreach?.nlri ?? []) d.withdrawn.push(formatPrefix(n.prefix));
      for (const n of u.nlri) d.announced.set(formatPrefix(n.prefix), u);
      for (const n of u.attributes.mpReach?.nlri ?? []) d.announced.set(formatPrefix(n.prefix), u);
    }
  }
  return d;
}
