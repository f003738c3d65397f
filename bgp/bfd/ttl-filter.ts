/**
 * The TTL / Hop Limit check for received BFD packets, as classic BPF
 * socket filters (decision 0021).
 *
 * RFC 5881 §5: "If BFD authentication is not in use on a session, all BFD
 * Control packets for the session MUST be sent with a Time to Live (TTL) or
 * Hop Limit value of 255. All received BFD Control packets that are
 * demultiplexed to the session MUST be discarded if the received TTL or Hop
 * Limit is not equal to 255." RFC 5883 sets no value for multihop; herald
 * checks a per-session `maxHops` there (a packet sent with 255 loses one per
 * router, so a path of `maxHops` hops delivers 256 - maxHops), off by
 * default because BIRD 2 sends multihop packets with the system's default
 * TTL (64).
 *
 * Node's dgram cannot report a datagram's TTL, so the kernel checks it: the
 * program runs on every datagram queued to the socket. There, offset 0 is
 * the UDP header, `len` covers header and payload, and the IP header is
 * reached through SKF_NET_OFF (IPv4: TTL at octet 8, source at 12; IPv6: Hop
 * Limit at 7, source at 8..23). The return value is how many octets to keep:
 * 0 drops; the kernel never trims below the 8-octet UDP header.
 *
 *   single hop (every source):          multihop (one block per session with a limit):
 *     ld   #len                            ld   #len
 *     jgt  #8          jt +1               jgt  #8          jt +1
 *     ret  #0          empty: drop         ret  #0
 *     ldb  [net + TTL]                     per session: source == peer ?
 *     jge  #255        jt +1                 ldb [net + TTL]
 *     ret  #8          mark                  jge #minTtl  jt +1
 *     ret  #-1         keep                  ret #8 / ret #-1
 *                                          ret  #-1        other sources: keep
 *
 * A datagram with a bad TTL still reaches the driver, cut to an empty
 * payload ("mark"), so it is counted per peer as a `ttl` discard; an empty
 * datagram with a good TTL is dropped first, so an empty payload always
 * means a failed TTL check. Sources with no session pass, to be counted as
 * `no-session` by the driver.
 */
import { endianness } from 'node:os';

/** SKF_NET_OFF (<linux/filter.h>): offsets from here address the network header. */
const SKF_NET_OFF = -0x100000;

const BPF = {
  LD_W_ABS: 0x20, // BPF_LD | BPF_W | BPF_ABS (network byte order)
  LD_B_ABS: 0x30, // BPF_LD | BPF_B | BPF_ABS
  LD_W_LEN: 0x80, // BPF_LD | BPF_W | BPF_LEN
  JEQ_K: 0x15, // BPF_JMP | BPF_JEQ | BPF_K
  JGE_K: 0x35, // BPF_JMP | BPF_JGE | BPF_K
  JGT_K: 0x25, // BPF_JMP | BPF_JGT | BPF_K
  RET_K: 0x06, // BPF_RET | BPF_K
} as const;

/** UDP header length: what the kernel keeps of a datagram the filter marks. */
const UDP_HEADER = 8;
const KEEP_ALL = 0xffffffff;
/** The kernel's limit (BPF_MAXINSNS). */
export const BPF_MAX_INSNS = 4096;

type Insn = [code: number, jt: number, jf: number, k: number];

const TTL_OFFSET = { 4: 8, 6: 7 } as const;
const SRC_OFFSET = { 4: 12, 6: 8 } as const;

/** Drop empty datagrams, so an empty payload always means "marked". */
const PROLOGUE: Insn[] = [
  [BPF.LD_W_LEN, 0, 0, 0],
  [BPF.JGT_K, 1, 0, UDP_HEADER],
  [BPF.RET_K, 0, 0, 0],
];

/** Load the TTL; keep the datagram when it is at least `minTtl`, else mark it. */
function ttlCheck(family: 4 | 6, minTtl: number): Insn[] {
  return [
    [BPF.LD_B_ABS, 0, 0, SKF_NET_OFF + TTL_OFFSET[family]],
    [BPF.JGE_K, 1, 0, minTtl],
    [BPF.RET_K, 0, 0, UDP_HEADER],
    [BPF.RET_K, 0, 0, KEEP_ALL],
  ];
}

function checkTtl(minTtl: number): void {
  if (!Number.isInteger(minTtl) || minTtl < 1 || minTtl > 255) throw new RangeError(`minimum TTL must be 1..255, got ${minTtl}`);
}

/** The single-hop filter: TTL / Hop Limit exactly 255 for every source (RFC 5881 §5). */
export function singleHopFilter(family: 4 | 6): Uint8Array {
  return assemble([...PROLOGUE, ...ttlCheck(family, 255)]);
}

/** One multihop session's rule: its peer's address octets (4 or 16) and the lowest TTL accepted from it. */
export interface TtlRule {
  source: Uint8Array;
  minTtl: number;
}

/**
 * The multihop filter: for each rule, datagrams from `source` are kept when
 * their TTL / Hop Limit is at least `minTtl` and marked otherwise; datagrams
 * from other sources are kept. Throws RangeError past the kernel's limit.
 */
export function multihopFilter(family: 4 | 6, rules: readonly TtlRule[]): Uint8Array {
  const prog: Insn[] = [...PROLOGUE];
  const src = SKF_NET_OFF + SRC_OFFSET[family];
  if (family === 4) {
    // A keeps the source across blocks that do not match (a matching block returns).
    if (rules.length > 0) prog.push([BPF.LD_W_ABS, 0, 0, src]);
    for (const r of rules) {
      checkRule(r, 4);
      // jeq (skip the 4 instructions of the check when it is another source)
      prog.push([BPF.JEQ_K, 0, 4, word(r.source, 0)], ...ttlCheck(4, r.minTtl));
    }
  } else {
    for (const r of rules) {
      checkRule(r, 6);
      // Four word compares, each skipping to the end of this 12-instruction block on a mismatch.
      for (let w = 0; w < 4; w++) {
        const skip = 12 - (2 * w + 2);
        prog.push([BPF.LD_W_ABS, 0, 0, src + 4 * w], [BPF.JEQ_K, 0, skip, word(r.source, w)]);
      }
      prog.push(...ttlCheck(6, r.minTtl));
    }
  }
  prog.push([BPF.RET_K, 0, 0, KEEP_ALL]);
  if (prog.length > BPF_MAX_INSNS) {
    throw new RangeError(`${rules.length} multihop TTL rules need ${prog.length} BPF instructions; the kernel allows ${BPF_MAX_INSNS}`);
  }
  return assemble(prog);
}

/** How many multihop sessions with a TTL limit one socket filter can hold. */
export function maxMultihopRules(family: 4 | 6): number {
  const fixed = PROLOGUE.length + 1 + (family === 4 ? 1 : 0);
  return Math.floor((BPF_MAX_INSNS - fixed) / (family === 4 ? 5 : 12));
}

function checkRule(r: TtlRule, family: 4 | 6): void {
  if (r.source.length !== (family === 4 ? 4 : 16)) throw new RangeError(`a TTL rule for IPv${family} needs ${family === 4 ? 4 : 16} address octets`);
  checkTtl(r.minTtl);
}

/** The 32-bit big-endian word `i` of an address, as BPF_LD|BPF_W|BPF_ABS loads it. */
function word(b: Uint8Array, i: number): number {
  return ((b[4 * i]! << 24) | (b[4 * i + 1]! << 16) | (b[4 * i + 2]! << 8) | b[4 * i + 3]!) >>> 0;
}

/** Lay out `struct sock_filter` entries (u16 code, u8 jt, u8 jf, u32 k) in host byte order. */
function assemble(prog: readonly Insn[]): Uint8Array {
  const out = new Uint8Array(prog.length * 8);
  const view = new DataView(out.buffer);
  const le = endianness() === 'LE';
  prog.forEach(([code, jt, jf, k], i) => {
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
