/**
 * AGGREGATOR (type 7), optional transitive. RFC 4271 §5.1.7; RFC 6793 §4
 * (4-octet AS between NEW speakers, AS_TRANS plus AS4_AGGREGATOR toward an
 * OLD one); RFC 7606 §7.7.
 *
 *   +------------------------+-------------------------+
 *   | AS (2, or 4 with as4)  | IPv4 address (4)        |
 *   +------------------------+-------------------------+
 */
import { AS_TRANS, AttrType } from '../iana.js';
import { formatIPv4 } from '../prefix.js';
import type { CodecContext } from '../context.js';
import type { Reader } from '../reader.js';
import type { Writer } from '../writer.js';
import type { PathAttributes } from '../types.js';
import { OPTIONAL_TRANSITIVE, lengthFault, type AttrCodec, type DecodeState } from './codec.js';
import { ipv4Bytes } from './next-hop.js';

/** Format an aggregator as "AS address". */
export const formatAggregator = (g: { asn: number; address: string }): string => `${g.asn} ${g.address}`;

export const aggregatorCodec: AttrCodec = {
  type: AttrType.AGGREGATOR,
  name: 'AGGREGATOR',
  label: 'aggregator',
  flags: OPTIONAL_TRANSITIVE,
  decode(r: Reader, st: DecodeState): void {
    // RFC 7606 §7.7: malformed "if its length is not 6 (when the 4-octet AS
    // number capability is not advertised to, or not received from, the peer)"
    // or "not 8 (when the 4-octet AS number capability is both advertised to
    // and received from the peer)" ... "attribute discard".
    const want = st.ctx.as4 ? 8 : 6;
    if (r.remaining !== want) throw lengthFault('AGGREGATOR', r.remaining, String(want), 'attribute-discard');
    const asn = st.ctx.as4 ? r.u32() : r.u16();
    st.attrs.aggregator = { asn, address: formatIPv4(r.bytes(4)) };
  },
  encode(w: Writer, a: PathAttributes, ctx: CodecContext): void {
    const g = a.aggregator;
    if (g === undefined) return;
    const addr = ipv4Bytes(g.address, 'AGGREGATOR');
    if (ctx.as4) {
      w.u8(OPTIONAL_TRANSITIVE).u8(AttrType.AGGREGATOR).u8(8).u32(g.asn).bytes(addr);
    } else {
      // RFC 6793 §4.2.2: a 4-octet aggregator AS goes out as AS_TRANS here.
      w.u8(OPTIONAL_TRANSITIVE).u8(AttrType.AGGREGATOR).u8(6).u16(g.asn > 0xffff ? AS_TRANS : g.asn).bytes(addr);
    }
  },
  format(a: PathAttributes): string | undefined {
    return a.aggregator === undefined ? undefined : formatAggregator(a.aggregator);
  },
};
