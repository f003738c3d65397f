/**
 * The message model: discriminated unions decoded from and encoded to the wire
 * (STYLE.md §5). Codecs live in messages/, capabilities/ and attributes/.
 */
import type { Afi, AsPathSegType, Origin, RefreshSubtype } from './iana.js';
import type { BgpError } from './errors.js';
import type { Nlri } from './prefix.js';

// ---------------------------------------------------------------- capabilities

export interface MpFamily {
  afi: number;
  safi: number;
}

/** RFC 4724 §3 per-family entry. */
export interface GrFamily extends MpFamily {
  forwardingPreserved: boolean;
}

/** RFC 7911 §4: 1 receive, 2 send, 3 both. */
export interface AddPathFamily extends MpFamily {
  sendReceive: 1 | 2 | 3;
}

/** RFC 8950 §3 entry: NLRI family carried with a next hop of another AFI. */
export interface ExtNextHopEntry {
  afi: number;
  safi: number;
  nextHopAfi: number;
}

export type Capability =
  | { code: 1; kind: 'multiprotocol'; afi: number; safi: number }
  | { code: 2; kind: 'route-refresh' }
  | { code: 5; kind: 'extended-next-hop'; entries: ExtNextHopEntry[] }
  | { code: 6; kind: 'extended-message' }
  | {
      code: 64;
      kind: 'graceful-restart';
      restarting: boolean;
      notification: boolean; // RFC 8538 "N" bit
      restartTime: number; // seconds, 12 bits
      families: GrFamily[];
    }
  | { code: 65; kind: 'four-octet-as'; asn: number }
  | { code: 69; kind: 'add-path'; families: AddPathFamily[] }
  | { code: 70; kind: 'enhanced-route-refresh' }
  | { code: 73; kind: 'fqdn'; hostname: string; domain: string }
  | { code: number; kind: 'unknown'; value: Uint8Array };

// ---------------------------------------------------------------- messages

/** RFC 4271 §4.2. */
export interface OpenMessage {
  type: 'open';
  version: number;
  /** The 2-octet "My Autonomous System" field as sent (AS_TRANS for a 4-octet AS). */
  myAs: number;
  holdTime: number;
  /** BGP Identifier as dotted quad. */
  bgpId: string;
  capabilities: Capability[];
  /** Optional parameters other than capabilities, kept opaque (type, value). */
  otherParams: { type: number; value: Uint8Array }[];
}

export interface AsPathSegment {
  type: AsPathSegType;
  asns: number[];
}

export interface MpReach {
  afi: Afi;
  safi: number;
  /** Next hops as text: one, or two for IPv6 global + link-local (RFC 2545). */
  nextHops: string[];
  nlri: Nlri[];
}

export interface MpUnreach {
  afi: Afi;
  safi: number;
  nlri: Nlri[];
}

/** An attribute herald does not interpret, kept with its flags (partial bit set when passed on). */
export interface RawAttribute {
  flags: number;
  type: number;
  value: Uint8Array;
}

/**
 * Path attributes as decoded. After decoding, `asPath` is already the
 * reconstructed path per RFC 6793 §4.2.3 when the peer is a 2-octet speaker
 * (AS4_PATH merged in), and `aggregator` likewise; the raw 4-octet variants are
 * kept in `as4Path` / `as4Aggregator` for display and re-encoding.
 */
export interface PathAttributes {
  origin?: Origin;
  asPath?: AsPathSegment[];
  nextHop?: string;
  med?: number;
  localPref?: number;
  atomicAggregate?: boolean;
  aggregator?: { asn: number; address: string };
  communities?: number[];
  /** RFC 4360: each 8 bytes. */
  extendedCommunities?: Uint8Array[];
  /** RFC 8092: [global admin, local 1, local 2]. */
  largeCommunities?: [number, number, number][];
  originatorId?: string;
  clusterList?: string[];
  as4Path?: AsPathSegment[];
  as4Aggregator?: { asn: number; address: string };
  mpReach?: MpReach;
  mpUnreach?: MpUnreach;
  /** Unknown optional attributes, in received order. */
  unknown?: RawAttribute[];
}

/** RFC 4271 §4.3. */
export interface UpdateMessage {
  type: 'update';
  /** IPv4 unicast withdrawals from the Withdrawn Routes field. */
  withdrawn: Nlri[];
  attributes: PathAttributes;
  /** IPv4 unicast NLRI from the message body. */
  nlri: Nlri[];
  /**
   * RFC 7606: errors that did not reset the session. If any has action
   * 'treat-as-withdraw', the receiver must treat every NLRI (body and
   * MP_REACH) as withdrawn. 'attribute-discard' errors name what was dropped.
   */
  errors?: BgpError[];
}

/** RFC 4271 §4.5; RFC 9003 shutdown communication for Cease 2 and 4. */
export interface NotificationMessage {
  type: 'notification';
  code: number;
  subcode: number;
  data: Uint8Array;
  /** RFC 9003 §2: the UTF-8 shutdown communication, when present and valid. */
  shutdownText?: string;
  /**
   * RFC 8538 §3: for Cease / Hard Reset (subcode 9), the NOTIFICATION it
   * carries in its data (when the data holds at least the two code octets).
   * `shutdownText` above is then the inner message's RFC 9003 text.
   */
  hardReset?: { code: number; subcode: number; data: Uint8Array };
}

export interface KeepaliveMessage {
  type: 'keepalive';
}

/** RFC 2918 §3; RFC 7313 §3 subtype. */
export interface RouteRefreshMessage {
  type: 'route-refresh';
  afi: number;
  safi: number;
  subtype: RefreshSubtype;
}

export type BgpMessage = OpenMessage | UpdateMessage | NotificationMessage | KeepaliveMessage | RouteRefreshMessage;
