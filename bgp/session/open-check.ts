/**
 * Meaning checks on a received OPEN (RFC 4271 §6.2, RFC 5492 §5, RFC 6286,
 * RFC 6793 §4.1).
 *
 * `decodeOpen` in bgp/wire has already checked the syntax (lengths, parameter
 * framing); this module decides whether the OPEN is acceptable to *this*
 * session: version, peer AS, BGP Identifier, hold time and required
 * capabilities. It returns the BgpError whose code/subcode/data become the
 * NOTIFICATION, or null.
 *
 * Data of Unsupported Version Number (RFC 4271 §6.2):
 *
 *   +-------------------------------+
 *   | Largest supported version (2) |
 *   +-------------------------------+
 *
 * Data of Unsupported Capability (RFC 5492 §5): the missing capabilities, each
 * as it would be encoded in an OPEN:
 *
 *   +------------+-------------+------------------+
 *   | Code (1)   | Length (1)  | Value (Length)   | ...
 *   +------------+-------------+------------------+
 */
import { bgpError, type BgpError } from '../wire/errors.js';
import { AS_TRANS, CapCode, ErrCode, OpenSub } from '../wire/iana.js';
import type { Capability, MpFamily, OpenMessage } from '../wire/types.js';
import { Writer } from '../wire/writer.js';
import { encodeCapabilities } from '../wire/capabilities/index.js';
import { familyKey } from '../wire/context.js';
import { parseIPv4 } from '../wire/prefix.js';
import { isIbgp, type SessionConfig } from './config.js';

/** The only BGP version herald speaks. */
export const BGP_VERSION = 4;

/** Return the peer's AS: the 4-octet AS capability when present (RFC 6793 §4.1), else My Autonomous System. */
export function peerAsOf(open: OpenMessage): number {
  const cap = open.capabilities.find((c) => c.kind === 'four-octet-as');
  return cap && cap.kind === 'four-octet-as' ? cap.asn : open.myAs;
}

/** Turn a dotted-quad BGP Identifier into its 32-bit unsigned value, or null when malformed. */
export function bgpIdValue(id: string): number | null {
  const b = parseIPv4(id);
  if (!b) return null;
  return b[0]! * 0x1000000 + b[1]! * 0x10000 + b[2]! * 0x100 + b[3]!;
}

/** Return the families the peer supports; RFC 4760 §8: no MP capability means IPv4 unicast only. */
export function peerFamilies(open: OpenMessage): MpFamily[] {
  const mp: MpFamily[] = [];
  for (const c of open.capabilities) if (c.kind === 'multiprotocol') mp.push({ afi: c.afi, safi: c.safi });
  return mp.length > 0 ? mp : [{ afi: 1, safi: 1 }];
}

/** The capability we would expect for a required code, for the NOTIFICATION data. */
function expectedCapability(code: number, config: SessionConfig): Capability[] {
  switch (code) {
    case CapCode.Multiprotocol:
      return config.families.map((f) => ({ code: 1, kind: 'multiprotocol', afi: f.afi, safi: f.safi }) as const);
    case CapCode.FourOctetAs:
      return [{ code: 65, kind: 'four-octet-as', asn: config.localAs }];
    default:
      return [{ code, kind: 'unknown', value: new Uint8Array(0) }];
  }
}

/** Find the required capabilities the peer did not advertise; empty when all are present. */
export function missingCapabilities(open: OpenMessage, config: SessionConfig): Capability[] {
  const missing: Capability[] = [];
  for (const code of config.requiredCapabilities) {
    if (code === CapCode.Multiprotocol) {
      const theirs = new Set(peerFamilies(open).map((f) => familyKey(f.afi, f.safi)));
      for (const cap of expectedCapability(code, config))
        if (cap.kind === 'multiprotocol' && !theirs.has(familyKey(cap.afi, cap.safi))) missing.push(cap);
    } else if (!open.capabilities.some((c) => c.code === code)) {
      missing.push(...expectedCapability(code, config));
    }
  }
  return missing;
}

/**
 * Check a received OPEN against the session config; return the error to send
 * as NOTIFICATION, or null when the OPEN is acceptable.
 */
export function checkOpen(open: OpenMessage, config: SessionConfig): BgpError | null {
  // RFC 4271 §6.2: "If the version number in the Version field of the received
  // OPEN message is not supported, then the Error Subcode MUST be set to
  // Unsupported Version Number. The Data field is a 2-octet unsigned integer,
  // which indicates the largest, locally-supported version number less than
  // the version the remote BGP peer bid."
  if (open.version !== BGP_VERSION) {
    return bgpError(
      ErrCode.OpenMessage,
      OpenSub.UnsupportedVersionNumber,
      `peer bid version ${open.version}, herald speaks ${BGP_VERSION}`,
      new Writer(2).u16(BGP_VERSION).finish(),
    );
  }

  // RFC 4271 §6.2: "If one of the Optional Parameters in the OPEN message is
  // not recognized, then the Error Subcode MUST be set to 'Unsupported
  // Optional Parameters'." Capabilities (type 2) are the only one herald knows.
  const other = open.otherParams[0];
  if (other) {
    return bgpError(ErrCode.OpenMessage, OpenSub.UnsupportedOptionalParameter, `optional parameter type ${other.type} is not supported`);
  }

  // RFC 4271 §6.2: "If the Autonomous System field of the OPEN message is
  // unacceptable, then the Error Subcode MUST be set to Bad Peer AS."
  const as4 = open.capabilities.find((c) => c.kind === 'four-octet-as');
  if (as4 && as4.kind === 'four-octet-as' && as4.asn > 0xffff && open.myAs !== AS_TRANS) {
    // RFC 6793 §4.1: a speaker whose AS does not fit two octets puts AS_TRANS
    // in My Autonomous System; anything else is an inconsistent OPEN.
    return bgpError(
      ErrCode.OpenMessage,
      OpenSub.BadPeerAs,
      `4-octet AS ${as4.asn} with My Autonomous System ${open.myAs} instead of AS_TRANS`,
    );
  }
  const peerAs = peerAsOf(open);
  if (peerAs !== config.peerAs) {
    return bgpError(ErrCode.OpenMessage, OpenSub.BadPeerAs, `peer AS ${peerAs}, expected ${config.peerAs}`);
  }

  // RFC 6286 §2.2: "the BGP Identifier ... a 4-octet, unsigned, non-zero
  // integer"; for iBGP it "MUST be unique" within the AS, so it must differ
  // from ours (RFC 4271 §6.2 Bad BGP Identifier).
  const id = bgpIdValue(open.bgpId);
  if (id === null || id === 0) {
    return bgpError(ErrCode.OpenMessage, OpenSub.BadBgpIdentifier, `BGP Identifier ${open.bgpId} is zero or malformed`);
  }
  if (isIbgp(config) && id === bgpIdValue(config.routerId)) {
    return bgpError(ErrCode.OpenMessage, OpenSub.BadBgpIdentifier, `iBGP peer uses our BGP Identifier ${open.bgpId}`);
  }

  // RFC 4271 §6.2: "An implementation MUST reject Hold Time values of one or
  // two seconds. An implementation MAY reject any proposed Hold Time."
  if (open.holdTime !== 0 && open.holdTime < config.minHoldTime) {
    return bgpError(
      ErrCode.OpenMessage,
      OpenSub.UnacceptableHoldTime,
      `hold time ${open.holdTime}s below the minimum ${config.minHoldTime}s`,
    );
  }

  // RFC 5492 §5: "If a BGP speaker that supports a certain capability
  // determines that its peer doesn't support this capability, the speaker MAY
  // send a NOTIFICATION message ... Unsupported Capability ... the Data field
  // of the NOTIFICATION message MUST list the set of capabilities that cause
  // the speaker to send the message."
  const missing = missingCapabilities(open, config);
  if (missing.length > 0) {
    return bgpError(
      ErrCode.OpenMessage,
      OpenSub.UnsupportedCapability,
      `peer lacks required capabilities ${missing.map((c) => c.code).join(',')}`,
      encodeCapabilities(missing),
    );
  }
  return null;
}
