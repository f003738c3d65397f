// The BPF programs of bgp/bfd/ttl-filter.ts as data: instruction counts,
// jump targets inside each block, the kernel's 4096-instruction limit. What
// they do to packets is proven through the kernel in driver.test.ts.
import { endianness } from 'node:os';
import { describe, expect, it } from 'vitest';
import { BPF_MAX_INSNS, maxMultihopRules, minTtlForHops, multihopFilter, singleHopFilter } from '../../../bgp/bfd/ttl-filter.js';

const le = endianness() === 'LE';
/** Decode `struct sock_filter` entries back to [code, jt, jf, k]. */
function insns(p: Uint8Array): [number, number, number, number][] {
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const out: [number, number, number, number][] = [];
  for (let i = 0; i < p.length; i += 8) out.push([v.getUint16(i, le), v.getUint8(i + 2), v.getUint8(i + 3), v.getUint32(i + 4, le)]);
  return out;
}

describe('BFD TTL filters', () => {
  it('single hop: drop empty, mark below 255, keep the rest (IPv4 TTL at net+8, IPv6 Hop Limit at net+7)', () => {
    const v4 = insns(singleHopFilter(4));
    expect(v4).toEqual([
      [0x80, 0, 0, 0],
      [0x25, 1, 0, 8],
      [0x06, 0, 0, 0],
      [0x30, 0, 0, (-0x100000 + 8) >>> 0],
      [0x35, 1, 0, 255],
      [0x06, 0, 0, 8],
      [0x06, 0, 0, 0xffffffff],
    ]);
    expect(insns(singleHopFilter(6))[3]).toEqual([0x30, 0, 0, (-0x100000 + 7) >>> 0]);
  });

  it('multihop: one block per rule comparing the source, mismatches jump to the next block', () => {
    const v4 = insns(multihopFilter(4, [{ source: Uint8Array.from([192, 0, 2, 9]), minTtl: 254 }, { source: Uint8Array.from([192, 0, 2, 18]), minTtl: 200 }]));
    expect(v4.length).toBe(3 + 1 + 2 * 5 + 1);
    expect(v4[3]).toEqual([0x20, 0, 0, (-0x100000 + 12) >>> 0]);
    expect(v4[4]).toEqual([0x15, 0, 4, 0xc0000209]);
    expect(v4[6]).toEqual([0x35, 1, 0, 254]);
    expect(v4[9]).toEqual([0x15, 0, 4, 0xc0000212]);
    expect(v4.at(-1)).toEqual([0x06, 0, 0, 0xffffffff]);
    const src6 = Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 1]);
    const v6 = insns(multihopFilter(6, [{ source: src6, minTtl: 250 }]));
    expect(v6.length).toBe(3 + 12 + 1);
    expect(v6.slice(3, 11).filter((_, i) => i % 2 === 1).map((x) => [x[2], x[3]])).toEqual([
      [10, 0x20010db8],
      [8, 0],
      [6, 0],
      [4, 1],
    ]);
    expect(insns(multihopFilter(6, [])).length).toBe(4);
  });

  it('stays within the kernel limit and says so beyond it', () => {
    for (const f of [4, 6] as const) {
      const n = maxMultihopRules(f);
      const src = new Uint8Array(f === 4 ? 4 : 16);
      expect(multihopFilter(f, Array.from({ length: n }, () => ({ source: src, minTtl: 250 }))).length / 8).toBeLessThanOrEqual(BPF_MAX_INSNS);
      expect(() => multihopFilter(f, Array.from({ length: n + 1 }, () => ({ source: src, minTtl: 250 })))).toThrow(/kernel allows 4096/);
    }
    expect(maxMultihopRules(4)).toBe(818);
    expect(maxMultihopRules(6)).toBe(341);
  });

  it('refuses bad rules', () => {
    expect(() => multihopFilter(4, [{ source: new Uint8Array(16), minTtl: 1 }])).toThrow(/needs 4 address octets/);
    expect(() => multihopFilter(6, [{ source: new Uint8Array(16), minTtl: 0 }])).toThrow(/1\.\.255/);
    expect(minTtlForHops(1)).toBe(255);
    expect(minTtlForHops(2)).toBe(254);
    expect(() => minTtlForHops(256)).toThrow(/maxHops/);
  });
});
