/**
 * BFD protocol numbers, in one place (STYLE.md §5).
 *
 * Every number herald puts on or reads from a BFD Control packet is named
 * here as an `as const` object with a derived union type, plus name tables
 * for logs and snapshots. Sources: RFC 5880 §4.1 (fields, states,
 * diagnostics), RFC 5881 §4 (single-hop port and source ports), RFC 5883 §2
 * (multihop port), the IANA "Bidirectional Forwarding Detection (BFD)
 * Parameters" registry (diagnostic 8).
 */
import { nameOf } from '../wire/iana.js';

/** RFC 5880 §4.1: "Vers: The version number of the protocol. This document defines protocol version 1." */
export const BFD_VERSION = 1;

/** RFC 5880 §4.1: the mandatory section is 24 octets; with the A bit an authentication section follows. */
export const BFD_MIN_LEN = 24;
/** RFC 5880 §6.8.6: "24 if the A bit is clear, or 26 if the A bit is set". */
export const BFD_MIN_LEN_AUTH = 26;

/** RFC 5880 §4.1 "Sta": the session state as the transmitting system sees it. */
export const BfdState = {
  AdminDown: 0,
  Down: 1,
  Init: 2,
  Up: 3,
} as const;
export type BfdState = (typeof BfdState)[keyof typeof BfdState];
export type BfdStateName = keyof typeof BfdState;

/** RFC 5880 §4.1 "Diag" (and the IANA registry for 8). */
export const BfdDiag = {
  NoDiagnostic: 0,
  ControlDetectionTimeExpired: 1,
  EchoFunctionFailed: 2,
  NeighborSignaledSessionDown: 3,
  ForwardingPlaneReset: 4,
  PathDown: 5,
  ConcatenatedPathDown: 6,
  AdministrativelyDown: 7,
  ReverseConcatenatedPathDown: 8,
} as const;
export type BfdDiag = (typeof BfdDiag)[keyof typeof BfdDiag];

/** RFC 5880 §4.1 flag bits of the second octet (after the 2-bit state). */
export const BfdFlag = {
  Poll: 0x20,
  Final: 0x10,
  ControlPlaneIndependent: 0x08,
  AuthenticationPresent: 0x04,
  Demand: 0x02,
  Multipoint: 0x01,
} as const;

/** UDP ports: RFC 5881 §4 (single hop), RFC 5883 §2 (multihop). */
export const BfdPort = {
  SingleHop: 3784,
  Multihop: 4784,
} as const;

/**
 * RFC 5881 §4: "The source port MUST be in the range 49152 through 65535."
 * RFC 5883 §2 applies the same rule to multihop sessions.
 */
export const BFD_SOURCE_PORT_MIN = 49152;
export const BFD_SOURCE_PORT_MAX = 65535;

/**
 * RFC 5880 §6.8.3: "When bfd.SessionState is not Up, the system MUST set
 * bfd.DesiredMinTxInterval to a value of not less than one second
 * (1,000,000 microseconds)."
 */
export const BFD_SLOW_TX_US = 1_000_000;

/** RFC 5881 §5: a single-hop packet must arrive with TTL / Hop Limit 255 (GTSM, RFC 5082). */
export const BFD_TTL = 255;

/** Name a state for logs, e.g. 3 → "Up". */
export function stateName(state: number): BfdStateName {
  return nameOf(BfdState, state) as BfdStateName;
}

/** Name a diagnostic for logs, e.g. 1 → "ControlDetectionTimeExpired" (unknown values as their number). */
export function diagName(diag: number): string {
  return nameOf(BfdDiag, diag);
}
