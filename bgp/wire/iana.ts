/**
 * Protocol numbers, in one place (STYLE.md §5).
 *
 * Every number herald puts on or reads from the wire is named here as an
 * `as const` object with a derived union type, plus a name table for logs.
 * Sources: IANA "Border Gateway Protocol (BGP) Parameters" registries, RFC 4271
 * §4 and §6, RFC 4486, RFC 6608, RFC 7313, RFC 9687.
 */

/** Look up the name of a protocol number for logs, falling back to the number. */
export function nameOf<T extends Record<string, number>>(table: T, value: number): string {
  for (const [k, v] of Object.entries(table)) if (v === value) return k;
  return String(value);
}

/** RFC 4271 §4.1: message types. */
export const MsgType = {
  OPEN: 1,
  UPDATE: 2,
  NOTIFICATION: 3,
  KEEPALIVE: 4,
  ROUTE_REFRESH: 5, // RFC 2918
} as const;
export type MsgType = (typeof MsgType)[keyof typeof MsgType];

/** RFC 4271 §4.1: 16-octet marker + 2-octet length + 1-octet type. */
export const HEADER_LEN = 19;
/** RFC 4271 §4: maximum message size without RFC 8654. */
export const MAX_MESSAGE_LEN = 4096;
/** RFC 8654 §3: maximum message size once Extended Message is negotiated. */
export const MAX_EXTENDED_MESSAGE_LEN = 65535;
/** RFC 6793 §9: AS_TRANS, the 2-octet stand-in for a 4-octet AS. */
export const AS_TRANS = 23456;

/** RFC 4271 §4.5 and later: NOTIFICATION error codes. */
export const ErrCode = {
  MessageHeader: 1,
  OpenMessage: 2,
  UpdateMessage: 3,
  HoldTimerExpired: 4,
  Fsm: 5,
  Cease: 6,
  RouteRefresh: 7, // RFC 7313
  SendHoldTimerExpired: 8, // RFC 9687
} as const;
export type ErrCode = (typeof ErrCode)[keyof typeof ErrCode];

/** RFC 4271 §6.1: Message Header Error subcodes. */
export const HeaderSub = {
  ConnectionNotSynchronized: 1,
  BadMessageLength: 2,
  BadMessageType: 3,
} as const;

/** RFC 4271 §6.2, RFC 5492, RFC 9234: OPEN Message Error subcodes. */
export const OpenSub = {
  Unspecific: 0,
  UnsupportedVersionNumber: 1,
  BadPeerAs: 2,
  BadBgpIdentifier: 3,
  UnsupportedOptionalParameter: 4,
  UnacceptableHoldTime: 6,
  UnsupportedCapability: 7,
  RoleMismatch: 11,
} as const;

/** RFC 4271 §6.3: UPDATE Message Error subcodes. */
export const UpdateSub = {
  MalformedAttributeList: 1,
  UnrecognizedWellKnownAttribute: 2,
  MissingWellKnownAttribute: 3,
  AttributeFlagsError: 4,
  AttributeLengthError: 5,
  InvalidOriginAttribute: 6,
  InvalidNextHopAttribute: 8,
  OptionalAttributeError: 9,
  InvalidNetworkField: 10,
  MalformedAsPath: 11,
} as const;

/** RFC 6608 §3: Finite State Machine Error subcodes. */
export const FsmSub = {
  Unspecified: 0,
  UnexpectedInOpenSent: 1,
  UnexpectedInOpenConfirm: 2,
  UnexpectedInEstablished: 3,
} as const;

/** RFC 4486 §4 (and RFC 8538, RFC 9384): Cease subcodes. */
export const CeaseSub = {
  MaximumPrefixesReached: 1,
  AdministrativeShutdown: 2,
  PeerDeconfigured: 3,
  AdministrativeReset: 4,
  ConnectionRejected: 5,
  OtherConfigurationChange: 6,
  ConnectionCollisionResolution: 7,
  OutOfResources: 8,
  HardReset: 9,
  BfdDown: 10,
} as const;

/** RFC 7313 §5: ROUTE-REFRESH Message Error subcodes. */
export const RouteRefreshSub = { InvalidMessageLength: 1 } as const;

/** RFC 7313 §3: the "Message Subtype" byte of ROUTE-REFRESH. */
export const RefreshSubtype = { Normal: 0, BoRR: 1, EoRR: 2 } as const;
export type RefreshSubtype = (typeof RefreshSubtype)[keyof typeof RefreshSubtype];

/** Address Family Identifiers (IANA). */
export const Afi = { IPv4: 1, IPv6: 2 } as const;
export type Afi = (typeof Afi)[keyof typeof Afi];

/** Subsequent Address Family Identifiers (IANA). */
export const Safi = { Unicast: 1, Multicast: 2 } as const;
export type Safi = number;

/** RFC 5492 §4: OPEN optional parameter types; RFC 9072 extended length. */
export const OptParam = { Capabilities: 2, ExtendedLength: 255 } as const;

/** IANA capability codes. */
export const CapCode = {
  Multiprotocol: 1, // RFC 4760
  RouteRefresh: 2, // RFC 2918
  ExtendedNextHop: 5, // RFC 8950
  ExtendedMessage: 6, // RFC 8654
  GracefulRestart: 64, // RFC 4724
  FourOctetAs: 65, // RFC 6793
  AddPath: 69, // RFC 7911
  EnhancedRouteRefresh: 70, // RFC 7313
  Fqdn: 73, // draft-walton-bgp-hostname-capability
} as const;
export type CapCode = (typeof CapCode)[keyof typeof CapCode];

/** IANA path attribute type codes. */
export const AttrType = {
  ORIGIN: 1,
  AS_PATH: 2,
  NEXT_HOP: 3,
  MULTI_EXIT_DISC: 4,
  LOCAL_PREF: 5,
  ATOMIC_AGGREGATE: 6,
  AGGREGATOR: 7,
  COMMUNITIES: 8, // RFC 1997
  ORIGINATOR_ID: 9, // RFC 4456
  CLUSTER_LIST: 10, // RFC 4456
  MP_REACH_NLRI: 14, // RFC 4760
  MP_UNREACH_NLRI: 15, // RFC 4760
  EXTENDED_COMMUNITIES: 16, // RFC 4360
  AS4_PATH: 17, // RFC 6793
  AS4_AGGREGATOR: 18, // RFC 6793
  LARGE_COMMUNITY: 32, // RFC 8092
} as const;
export type AttrType = (typeof AttrType)[keyof typeof AttrType];

/** RFC 4271 §4.3: attribute flag bits. */
export const AttrFlag = {
  Optional: 0x80,
  Transitive: 0x40,
  Partial: 0x20,
  ExtendedLength: 0x10,
} as const;

/** RFC 4271 §5.1.1: ORIGIN values. */
export const Origin = { IGP: 0, EGP: 1, INCOMPLETE: 2 } as const;
export type Origin = (typeof Origin)[keyof typeof Origin];

/** RFC 4271 §4.3 and RFC 5065: AS_PATH segment types. */
export const AsPathSegType = {
  AS_SET: 1,
  AS_SEQUENCE: 2,
  AS_CONFED_SEQUENCE: 3,
  AS_CONFED_SET: 4,
} as const;
export type AsPathSegType = (typeof AsPathSegType)[keyof typeof AsPathSegType];

/** Well-known communities (IANA), the ones herald sets or recognises. */
export const WellKnownCommunity = {
  GRACEFUL_SHUTDOWN: 0xffff0000, // RFC 8326
  BLACKHOLE: 0xffff029a, // RFC 7999
  NO_EXPORT: 0xffffff01,
  NO_ADVERTISE: 0xffffff02,
  NO_EXPORT_SUBCONFED: 0xffffff03,
  NOPEER: 0xffffff04, // RFC 3765
} as const;
