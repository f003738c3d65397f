/**
 * Random and mutated bytes fed to `decodeMessage` and to the Framer: the only
 * outcomes allowed are a decoded message or a BgpError with a NOTIFICATION
 * code in 1..8 (STYLE.md §4, §12). A TypeError, RangeError or anything else
 * is a codec bug. A message that decodes cleanly must also survive
 * encode -> decode unchanged (a decoder must not accept what its own encoder
 * cannot reproduce).
 *
 * Counterexamples go to test/fuzz/crashers/*.hex (see fuzz-support.ts) and
 * are replayed by crashers.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyMutation, fixHeaderLength, mutationArb } from './mutate.js';
import {
  checkDecode,
  corpusSeeds,
  crasherText,
  decodeOrBgpError,
  describeThrow,
  fixtureSeeds,
  frameAndDecode,
  makeContext,
  type CtxFlags,
  type Seed,
} from './fuzz-support.js';

/** Fixed seed so a failure reproduces; override with FUZZ_SEED to explore. */
const SEED = Number(process.env['FUZZ_SEED'] ?? 20240601);
const RUNS = {
  randomBytes: 5_000,
  randomBody: 10_000,
  mutated: 31_000,
  framer: 4_000,
};

const ctxArb: fc.Arbitrary<CtxFlags> = fc.record({ as4: fc.boolean(), addPath: fc.boolean(), extMsg: fc.boolean(), ibgp: fc.boolean() });

let cases = 0;
/** Wrap a property body so that every run is counted. */
const count =
  <A extends unknown[]>(p: (...a: A) => void) =>
  (...a: A): void => {
    cases++;
    p(...a);
  };

describe('fuzz: decodeMessage and the Framer only ever throw BgpError', () => {
  const seeds: Seed[] = [...fixtureSeeds(), ...corpusSeeds(3_000)];

  it('the seeds themselves decode cleanly and re-encode identically', () => {
    expect(seeds.length).toBeGreaterThan(1_000);
    for (const s of seeds) {
      const msg = decodeOrBgpError(s.frame, makeContext(s.ctx));
      expect(msg, s.name).not.toBeNull();
      checkDecode(s.frame, s.ctx);
    }
  });

  it(`random bytes (${RUNS.randomBytes} cases)`, () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 200 }), ctxArb, count((b: Uint8Array, f: CtxFlags) => checkDecode(b, f))),
      { numRuns: RUNS.randomBytes, seed: SEED },
    );
  });

  it(`random bodies behind a valid header (${RUNS.randomBody} cases)`, () => {
    const arb = fc.tuple(fc.integer({ min: 1, max: 5 }), fc.uint8Array({ minLength: 0, maxLength: 300 }), ctxArb);
    fc.assert(
      fc.property(
        arb,
        count(([type, body, f]: [number, Uint8Array, CtxFlags]) => {
          const frame = new Uint8Array(19 + body.length);
          frame.fill(0xff, 0, 16);
          frame[16] = frame.length >>> 8;
          frame[17] = frame.length & 0xff;
          frame[18] = type;
          frame.set(body, 19);
          checkDecode(frame, f);
        }),
      ),
      { numRuns: RUNS.randomBody, seed: SEED + 1 },
    );
  });

  it(`mutated real and fixture messages (${RUNS.mutated} cases)`, () => {
    const arb = fc.record({
      seed: fc.integer({ min: 0, max: seeds.length - 1 }),
      // Fixtures are few; give them a fair share of the runs.
      fixture: fc.boolean(),
      muts: fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
      fixLength: fc.boolean(),
      flipCtx: fc.boolean(),
    });
    const nFixtures = fixtureSeeds().length;
    fc.assert(
      fc.property(
        arb,
        count((a: { seed: number; fixture: boolean; muts: Parameters<typeof applyMutation>[1][]; fixLength: boolean; flipCtx: boolean }) => {
          const s = seeds[a.fixture ? a.seed % nFixtures : a.seed]!;
          let b = s.frame;
          for (const m of a.muts) b = applyMutation(b, m);
          if (a.fixLength) b = fixHeaderLength(b);
          // Decoding with the wrong AS width or ADD-PATH setting is itself a mutation.
          const f = a.flipCtx ? { ...s.ctx, as4: !s.ctx.as4, addPath: !s.ctx.addPath } : s.ctx;
          checkDecode(b, f);
        }),
      ),
      { numRuns: RUNS.mutated, seed: SEED + 2 },
    );
  });

  it(`the Framer on mutated streams cut at random points (${RUNS.framer} cases)`, () => {
    const arb = fc.record({
      picks: fc.array(fc.integer({ min: 0, max: seeds.length - 1 }), { minLength: 1, maxLength: 6 }),
      muts: fc.array(mutationArb, { minLength: 0, maxLength: 3 }),
      cuts: fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 }),
      extMsg: fc.boolean(),
    });
    fc.assert(
      fc.property(
        arb,
        count((a: { picks: number[]; muts: Parameters<typeof applyMutation>[1][]; cuts: number[]; extMsg: boolean }) => {
          const parts = a.picks.map((i) => seeds[i]!.frame);
          let stream: Uint8Array = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
          let o = 0;
          for (const p of parts) {
            stream.set(p, o);
            o += p.length;
          }
          for (const m of a.muts) stream = applyMutation(stream, m);
          const f: CtxFlags = { ...seeds[a.picks[0]!]!.ctx, extMsg: a.extMsg };
          try {
            const n = frameAndDecode(stream, a.cuts, makeContext(f));
            if (a.muts.length === 0) expect(n).toBe(parts.length);
          } catch (e) {
            throw new Error(`Framer path threw a non-BgpError: ${describeThrow(e)}\n--- crasher file ---\n${crasherText('framer', f, stream)}`);
          }
        }),
      ),
      { numRuns: RUNS.framer, seed: SEED + 3 },
    );
  });

  it('ran at least 50,000 generated decode cases', () => {
    expect(cases).toBe(RUNS.randomBytes + RUNS.randomBody + RUNS.mutated + RUNS.framer);
    expect(cases).toBeGreaterThanOrEqual(50_000);
  });
});
