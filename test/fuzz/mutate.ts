/**
 * Mutation operators for the fuzz tests, as fast-check arbitraries: bit
 * flips, byte overwrites, truncation, length-field tampering (the header
 * length, the Withdrawn Routes and Total Path Attribute lengths, or any
 * 16-bit position), inserted and deleted bytes. Optionally the header length
 * is patched after a mutation so that the body decoders, not only the header
 * check, see the damage.
 */
import fc from 'fast-check';

export type Mutation =
  | { op: 'flip'; pos: number; bit: number }
  | { op: 'set'; pos: number; value: number }
  | { op: 'truncate'; keep: number }
  | { op: 'insert'; pos: number; bytes: Uint8Array }
  | { op: 'delete'; pos: number; n: number }
  | { op: 'len16'; field: 'header' | 'withdrawn' | 'attributes' | 'any'; pos: number; delta: number; value: number | null };

/** Positions are fractions of the message length, so one arbitrary fits any seed. */
const frac = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('flip' as const), pos: frac.map((x) => x), bit: fc.integer({ min: 0, max: 7 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('set' as const), pos: frac, value: fc.oneof(fc.constantFrom(0, 1, 0x7f, 0x80, 0xff), fc.integer({ min: 0, max: 255 })) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('truncate' as const), keep: frac }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('insert' as const), pos: frac, bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), pos: frac, n: fc.integer({ min: 1, max: 8 }) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('len16' as const),
      field: fc.constantFrom('header' as const, 'withdrawn' as const, 'attributes' as const, 'any' as const),
      pos: frac,
      delta: fc.integer({ min: -4, max: 4 }),
      value: fc.option(fc.constantFrom(0, 1, 18, 19, 23, 0xff, 0x100, 4096, 4097, 0xffff), { nil: null }),
    }),
  },
);

const at = (b: Uint8Array, f: number): number => Math.min(b.length - 1, Math.floor(f * b.length));

function patch16(b: Uint8Array, pos: number, delta: number, value: number | null): void {
  if (pos < 0 || pos + 2 > b.length) return;
  const old = (b[pos]! << 8) | b[pos + 1]!;
  const v = (value ?? old + delta) & 0xffff;
  b[pos] = v >>> 8;
  b[pos + 1] = v & 0xff;
}

/** Apply one mutation, returning a new array. */
export function applyMutation(src: Uint8Array, m: Mutation): Uint8Array {
  if (src.length === 0) return src;
  switch (m.op) {
    case 'flip': {
      const b = src.slice();
      const p = at(b, m.pos);
      b[p] = b[p]! ^ (1 << m.bit);
      return b;
    }
    case 'set': {
      const b = src.slice();
      b[at(b, m.pos)] = m.value;
      return b;
    }
    case 'truncate':
      return src.slice(0, Math.floor(m.keep * src.length));
    case 'insert': {
      const p = at(src, m.pos);
      const b = new Uint8Array(src.length + m.bytes.length);
      b.set(src.subarray(0, p));
      b.set(m.bytes, p);
      b.set(src.subarray(p), p + m.bytes.length);
      return b;
    }
    case 'delete': {
      const p = at(src, m.pos);
      const gone = Math.min(m.n, src.length - p);
      const b = new Uint8Array(src.length - gone);
      b.set(src.subarray(0, p));
      b.set(src.subarray(p + gone), p);
      return b;
    }
    case 'len16': {
      const b = src.slice();
      // UPDATE layout: header length at 16, Withdrawn Routes Length at 19,
      // Total Path Attribute Length right after the withdrawn routes.
      const wr = b.length >= 21 ? (b[19]! << 8) | b[20]! : 0;
      const pos = m.field === 'header' ? 16 : m.field === 'withdrawn' ? 19 : m.field === 'attributes' ? 21 + wr : at(b, m.pos);
      patch16(b, pos, m.delta, m.value);
      return b;
    }
  }
}

/** Set the header Length field to the array's real length (when it has a header). */
export function fixHeaderLength(b: Uint8Array): Uint8Array {
  if (b.length < 19 || b.length > 0xffff) return b;
  const out = b.slice();
  out[16] = b.length >>> 8;
  out[17] = b.length & 0xff;
  return out;
}
