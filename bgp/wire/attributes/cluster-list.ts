/**
 * CLUSTER_LIST (type 10), optional non-transitive. RFC 4456 §8;
 * RFC 7606 §7.10.
 *
 *   +--------------------------+
 *   | Cluster ID (4) ...       |
 *   +--------------------------+
 */
import { AttrType } from '../iana.js';
import { formatIPv4 } from '../prefix.js';
import type { Reader } from '../reader.js';
import type { Writer } from '../writer.js';
import type { PathAttributes } from '../types.js';
import { OPTIONAL, beginAttr, endAttr, lengthFault, type AttrCodec, type DecodeState } from './codec.js';
import { ipv4Bytes } from './next-hop.js';

export const clusterListCodec: AttrCodec = {
  type: AttrType.CLUSTER_LIST,
  name: 'CLUSTER_LIST',
  label: 'cluster-list',
  flags: OPTIONAL,
  decode(r: Reader, st: DecodeState): void {
    // RFC 7606 §7.10: malformed "if its length is not a non-zero multiple of
    // 4" ... "treat-as-withdraw".
    const n = r.remaining;
    if (n === 0 || n % 4 !== 0) throw lengthFault('CLUSTER_LIST', n, 'a non-zero multiple of 4', 'treat-as-withdraw');
    const out: string[] = [];
    while (!r.atEnd) out.push(formatIPv4(r.bytes(4)));
    st.attrs.clusterList = out;
  },
  encode(w: Writer, a: PathAttributes): void {
    const cl = a.clusterList;
    if (cl === undefined || cl.length === 0) return;
    const at = beginAttr(w, OPTIONAL, AttrType.CLUSTER_LIST);
    for (const id of cl) w.bytes(ipv4Bytes(id, 'CLUSTER_LIST'));
    endAttr(w, at);
  },
  format(a: PathAttributes): string | undefined {
    return a.clusterList === undefined ? undefined : a.clusterList.join(' ');
  },
};
