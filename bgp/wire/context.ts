/**
 * The negotiated context handed to codecs (STYLE.md §7).
 *
 * Computed once when the OPENs are exchanged (bgp/session), never read from
 * config by a codec. Before the OPEN exchange `DEFAULT_CONTEXT` applies:
 * 2-octet AS numbers, 4096-byte messages, no ADD-PATH.
 */
import { Afi, MAX_EXTENDED_MESSAGE_LEN, MAX_MESSAGE_LEN } from './iana.js';

/** "afi/safi" key for a family, e.g. "1/1" for IPv4 unicast. */
export type FamilyKey = `${number}/${number}`;
export const familyKey = (afi: number, safi: number): FamilyKey => `${afi}/${safi}`;
export const IPV4_UNICAST: FamilyKey = familyKey(Afi.IPv4, 1);
export const IPV6_UNICAST: FamilyKey = familyKey(Afi.IPv6, 1);

export interface CodecContext {
  /** RFC 6793: both sides sent the 4-octet AS capability. */
  readonly as4: boolean;
  /** RFC 8654: both sides support messages up to 65535 bytes. */
  readonly extendedMessage: boolean;
  /** RFC 7911: families for which received NLRI carry a path id. */
  readonly addPathReceive: ReadonlySet<FamilyKey>;
  /** RFC 7911: families for which sent NLRI carry a path id. */
  readonly addPathSend: ReadonlySet<FamilyKey>;
  /** RFC 8950: families ("afi/safi") whose NLRI may use an IPv6 next hop. */
  readonly extendedNextHop: ReadonlySet<FamilyKey>;
  /** True when the peer is in our AS (iBGP): LOCAL_PREF is sent and expected. */
  readonly ibgp: boolean;
}

export const DEFAULT_CONTEXT: CodecContext = {
  as4: false,
  extendedMessage: false,
  addPathReceive: new Set(),
  addPathSend: new Set(),
  extendedNextHop: new Set(),
  ibgp: false,
};

/** Largest message allowed in this context. */
export const maxMessageLen = (ctx: CodecContext): number =>
  ctx.extendedMessage ? MAX_EXTENDED_MESSAGE_LEN : MAX_MESSAGE_LEN;

/** Return a context with some fields changed. */
export function withContext(base: CodecContext, patch: Partial<CodecContext>): CodecContext {
  return { ...base, ...patch };
}
