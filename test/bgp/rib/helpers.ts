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
export const v4 = (i: number): string => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`;
export const v6 = (i: number): string => `2001:db8:53::${i.toString(16)}/128`;

/** Split concatenated messages, checking each header. */
export function split(bytes: Uint8Array, maxLen = 4096): Uint8Array[] {
  const out: Uint8Array[] = [];
  let p = 0;
  while (p < bytes.length) {
    for (let i = 0; i < 16; i++) expect(bytes[p + i]).toBe(0xff);
    const len = (bytes[p + 16]! << 8) | bytes[p + 17]!;
    expect(len).toBeGreaterThanOrEqual(23);
    expect(len).toBeLessThanOrEqual(maxLen);
    expect(bytes[p + 18]).toBe(MsgType.UPDATE);
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
}

/** Pull everything from a RIB-Out and decode it. */
export function drain(rib: AdjRibOut, ctx: CodecContext = CTX, budget?: number): Drained {
  const d: Drained = { messages: [], updates: [], announced: new Map(), withdrawn: [], eor: [] };
  const maxLen = ctx.extendedMessage ? 65535 : 4096;
  for (let guard = 0; guard < 1_000_000; guard++) {
    const b = rib.nextBytes(budget);
    if (b === null) break;
    for (const m of split(b, maxLen)) {
      d.messages.push(m);
      const u = decode(m, ctx);
      expect(u.errors ?? []).toEqual([]);
      d.updates.push(u);
      const eor = isEndOfRib(u);
      if (eor) {
        d.eor.push(`${eor.afi}/${eor.safi}`);
        continue;
      }
      for (const n of u.withdrawn) d.withdrawn.push(formatPrefix(n.prefix));
      for (const n of u.attributes.mpUnreach?.nlri ?? []) d.withdrawn.push(formatPrefix(n.prefix));
      for (const n of u.nlri) d.announced.set(formatPrefix(n.prefix), u);
      for (const n of u.attributes.mpReach?.nlri ?? []) d.announced.set(formatPrefix(n.prefix), u);
    }
  }
  return d;
}
