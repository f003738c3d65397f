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

/** The i-th IPv4 /32 (0-based), e.g. 0 → "240.0.0.0/32". */
export function v4Route(i: number): string {
  const a = 240 + ((i >>> 24) & 15);
  return `${a}.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}/32`;
}

/** The i-th IPv6 /128 (0-based), e.g. 0 → "2001:db8:1::1/128", 65535 → "2001:db8:1::1:0/128". */
export function v6Route(i: number): string {
  const n = i + 1;
  const hi = Math.floor(n / 0x10000);
  const lo = (n & 0xffff).toString(16);
  return hi > 0 ? `2001:db8:1::${hi.toString(16)}:${lo}/128` : `2001:db8:1::${lo}/128`;
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
