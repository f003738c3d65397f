/**
 * End-of-RIB markers (RFC 4724 §2).
 *
 * "An UPDATE message with no reachable Network Layer Reachability Information
 * (NLRI) and empty withdrawn NLRI is specified as the End-of-RIB marker that
 * can be used by a BGP speaker to indicate to its peer the completion of the
 * initial routing update after the session is established. For the IPv4
 * unicast address family, the End-of-RIB marker is an UPDATE message with the
 * minimum length. For any other address family, it is an UPDATE message that
 * contains only the MP_UNREACH_NLRI attribute with no withdrawn routes for
 * that <AFI, SAFI>."
 *
 *   IPv4 unicast:  Withdrawn Routes Length = 0, Total Path Attribute Length = 0
 *   other family:  Withdrawn Routes Length = 0, attributes = MP_UNREACH_NLRI
 *                  { AFI, SAFI } with no NLRI
 */
import { Afi, Safi } from '../wire/iana.js';
import { familyKey, type FamilyKey } from '../wire/context.js';
import type { UpdateMessage } from '../wire/types.js';

/** Build the End-of-RIB UPDATE for a family. */
export function endOfRib(afi: number, safi: number): UpdateMessage {
  if (afi === Afi.IPv4 && safi === Safi.Unicast) return { type: 'update', withdrawn: [], attributes: {}, nlri: [] };
  return { type: 'update', withdrawn: [], attributes: { mpUnreach: { afi: afi as Afi, safi, nlri: [] } }, nlri: [] };
}

/** Return the family an UPDATE marks as End-of-RIB, or null when it is an ordinary UPDATE. */
export function endOfRibFamily(u: UpdateMessage): FamilyKey | null {
  if (u.withdrawn.length > 0 || u.nlri.length > 0 || (u.errors && u.errors.length > 0)) return null;
  const keys = Object.entries(u.attributes)
    .filter(([, v]) => v !== undefined)
    .map(([k]) => k);
  if (keys.length === 0) return familyKey(Afi.IPv4, Safi.Unicast);
  const un = u.attributes.mpUnreach;
  if (keys.length === 1 && un && un.nlri.length === 0) return familyKey(un.afi, un.safi);
  return null;
}
