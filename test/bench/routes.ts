/**
 * The benchmark's route data, one definition for every sender (herald, BIRD,
 * OpenBGPD, GoBGP), so each one announces exactly the same prefixes.
 *
 *   IPv4: host routes counted up from 240.0.0.0 (240.0.0.0/4 is reserved and
 *         never routed; LAB.md allows it as route data between namespaces,
 *         never installed into a kernel table). 1,000,000 fit in 240.0/12.
 *   IPv6: host routes counted up from 2001:db8:1::1 in RFC 5952 text
 *         (canonical text is the RIB's fast path).
 *
 * Test infrastructure, no RFC behaviour of its own.
 */

/*
 * The prefix text is written byte by byte into a scratch buffer and read back
 * as one string: a template literal of this length becomes a V8 cons string
 * (a tree of the pieces, ~90 octets a prefix), a flat copy ~40 octets. With
 * 1.1M prefixes held by the caller during hand-off, that is 50 MB of peak RSS.
 */
const scratch = Buffer.alloc(64);
let at = 0;

/** Append `n` in `radix` (10 or 16, lower case) to the scratch buffer. */
function putNum(n: number, radix: number): void {
  let digits = 1;
  for (let v = n; v >= radix; v = Math.floor(v / radix)) digits++;
  for (let k = at + digits - 1; k >= at; k--, n = Math.floor(n / radix)) {
    const d = n % radix;
    scratch[k] = d < 10 ? 48 + d : 87 + d;
  }
  at += digits;
}

/** Append ASCII text to the scratch buffer. */
function putText(s: string): void {
  for (let k = 0; k < s.length; k++) scratch[at++] = s.charCodeAt(k);
}

/** The scratch buffer's text as one flat string; empties the buffer. */
function take(): string {
  const s = scratch.toString('latin1', 0, at);
  at = 0;
  return s;
}

/** The i-th IPv4 /32 (0-based), e.g. 0 → "240.0.0.0/32". */
export function v4Route(i: number): string {
  putNum(240 + ((i >>> 24) & 15), 10);
  putText('.');
  putNum((i >>> 16) & 255, 10);
  putText('.');
  putNum((i >>> 8) & 255, 10);
  putText('.');
  putNum(i & 255, 10);
  putText('/32');
  return take();
}

/** The i-th IPv6 /128 (0-based), e.g. 0 → "2001:db8:1::1/128", 65535 → "2001:db8:1::1:0/128". */
export function v6Route(i: number): string {
  const n = i + 1;
  const hi = Math.floor(n / 0x10000);
  putText('2001:db8:1::');
  if (hi > 0) {
    putNum(hi, 16);
    putText(':');
  }
  putNum(n & 0xffff, 16);
  putText('/128');
  return take();
}

/** Every IPv4 prefix of the run, in order. */
export function v4Routes(count: number): string[] {
  const out = new Array<string>(count);
  for (let i = 0; i < count; i++) out[i] = v4Route(i);
  return out;
}

/** Every IPv6 prefix of the run, in order. */
export function v6Routes(count: number): string[] {
  const out = new Array<string>(count);
  for (let i = 0; i < count; i++) out[i] = v6Route(i);
  return out;
}
