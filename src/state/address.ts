/**
 * The edge parser of `routes lookup ADDR` and `GET /v1/lookup?address=`:
 * one IPv4 or IPv6 address, read with ip-address so a typo gets a sentence
 * rather than a silent miss. Kept apart from format.ts so the `routes` CLI
 * can load it without the BGP code format.ts brings along.
 * No RFC beyond the address texts of RFC 4291 §2.2 and RFC 5952.
 */
import { Address4, Address6 } from 'ip-address';

/** A parsed lookup address: canonical text and family. */
export interface LookupAddress {
  address: string;
  family: 'ipv4' | 'ipv6';
}

/** Parse one address (no prefix length, no zone); a string says what is wrong. */
export function parseLookupAddress(text: string): LookupAddress | string {
  const t = text.trim();
  if (t === '') return 'an address is needed, e.g. 198.51.100.53 or 2001:db8::53';
  if (t.includes('/')) return `'${t}' is a prefix; lookup takes one address (routes explain takes a prefix)`;
  if (t.includes('%')) return `'${t}' has a zone index; lookup takes a global address`;
  if (Address4.isValid(t)) return { address: new Address4(t).correctForm(), family: 'ipv4' };
  if (Address6.isValid(t)) return { address: new Address6(t).correctForm(), family: 'ipv6' };
  return `'${t}' is not an IPv4 or IPv6 address (try 198.51.100.53 or 2001:db8::53)`;
}
