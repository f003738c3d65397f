/**
 * Fixture helpers for the message codec tests: annotated hex in, hex dumps
 * out, so a failing byte comparison shows as a line diff of 16-octet rows.
 */
import { expect } from 'vitest';
import { BgpError } from '../../../bgp/wire/errors.js';

/** Parse annotated hex: `#` starts a comment to end of line; whitespace and `|` are ignored. */
export function hex(text: string | TemplateStringsArray, ...vals: unknown[]): Uint8Array {
  const s = typeof text === 'string' ? text : String.raw({ raw: text }, ...vals);
  const digits = s
    .split('\n')
    .map((l) => l.replace(/#.*$/, ''))
    .join('')
    .replace(/[\s|]/g, '');
  if (digits.length % 2 !== 0 || /[^0-9a-fA-F]/.test(digits)) throw new Error(`bad hex fixture: ${digits}`);
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(digits.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Format bytes as rows of 16 octets with offsets, for readable diffs. */
export function dump(b: Uint8Array): string {
  const rows: string[] = [];
  for (let i = 0; i < b.length; i += 16) {
    const row = Array.from(b.subarray(i, i + 16), (x) => x.toString(16).padStart(2, '0')).join(' ');
    rows.push(`${i.toString(16).padStart(4, '0')}: ${row}`);
  }
  return rows.join('\n');
}

/** Assert two byte strings are equal, failing with a hex line diff. */
export function expectBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(dump(actual)).toBe(dump(expected));
}

/** The 16-octet all-ones marker as hex. */
export const MARKER = 'ffffffffffffffffffffffffffffffff';

/** Build a whole message: marker, length, type, body. */
export function frame(type: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(19 + body.length);
  out.fill(0xff, 0, 16);
  out[16] = (out.length >>> 8) & 0xff;
  out[17] = out.length & 0xff;
  out[18] = type;
  out.set(body, 19);
  return out;
}

/** Run `fn`, assert it throws a BgpError with this code, subcode and data; return it. */
export function expectBgpError(fn: () => unknown, code: number, subcode: number, data: Uint8Array = new Uint8Array(0)): BgpError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected a BgpError to be thrown').toBeInstanceOf(BgpError);
  const e = err as BgpError;
  expect({ code: e.code, subcode: e.subcode }).toEqual({ code, subcode });
  expectBytes(e.data, data);
  return e;
}
