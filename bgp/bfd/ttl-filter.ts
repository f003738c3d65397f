/**
 * The TTL / Hop Limit check for received BFD packets, as a classic BPF
 * socket filter (decision 0021).
 *
 * RFC 5881 §5: "If BFD authentication is not in use on a session, all BFD
 * Control packets for the session MUST be sent with a Time to Live (TTL) or
 * Hop Limit value of 255. All received BFD Control packets that are
 * demultiplexed to the session MUST be discarded if the received TTL or Hop
 * Limit is not equal to 255." RFC 5883 §5 leaves the multihop check to the
 * implementation; herald discards below 256 - maxHops (a packet sent with
 * 255 loses one per router, so a path of `maxHops` hops delivers
 * 256 - maxHops).
 *
 * Node's dgram cannot report a datagram's TTL, so the kernel checks it: the
 * program below runs on every datagram queued to the socket. At that point
 * offset 0 is the UDP header and `len` covers header and payload; the IP
 * header is reached through SKF_NET_OFF (IPv4 TTL at octet 8, IPv6 Hop Limit
 * at octet 7). The return value is how many octets to keep (0 drops; the
 * kernel never trims below the 8-octet UDP header):
 *
 *   0: ldb  [SKF_NET_OFF + 8 | 7]     A = TTL / Hop Limit
 *   1: jge  #minTtl       jt 2  jf 6
 *   2: ld   #len                       A = UDP header + payload
 *   3: jgt  #8            jt 5  jf 4
 *   4: ret  #0                         good TTL, empty payload: drop
 *   5: ret  #0xffffffff                good TTL: keep all of it
 *   6: ret  #8                         TTL too low: keep the header only
 *
 * So a datagram with a bad TTL still reaches the driver, as an empty
 * payload from its real source address, and is counted per peer as a `ttl`
 * discard; an empty payload with a good TTL (useless anyway) never does.
 */
import { endianness } from 'node:os';

/** SKF_NET_OFF (<linux/filter.h>): negative offsets from here address the network header. */
const SKF_NET_OFF = -0x100000;

const BPF = {
  LD_B_ABS: 0x30, // BPF_LD | BPF_B | BPF_ABS
  LD_W_LEN: 0x80, // BPF_LD | BPF_W | BPF_LEN
  JGE_K: 0x35, // BPF_JMP | BPF_JGE | BPF_K
  JGT_K: 0x25, // BPF_JMP | BPF_JGT | BPF_K
  RET_K: 0x06, // BPF_RET | BPF_K
} as const;

/** UDP header length: what the kernel keeps of a datagram the filter marks. */
const UDP_HEADER = 8;

/**
 * Build the filter for a socket of `family` that accepts TTL / Hop Limit
 * >= `minTtl` (255 for single hop; 256 - maxHops for multihop).
 * Returns `struct sock_filter` entries in host byte order.
 */
export function ttlFilter(family: 4 | 6, minTtl: number): Uint8Array {
  if (!Number.isInteger(minTtl) || minTtl < 1 || minTtl > 255) throw new RangeError(`minimum TTL must be 1..255, got ${minTtl}`);
  const ttlOffset = family === 4 ? 8 : 7;
  const program: [code: number, jt: number, jf: number, k: number][] = [
    [BPF.LD_B_ABS, 0, 0, SKF_NET_OFF + ttlOffset],
    [BPF.JGE_K, 0, 4, minTtl],
    [BPF.LD_W_LEN, 0, 0, 0],
    [BPF.JGT_K, 1, 0, UDP_HEADER],
    [BPF.RET_K, 0, 0, 0],
    [BPF.RET_K, 0, 0, 0xffffffff],
    [BPF.RET_K, 0, 0, UDP_HEADER],
  ];
  const out = new Uint8Array(program.length * 8);
  const view = new DataView(out.buffer);
  const le = endianness() === 'LE';
  program.forEach(([code, jt, jf, k], i) => {
    view.setUint16(i * 8, code, le);
    view.setUint8(i * 8 + 2, jt);
    view.setUint8(i * 8 + 3, jf);
    view.setUint32(i * 8 + 4, k >>> 0, le);
  });
  return out;
}

/** The lowest TTL a multihop session accepts: a packet sent with 255 over `maxHops` hops arrives with 256 - maxHops. */
export function minTtlForHops(maxHops: number): number {
  if (!Number.isInteger(maxHops) || maxHops < 1 || maxHops > 255) throw new RangeError(`maxHops must be 1..255, got ${maxHops}`);
  return 256 - maxHops;
}
