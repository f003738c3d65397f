// BFD Control packet codec (bgp/bfd/wire.ts): annotated bytes <-> packet
// both ways with hex diffs, then one error fixture per RFC 5880 §6.8.6
// syntax rule, asserting the discard reason (and that the first failing rule
// in the RFC's order wins).
import { describe, expect, it } from 'vitest';
import { BfdError, decodeControl, encodeControl, type BfdControlPacket, type DiscardReason } from '../../../bgp/bfd/wire.js';
import { BfdDiag, BfdState } from '../../../bgp/bfd/iana.js';
import { expectBytes, hex } from '../wire/msg-fixture.js';

const base: BfdControlPacket = {
  diag: 0,
  state: BfdState.Down,
  poll: false,
  final: false,
  cpi: false,
  demand: false,
  detectMult: 3,
  myDiscriminator: 0x12345678,
  yourDiscriminator: 0,
  desiredMinTxUs: 1_000_000,
  requiredMinRxUs: 1_000_000,
  requiredMinEchoRxUs: 0,
};

const FIXTURES: { name: string; bytes: Uint8Array; packet: BfdControlPacket }[] = [
  {
    name: 'Down, first packet of a session (Your Discriminator unknown), slow 1 s rate',
    bytes: hex`
      20          # Vers 1, Diag 0
      40          # Sta Down (01), no flags
      03 18       # Detect Mult 3, Length 24
      12345678    # My Discriminator
      00000000    # Your Discriminator
      000f4240    # Desired Min TX 1,000,000 us
      000f4240    # Required Min RX 1,000,000 us
      00000000    # Required Min Echo RX 0 (no Echo)`,
    packet: base,
  },
  {
    name: 'Up with Poll, 100 ms / 100 ms, as FRR bfdd sends after coming Up (Echo RX 50 ms)',
    bytes: hex`20 e0 03 18 | 0000abcd | 12345678 | 000186a0 | 000186a0 | 0000c350`,
    packet: {
      ...base,
      state: BfdState.Up,
      poll: true,
      myDiscriminator: 0xabcd,
      yourDiscriminator: 0x12345678,
      desiredMinTxUs: 100_000,
      requiredMinRxUs: 100_000,
      requiredMinEchoRxUs: 50_000,
    },
  },
  {
    name: 'Up with Final and the C bit, Detect Mult 5',
    bytes: hex`20 d8 05 18 | ffffffff | 00000001 | 00004e20 | 00002710 | 00000000`,
    packet: {
      ...base,
      state: BfdState.Up,
      final: true,
      cpi: true,
      detectMult: 5,
      myDiscriminator: 0xffffffff,
      yourDiscriminator: 1,
      desiredMinTxUs: 20_000,
      requiredMinRxUs: 10_000,
    },
  },
  {
    name: 'AdminDown with diag 7 (Administratively Down), Your Discriminator still 0',
    bytes: hex`27 00 03 18 | 12345678 | 00000000 | 000f4240 | 000f4240 | 00000000`,
    packet: { ...base, diag: BfdDiag.AdministrativelyDown, state: BfdState.AdminDown },
  },
  {
    name: 'Init with diag 1 (Control Detection Time Expired) from the previous session',
    bytes: hex`21 80 01 18 | 00000002 | 00000003 | 000f4240 | 0001d4c0 | 00000000`,
    packet: {
      ...base,
      diag: BfdDiag.ControlDetectionTimeExpired,
      state: BfdState.Init,
      detectMult: 1,
      myDiscriminator: 2,
      yourDiscriminator: 3,
      requiredMinRxUs: 120_000,
    },
  },
  {
    name: 'Up asking for Demand mode (D bit), diag 8 (Reverse Concatenated Path Down)',
    bytes: hex`28 c2 ff 18 | 00000010 | 00000020 | 00000001 | 00000000 | 00000000`,
    packet: {
      ...base,
      diag: BfdDiag.ReverseConcatenatedPathDown,
      state: BfdState.Up,
      demand: true,
      detectMult: 255,
      myDiscriminator: 0x10,
      yourDiscriminator: 0x20,
      desiredMinTxUs: 1,
      requiredMinRxUs: 0,
    },
  },
];

describe('BFD Control packet fixtures, both ways', () => {
  it.each(FIXTURES)('$name', ({ bytes, packet }) => {
    expect(decodeControl(bytes)).toEqual(packet);
    expectBytes(encodeControl(packet), bytes);
  });

  it('has fixtures for every state', () => {
    expect(new Set(FIXTURES.map((f) => f.packet.state))).toEqual(new Set([0, 1, 2, 3]));
  });
});

describe('BFD decode accepts what §6.8.6 does not discard', () => {
  it('ignores octets after Length, inside Length (A clear) and beyond it', () => {
    const inside = hex`20 40 03 1e | 12345678 | 00000000 | 000f4240 | 000f4240 | 00000000 | 0102 0304 0506`;
    expect(decodeControl(inside)).toEqual(base);
    const beyond = hex`20 40 03 18 | 12345678 | 00000000 | 000f4240 | 000f4240 | 00000000 | ffffffff`;
    expect(decodeControl(beyond)).toEqual(base);
  });

  it('accepts P and F together (a sender rule, §6.5, not a reception rule)', () => {
    const p = decodeControl(hex`20 f0 03 18 | 00000001 | 00000002 | 000186a0 | 000186a0 | 00000000`);
    expect({ poll: p.poll, final: p.final, state: p.state }).toEqual({ poll: true, final: true, state: BfdState.Up });
  });

  it('decodes from a view into a larger buffer (UDP payload slices)', () => {
    const big = new Uint8Array(40);
    big.set(FIXTURES[1]!.bytes, 8);
    expect(decodeControl(big.subarray(8, 32))).toEqual(FIXTURES[1]!.packet);
  });
});

const ERRORS: { name: string; bytes: Uint8Array; reason: DiscardReason }[] = [
  { name: 'empty datagram', bytes: hex``, reason: 'truncated' },
  { name: 'three octets (no Length)', bytes: hex`20 40 03`, reason: 'truncated' },
  { name: 'version 0 (the pre-RFC draft)', bytes: hex`00 40 03 18 | 12345678 | 00000000 | 000f4240 | 000f4240 | 00000000`, reason: 'version' },
  { name: 'version 2', bytes: hex`40 40 03 18 | 12345678 | 00000000 | 000f4240 | 000f4240 | 00000000`, reason: 'version' },
  { name: 'version 0 wins over Detect Mult 0 (RFC order)', bytes: hex`00 40 00 18 | 00000000 | 00000000 | 000f4240 | 000f4240 | 00000000`, reason: 'version' },
  { name: 'Length 23', bytes: hex`20 40 03 17 | 12345678 | 00000000 | 000f4240 | 000f4240 | 00000000`, reason: 'length' },
  { name: 'Length 0', bytes: hex`20 40 03 00`, reason: 'length' },
  { name: 'A bit with Length 24 (26 is the minimum with A)', bytes: hex`20 44 03 18 | 12345678 | 00000000 | 000f4240 | 000f4240 | 00000000`, reason: 'length' },
  { name: 'Length 25, 24 octets received', bytes: hex`20 40 03 19 | 12345678 | 00000000 | 000f4240 | 000f4240 | 00000000`, reason: 'length-exceeds-payload' },
  { name: 'Length 24, 20 octets received', bytes: hex`20 40 03 18 | 12345678 | 00000000 | 000f4240 | 000f4240`, reason: 'length-exceeds-payload' },
  { name: 'Detect Mult 0', bytes: hex`20 40 00 18 | 12345678 | 00000000 | 000f4240 | 000f4240 | 00000000`, reason: 'detect-mult-zero' },
  { name: 'Multipoint bit', bytes: hex`20 41 03 18 | 12345678 | 00000000 | 000f4240 | 000f4240 | 00000000`, reason: 'multipoint' },
  { name: 'My Discriminator 0', bytes: hex`20 40 03 18 | 00000000 | 00000000 | 000f4240 | 000f4240 | 00000000`, reason: 'my-discriminator-zero' },
  { name: 'Your Discriminator 0 in Up', bytes: hex`20 c0 03 18 | 12345678 | 00000000 | 000f4240 | 000f4240 | 00000000`, reason: 'your-discriminator-zero' },
  { name: 'Your Discriminator 0 in Init', bytes: hex`20 80 03 18 | 12345678 | 00000000 | 000f4240 | 000f4240 | 00000000`, reason: 'your-discriminator-zero' },
  {
    name: 'A bit with a keyed-SHA1-sized section (herald has no authentication)',
    bytes: hex`20 c4 03 34 | 12345678 | 00000001 | 000f4240 | 000f4240 | 00000000 | 04 1c 01 00 00000001 ${'00'.repeat(20)}`,
    reason: 'authentication',
  },
  { name: 'A bit, Length 26, Simple Password', bytes: hex`20 44 03 1a | 12345678 | 00000000 | 000f4240 | 000f4240 | 00000000 | 01 02`, reason: 'authentication' },
];

describe('BFD decode errors carry the §6.8.6 reason', () => {
  it.each(ERRORS)('$name -> $reason', ({ bytes, reason }) => {
    let err: unknown;
    try {
      decodeControl(bytes);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BfdError);
    expect((err as BfdError).reason).toBe(reason);
    expect((err as BfdError).message).toContain(`(${reason})`);
  });

  it('covers every reason the codec raises', () => {
    const codec: DiscardReason[] = ['truncated', 'version', 'length', 'length-exceeds-payload', 'detect-mult-zero', 'multipoint', 'my-discriminator-zero', 'your-discriminator-zero', 'authentication'];
    expect(new Set(ERRORS.map((e) => e.reason))).toEqual(new Set(codec));
  });
});

describe('BFD encode', () => {
  it('refuses out-of-range fields with a RangeError naming the field', () => {
    expect(() => encodeControl({ ...base, diag: 32 })).toThrow(/Diag 32/);
    expect(() => encodeControl({ ...base, detectMult: 256 })).toThrow(/Detect Mult 256/);
    expect(() => encodeControl({ ...base, myDiscriminator: 2 ** 32 })).toThrow(/My Discriminator/);
    expect(() => encodeControl({ ...base, desiredMinTxUs: -1 })).toThrow(/Desired Min TX/);
    expect(() => encodeControl({ ...base, requiredMinRxUs: 1.5 })).toThrow(/Required Min RX/);
  });
});
