/**
 * The capability registry, keyed by capability code (RFC 5492 §4; STYLE.md §6).
 *
 * The Capabilities Optional Parameter holds a list of triples:
 *
 *   +------------------------------+
 *   | Capability Code (1 octet)    |
 *   +------------------------------+
 *   | Capability Length (1 octet)  |
 *   +------------------------------+
 *   | Capability Value (variable)  |
 *   +------------------------------+  ... repeated
 *
 * Each known code has one codec file; any other code is kept opaque as
 * `{ kind: 'unknown', code, value }` and re-encoded byte for byte. Repeated
 * capabilities are kept in received order: RFC 5492 §4 allows a capability to
 * appear more than once, and it is the session that decides what that means.
 */
import { Reader } from '../reader.js';
import { Writer } from '../writer.js';
import type { Capability } from '../types.js';
import { CAP_SHORT, capError, type CapabilityCodec, type CapOf } from './codec.js';
import { multiprotocol } from './multiprotocol.js';
import { routeRefresh } from './route-refresh.js';
import { extendedNextHop } from './extended-next-hop.js';
import { extendedMessage } from './extended-message.js';
import { gracefulRestart } from './graceful-restart.js';
import { fourOctetAs } from './four-octet-as.js';
import { addPath } from './add-path.js';
import { enhancedRouteRefresh } from './enhanced-route-refresh.js';
import { fqdn } from './fqdn.js';

export type { CapabilityCodec, CapOf, KnownCapKind } from './codec.js';

const CODECS: readonly CapabilityCodec[] = [
  multiprotocol,
  routeRefresh,
  extendedNextHop,
  extendedMessage,
  gracefulRestart,
  fourOctetAs,
  addPath,
  enhancedRouteRefresh,
  fqdn,
] as unknown as readonly CapabilityCodec[];

/** Capability codecs by code. */
export const CAPABILITY_CODECS: ReadonlyMap<number, CapabilityCodec> = new Map(CODECS.map((c) => [c.code, c]));
const BY_KIND: ReadonlyMap<string, CapabilityCodec> = new Map(CODECS.map((c) => [c.kind, c]));

/** Read one capability triple from `r`. */
export function readCapability(r: Reader): Capability {
  const code = r.u8('capability code');
  const len = r.u8('capability length');
  const v = r.sub(len, CAP_SHORT, `capability ${code} value`);
  const codec = CAPABILITY_CODECS.get(code);
  if (!codec) return { code, kind: 'unknown', value: v.rest().slice() };
  const cap = codec.decode(v);
  if (!v.atEnd) throw capError(`capability ${code} has ${v.remaining} trailing octets`);
  return cap;
}

/** Read capability triples until `r` is exhausted. */
export function readCapabilities(r: Reader): Capability[] {
  const out: Capability[] = [];
  while (!r.atEnd) out.push(readCapability(r));
  return out;
}

/** Write one capability triple. */
export function writeCapability(w: Writer, cap: Capability): void {
  w.u8(cap.code);
  const at = w.reserve8();
  if (cap.kind === 'unknown') {
    w.bytes(cap.value);
  } else {
    const codec = BY_KIND.get(cap.kind) as CapabilityCodec<typeof cap.kind> | undefined;
    if (!codec) throw new RangeError(`no codec for capability kind ${cap.kind}`);
    codec.encode(w, cap as CapOf<typeof cap.kind>);
  }
  // RFC 5492 §4: Capability Length is one octet; fill8 throws if it overflows.
  w.fill8(at);
}

/** Write capability triples in order. */
export function writeCapabilities(w: Writer, caps: readonly Capability[]): void {
  for (const c of caps) writeCapability(w, c);
}

/** Decode the value of a Capabilities Optional Parameter into capabilities. */
export function decodeCapabilities(value: Uint8Array): Capability[] {
  return readCapabilities(new Reader(value, CAP_SHORT));
}

/** Encode capabilities as the value of a Capabilities Optional Parameter. */
export function encodeCapabilities(caps: readonly Capability[]): Uint8Array {
  const w = new Writer(64);
  writeCapabilities(w, caps);
  return w.finish();
}

/** Return the first capability of a kind, if present. */
export function findCapability<K extends Capability['kind']>(caps: readonly Capability[], kind: K): CapOf<K> | undefined {
  return caps.find((c): c is CapOf<K> => c.kind === kind);
}

/** Return every capability of a kind, in order. */
export function findCapabilities<K extends Capability['kind']>(caps: readonly Capability[], kind: K): CapOf<K>[] {
  return caps.filter((c): c is CapOf<K> => c.kind === kind);
}

export { multiprotocol, routeRefresh, extendedNextHop, extendedMessage, gracefulRestart, fourOctetAs, addPath, enhancedRouteRefresh, fqdn };
