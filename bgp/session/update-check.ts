/**
 * What a decoded UPDATE means on this session (STYLE.md §3: codecs check
 * syntax, the session checks meaning). Pure; called by the FSM in
 * Established before the UPDATE reaches the Adj-RIB-In.
 *
 * 1. Families (RFC 4760 §6, §7; RFC 7606 §7.11). MP_REACH_NLRI and
 *    MP_UNREACH_NLRI of a family not negotiated on this session, and the
 *    AFI/SAFI-disable errors of such a family (an unknown AFI can never be
 *    negotiated), are ignored: the attribute's NLRI are neither stored nor
 *    withdrawn and the session stays up. RFC 4760 §7 has a speaker that
 *    finds an MP attribute incorrect "delete all the BGP routes received
 *    from that neighbor whose AFI/SAFI is the same" and "ignore all the
 *    subsequent routes with that AFI/SAFI" for the session: for a family
 *    that was never negotiated there is nothing to delete and everything to
 *    ignore, so AFI/SAFI disable costs nothing and RFC 7606 §7.11's
 *    preference for it over a session reset wins. (Before, an IPv6
 *    MP_REACH on an IPv4-only session was stored while an unknown AFI reset
 *    the session.) An AFI/SAFI-disable error of a negotiated family still
 *    resets the session: herald does not disable single families.
 * 2. First AS (RFC 4271 §6.3): "If the UPDATE message is received from an
 *    external peer, the local system MAY check whether the leftmost ... AS
 *    in the AS_PATH attribute is equal to the autonomous system number of
 *    the peer that sent the message. If the check determines this is not
 *    the case, the Error Subcode MUST be set to Malformed AS_PATH." RFC 7606
 *    §7.2 handles a malformed AS_PATH as treat-as-withdraw, so the check adds
 *    that error to the UPDATE (the session stays). An empty AS_PATH from an
 *    external peer fails it too. A path that starts with a confederation
 *    segment is left alone (RFC 5065 peers), and so is a route server that
 *    does not prepend its AS when `enforceFirstAs` is off.
 */
import { BgpError } from '../wire/errors.js';
import { AS_TRANS, AsPathSegType, ErrCode, UpdateSub } from '../wire/iana.js';
import { familyKey, type FamilyKey } from '../wire/context.js';
import { FamilyError } from '../wire/attributes/index.js';
import type { UpdateMessage } from '../wire/types.js';
import type { Negotiated } from './negotiate.js';

export interface UpdateCheck {
  /** The UPDATE to hand on: MP attributes of unnegotiated families removed, the first-AS error added. */
  message: UpdateMessage;
  /** Families whose MP attributes or errors were ignored. */
  ignored: FamilyKey[];
  /** An error that must reset the session, if any. */
  fatal: BgpError | null;
}

/** Check an UPDATE received in Established against what the session negotiated. */
export function checkUpdate(msg: UpdateMessage, neg: Negotiated, enforceFirstAs: boolean): UpdateCheck {
  const fams = neg.families;
  const ignored = new Set<FamilyKey>();
  let fatal: BgpError | null = null;
  for (const e of msg.errors ?? []) {
    if (e.action === 'session-reset') fatal ??= e;
    else if (e.action === 'afi-safi-disable') {
      const k = e instanceof FamilyError ? familyKey(e.afi, e.safi) : null;
      if (k !== null && !fams.includes(k)) ignored.add(k);
      else fatal ??= e;
    }
  }
  let attrs = msg.attributes;
  const reach = attrs.mpReach;
  if (reach !== undefined && !fams.includes(familyKey(reach.afi, reach.safi))) {
    const { mpReach: _r, ...rest } = attrs;
    attrs = rest;
    ignored.add(familyKey(reach.afi, reach.safi));
  }
  const unreach = attrs.mpUnreach;
  if (unreach !== undefined && !fams.includes(familyKey(unreach.afi, unreach.safi))) {
    const { mpUnreach: _u, ...rest } = attrs;
    attrs = rest;
    ignored.add(familyKey(unreach.afi, unreach.safi));
  }
  let message: UpdateMessage = attrs === msg.attributes ? msg : { ...msg, attributes: attrs };

  const announces = message.nlri.length > 0 || (attrs.mpReach?.nlri.length ?? 0) > 0;
  if (enforceFirstAs && !neg.context.ibgp && announces && attrs.asPath !== undefined) {
    const why = firstAsProblem(attrs.asPath, neg.peerAs, neg.context.as4);
    if (why !== null) {
      const err = new BgpError(ErrCode.UpdateMessage, UpdateSub.MalformedAsPath, why, new Uint8Array(0), 'treat-as-withdraw');
      message = { ...message, errors: [...(message.errors ?? []), err] };
    }
  }
  return { message, ignored: [...ignored], fatal };
}

/** Why the leftmost AS is not the external peer's, or null when it is (or a confederation path). */
function firstAsProblem(path: NonNullable<UpdateMessage['attributes']['asPath']>, peerAs: number, as4: boolean): string | null {
  const first = path[0];
  if (first === undefined || first.asns.length === 0) return 'empty AS_PATH from an external peer (RFC 4271 §6.3)';
  if (first.type === AsPathSegType.AS_CONFED_SEQUENCE || first.type === AsPathSegType.AS_CONFED_SET) return null;
  const left = first.asns[0]!;
  // A 2-octet session carries a 4-octet peer AS as AS_TRANS (RFC 6793 §4.2.2).
  if (first.type === AsPathSegType.AS_SEQUENCE && (left === peerAs || (!as4 && left === AS_TRANS && peerAs > 0xffff))) return null;
  return `leftmost AS ${left} in the AS_PATH is not the peer's AS ${peerAs} (RFC 4271 §6.3)`;
}
