/**
 * Random and mutated bytes into the BFD codec, and random event sequences
 * into the session machine.
 *
 * Codec: the only outcomes allowed are a packet or a BfdError whose reason
 * is one of the codec's (STYLE.md §12); a TypeError, RangeError or anything
 * else is a bug. A packet that decodes must survive encode -> decode
 * unchanged. Session: no event sequence may throw, and after every step the
 * RFC 5880 invariants hold (slow rate while not Up, no Poll Sequence while
 * not Up, diag 0 while Up, no transmission by a Passive session that knows
 * no remote, deadlines finite and never before the step that set them).
 * Every generated case is counted and the totals asserted.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BfdError, decodeControl, encodeControl, type BfdControlPacket, type DecodeReason } from '../../../bgp/bfd/wire.js';
import { BFD_SLOW_TX_US, BfdState } from '../../../bgp/bfd/iana.js';
import { createBfdSession, mayTransmit, step, type BfdEvent, type BfdSession } from '../../../bgp/bfd/session.js';
import { hex } from '../wire/msg-fixture.js';

/** Fixed seed so a failure reproduces; override with FUZZ_SEED to explore. */
const SEED = Number(process.env['FUZZ_SEED'] ?? 20240601);
const RUNS = { random: 4_000, mutated: 8_000, sessions: 1_500 };
const CODEC_REASONS: ReadonlySet<DecodeReason> = new Set([
  'truncated',
  'version',
  'length',
  'length-exceeds-payload',
  'detect-mult-zero',
  'multipoint',
  'my-discriminator-zero',
  'your-discriminator-zero',
  'authentication',
]);

const SEEDS: Uint8Array[] = [
  hex`20 40 03 18 12345678 00000000 000f4240 000f4240 00000000`,
  hex`20 e0 03 18 0000abcd 12345678 000186a0 000186a0 0000c350`,
  hex`27 00 03 18 12345678 00000000 000f4240 000f4240 00000000`,
  hex`21 80 01 18 00000002 00000003 000f4240 0001d4c0 00000000`,
  hex`20 c4 03 1a 12345678 00000001 000f4240 000f4240 00000000 01 02`,
  hex`20 c0 05 18 00000009 0000000a 000186a0 000186a0 00000000`,
];

let decoded = 0;
let rejected = 0;
const reasons = new Set<string>();

/** Decode and check the outcome; returns the packet or null. */
function check(bytes: Uint8Array): BfdControlPacket | null {
  let p: BfdControlPacket;
  try {
    p = decodeControl(bytes);
  } catch (e) {
    if (!(e instanceof BfdError) || !CODEC_REASONS.has(e.reason as DecodeReason)) {
      throw new Error(`decodeControl(${Buffer.from(bytes).toString('hex')}) threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    }
    rejected++;
    reasons.add(e.reason);
    return null;
  }
  decoded++;
  expect(decodeControl(encodeControl(p))).toEqual(p);
  return p;
}

describe('fuzz: decodeControl only ever throws BfdError', () => {
  it(`random bytes (${RUNS.random} cases)`, () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 64 }), (b) => {
        check(b);
      }),
      { seed: SEED, numRuns: RUNS.random },
    );
  });

  it(`mutated packets (${RUNS.mutated} cases)`, () => {
    const mutation = fc.record({
      seed: fc.nat(SEEDS.length - 1),
      flips: fc.array(fc.record({ at: fc.nat(63), bit: fc.nat(7) }), { maxLength: 4 }),
      cut: fc.option(fc.nat(40)),
      tail: fc.uint8Array({ maxLength: 8 }),
      lengthByte: fc.option(fc.nat(255)),
      zero: fc.option(fc.record({ at: fc.nat(23), len: fc.integer({ min: 1, max: 4 }) })),
    });
    fc.assert(
      fc.property(mutation, (m) => {
        let b: Uint8Array = new Uint8Array([...SEEDS[m.seed]!, ...m.tail]);
        for (const f of m.flips) if (f.at < b.length) b[f.at]! ^= 1 << f.bit;
        if (m.lengthByte !== null && b.length > 3) b[3] = m.lengthByte;
        if (m.zero !== null) b.fill(0, m.zero.at, Math.min(b.length, m.zero.at + m.zero.len));
        if (m.cut !== null) b = b.subarray(0, m.cut);
        check(b);
      }),
      { seed: SEED + 1, numRuns: RUNS.mutated },
    );
  });

  it('ran every case, decoded some, and rejected some for each reason', () => {
    expect(decoded + rejected).toBe(RUNS.random + RUNS.mutated);
    expect(decoded).toBeGreaterThan(300);
    expect(rejected).toBeGreaterThan(1_000);
    expect(reasons).toEqual(new Set(CODEC_REASONS));
  });
});

describe('fuzz: random event sequences keep the session machine sound', () => {
  const packetArb: fc.Arbitrary<BfdControlPacket> = fc.record({
    diag: fc.nat(31),
    state: fc.constantFrom(BfdState.AdminDown, BfdState.Down, BfdState.Init, BfdState.Up),
    poll: fc.boolean(),
    final: fc.boolean(),
    cpi: fc.boolean(),
    demand: fc.boolean(),
    detectMult: fc.integer({ min: 1, max: 255 }),
    myDiscriminator: fc.integer({ min: 1, max: 0xffffffff }),
    yourDiscriminator: fc.constantFrom(0, 7),
    desiredMinTxUs: fc.constantFrom(0, 1, 10_000, 100_000, 1_000_000, 0xffffffff),
    requiredMinRxUs: fc.constantFrom(0, 1, 10_000, 100_000, 1_000_000, 0xffffffff),
    requiredMinEchoRxUs: fc.constantFrom(0, 50_000),
  });
  const eventArb: fc.Arbitrary<[BfdEvent, number]> = fc.tuple(
    fc.oneof(
      { weight: 6, arbitrary: packetArb.map((packet): BfdEvent => ({ type: 'Packet', packet })) },
      { weight: 3, arbitrary: fc.constant<BfdEvent>({ type: 'TxTimer' }) },
      { weight: 2, arbitrary: fc.constant<BfdEvent>({ type: 'DetectTimer' }) },
      { weight: 1, arbitrary: fc.constant<BfdEvent>({ type: 'AdminDown' }) },
      { weight: 1, arbitrary: fc.constant<BfdEvent>({ type: 'AdminUp' }) },
      {
        weight: 2,
        arbitrary: fc
          .record({
            desiredMinTxUs: fc.constantFrom(10_000, 100_000, 300_000, 2_000_000),
            requiredMinRxUs: fc.constantFrom(10_000, 100_000, 300_000),
            detectMult: fc.integer({ min: 1, max: 10 }),
            passive: fc.boolean(),
          }, { requiredKeys: [] })
          .map((params): BfdEvent => ({ type: 'SetParams', params })),
      },
    ),
    fc.integer({ min: 0, max: 3_000 }),
  );
  let steps = 0;
  let upSteps = 0;

  function invariants(prev: BfdSession, s: BfdSession, now: number): void {
    if (s.state !== BfdState.Up) {
      expect(s.desiredMinTxUs).toBeGreaterThanOrEqual(BFD_SLOW_TX_US);
      expect(s.poll).toBeNull();
    } else {
      expect(s.localDiag).toBe(0);
    }
    if (!mayTransmit(s)) expect(s.timers.tx).toBeUndefined();
    // A deadline this step set is finite and not in the past (one it left alone may be overdue).
    for (const k of ['tx', 'detect'] as const) {
      const d = s.timers[k];
      if (d !== undefined && d !== prev.timers[k]) expect(Number.isFinite(d) && d >= now - 1e-9, `${k} ${d} at ${now}`).toBe(true);
    }
    expect(s.txBaseUs).toBeGreaterThan(0);
  }

  it(`${RUNS.sessions} sequences of up to 40 events`, () => {
    fc.assert(
      fc.property(fc.boolean(), fc.array(eventArb, { minLength: 5, maxLength: 40 }), fc.nat(), (passive, events, seed) => {
        let s = createBfdSession({ desiredMinTxUs: 100_000, requiredMinRxUs: 100_000, detectMult: 3, passive }, 7, 0, seed);
        let now = 0;
        for (const [e, dt] of events) {
          // Timer events arrive at their deadline (as the driver feeds them) or late.
          if (e.type === 'TxTimer' && s.timers.tx !== undefined) now = Math.max(now, s.timers.tx);
          else if (e.type === 'DetectTimer' && s.timers.detect !== undefined) now = Math.max(now, s.timers.detect);
          else now += dt;
          const prev = s;
          s = step(s, e, now).session;
          steps++;
          invariants(prev, s, now);
          if (s.state === BfdState.Up) upSteps++;
        }
      }),
      { seed: SEED + 2, numRuns: RUNS.sessions },
    );
    expect(steps).toBeGreaterThan(RUNS.sessions * 10);
    expect(upSteps).toBeGreaterThan(1_000);
  });
});
