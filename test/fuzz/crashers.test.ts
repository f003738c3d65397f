/**
 * Replay every input kept in test/fuzz/crashers/ (format in fuzz-support.ts):
 * each must decode or be rejected with a BgpError, never crash the decoder or
 * the Framer. To keep a new counterexample, paste the "crasher file" block a
 * failing fuzz test prints into a new .hex file with a comment line saying
 * what it is.
 */
import { describe, expect, it } from 'vitest';
import { BgpError } from '../../bgp/wire/errors.js';
import { decodeMessage } from '../../bgp/wire/messages/index.js';
import { Framer } from '../../bgp/wire/framer.js';
import { checkDecode, frameAndDecode, makeContext, readCrashers } from './fuzz-support.js';
import { runPipeline } from './greybox/pipeline-target.js';

describe('fuzz regressions: test/fuzz/crashers/*.hex', () => {
  const crashers = readCrashers();

  it('has regression inputs to replay', () => {
    expect(crashers.length).toBeGreaterThanOrEqual(7);
  });

  for (const c of crashers) {
    it(`${c.file} (${c.target})`, () => {
      const ctx = makeContext(c.ctx);
      if (c.target === 'decode') {
        checkDecode(c.bytes, c.ctx);
      } else if (c.target === 'pipeline') {
        // The greybox pipeline target's whole input: flags octet, then the peer's stream.
        runPipeline(c.bytes);
      } else {
        // Whole, then one octet at a time, then in 7-octet chunks.
        for (const cuts of [[c.bytes.length], [1], [7]]) frameAndDecode(c.bytes, cuts, ctx);
      }
    });
  }

  it('nlri-trailing-stub.hex is rejected as Invalid Network Field (session reset)', () => {
    const c = crashers.find((x) => x.file === 'nlri-trailing-stub.hex');
    expect(c).toBeDefined();
    let err: unknown;
    try {
      decodeMessage(c!.bytes, makeContext(c!.ctx));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BgpError);
    expect([(err as BgpError).code, (err as BgpError).subcode, (err as BgpError).action]).toEqual([3, 10, 'session-reset']);
  });

  it('framer-zero-length.hex yields the KEEPALIVE, then Bad Message Length with the length as data', () => {
    const c = crashers.find((x) => x.file === 'framer-zero-length.hex')!;
    const frames: number[] = [];
    let err: unknown;
    try {
      runFramer(c.bytes, frames);
    } catch (e) {
      err = e;
    }
    expect(frames).toEqual([19]);
    expect(err).toBeInstanceOf(BgpError);
    expect([(err as BgpError).code, (err as BgpError).subcode, Array.from((err as BgpError).data)]).toEqual([1, 2, [0, 0]]);
  });
});

/** Push octet by octet, recording frame lengths; let the BgpError escape. */
function runFramer(stream: Uint8Array, frames: number[]): void {
  const f = new Framer();
  for (let i = 0; i < stream.length; i++) {
    f.push(stream.subarray(i, i + 1));
    for (let m = f.next(); m !== null; m = f.next()) frames.push(m.length);
  }
}
