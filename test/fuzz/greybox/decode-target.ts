/**
 * Fuzz target "decode": the wire codecs alone.
 *
 * Input: `[flags][bytes]`. Flags bit 0 as4, 1 ADD-PATH (all unicast and
 * multicast families), 2 extended message, 3 iBGP choose the CodecContext
 * (16 contexts); bits 4-6 choose how the Framer is fed (whole, octet by
 * octet, or in chunks of 2..64 octets).
 *
 * Oracles (fuzz-support.ts `checkDecode`): `decodeMessage` of the bytes as
 * one frame, and of every frame the Framer cuts from them, may only return a
 * message or throw a BgpError with a NOTIFICATION code 1..8; a message that
 * decodes without RFC 7606 errors must survive encode -> decode unchanged
 * (round trip). Anything else thrown is a crash.
 */
import { Framer } from '../../../bgp/wire/framer.js';
import { MAX_EXTENDED_MESSAGE_LEN, MAX_MESSAGE_LEN } from '../../../bgp/wire/iana.js';
import { checkDecode, isAllowedError, type CtxFlags } from '../fuzz-support.js';
import type { Target } from './engine.js';
import { realSeeds } from './seeds.js';

const CHUNKS = [0, 1, 2, 3, 7, 19, 64, 0];

/** The flags octet for a codec context. */
export function ctxByte(f: CtxFlags): number {
  return (f.as4 ? 1 : 0) | (f.addPath ? 2 : 0) | (f.extMsg ? 4 : 0) | (f.ibgp ? 8 : 0);
}

export function ctxFlags(b: number): CtxFlags {
  return { as4: (b & 1) !== 0, addPath: (b & 2) !== 0, extMsg: (b & 4) !== 0, ibgp: (b & 8) !== 0 };
}

/** Run the decoder oracle over one input (exported for the regression replay). */
export function runDecode(input: Uint8Array): void {
  if (input.length === 0) return;
  const flags = ctxFlags(input[0]!);
  const bytes = input.subarray(1);
  checkDecode(bytes, flags);
  const framer = new Framer(flags.extMsg ? MAX_EXTENDED_MESSAGE_LEN : MAX_MESSAGE_LEN);
  const chunk = CHUNKS[(input[0]! >>> 4) & 7]! || bytes.length || 1;
  try {
    for (let p = 0; p < bytes.length; p += chunk) {
      framer.push(bytes.subarray(p, p + chunk));
      for (let f = framer.next(); f !== null; f = framer.next()) {
        // A stream of one whole message was checked above already.
        if (f.length !== bytes.length) checkDecode(f, flags);
      }
    }
  } catch (e) {
    // The Framer's own verdict on a bad header: a BgpError is the only allowed one.
    if (!isAllowedError(e)) throw e;
  }
}

export const decodeTarget: Target = {
  name: 'decode',
  streamOffset: 1,
  run: runDecode,
  seeds: () => realSeeds().map((s) => Uint8Array.of(ctxByte(s.ctx), ...s.frame)),
};
