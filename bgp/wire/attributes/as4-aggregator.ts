/**
 * AS4_AGGREGATOR (type 18), optional transitive: the 4-octet aggregator AS
 * that rides beside AGGREGATOR (holding AS_TRANS) toward an OLD speaker.
 * RFC 6793 §3, §4.2.2, §4.2.3, §6.
 *
 *   +------------------------+-------------------------+
 *   | AS (4)                 | IPv4 address (4)        |
 *   +------------------------+-------------------------+
 */
import { AttrType } from '../iana.js';
import { formatIPv4 } from '../prefix.js';
import type { CodecContext } from '../context.js';
import type { Reader } from '../reader.js';
import type { Writer } from '../writer.js';
import type { PathAttributes } from '../types.js';
import { OPTIONAL_TRANSITIVE, lengthFault, type AttrCodec, type DecodeState } from './codec.js';
import { formatAggregator } from './aggregator.js';
import { ipv4Bytes } from './next-hop.js';

export const as4AggregatorCodec: AttrCodec = {
  type: AttrType.AS4_AGGREGATOR,
  name: 'AS4_AGGREGATOR',
  label: 'as4-aggregator',
  flags: OPTIONAL_TRANSITIVE,
  decode(r: Reader, st: DecodeState): void {
    // RFC 6793 §6: a malformed AS4_AGGREGATOR (length other than 8) is
    // discarded and the UPDATE processed further ("attribute discard").
    if (r.remaining !== 8) throw lengthFault('AS4_AGGREGATOR', r.remaining, '8', 'attribute-discard');
    const asn = r.u32();
    const address = formatIPv4(r.bytes(4));
    // RFC 6793 §6: from a NEW speaker it is discarded.
    if (!st.ctx.as4) st.attrs.as4Aggregator = { asn, address };
  },
  encode(w: Writer, a: PathAttributes, ctx: CodecContext): void {
    // RFC 6793 §4.2.2: only toward an OLD speaker, only for a 4-octet AS.
    const g = a.aggregator;
    if (ctx.as4 || g === undefined || g.asn <= 0xffff) return;
    w.u8(OPTIONAL_TRANSITIVE).u8(AttrType.AS4_AGGREGATOR).u8(8).u32(g.asn).bytes(ipv4Bytes(g.address, 'AS4_AGGREGATOR'));
  },
  format(a: PathAttributes): string | undefined {
    return a.as4Aggregator === undefined ? undefined : formatAggregator(a.as4Aggregator);
  },
};
