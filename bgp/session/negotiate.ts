/**
 * Our OPEN, and what the two OPENs agree on (RFC 4271 §4.2, RFC 5492,
 * RFC 4760 §8, RFC 6793, RFC 8654, RFC 8950, RFC 7911, RFC 2918, RFC 7313,
 * RFC 4724, draft-walton-bgp-hostname-capability).
 *
 * `buildOpen` turns the session config into the OPEN we send; `negotiate`
 * intersects it with the peer's OPEN once into a `Negotiated` record holding
 * the CodecContext every later codec call uses (STYLE.md §7), the families,
 * timers and optional features. Nothing here reads a socket or the clock.
 */
import { AS_TRANS, CapCode } from '../wire/iana.js';
import { familyKey, type CodecContext, type FamilyKey } from '../wire/context.js';
import type { Capability, GrFamily, MpFamily, OpenMessage } from '../wire/types.js';
import { isIbgp, type SessionConfig } from './config.js';
import { BGP_VERSION, peerAsOf, peerFamilies } from './open-check.js';

/** The outcome of the OPEN exchange, fixed for the life of the connection. */
export interface Negotiated {
  /** Codec context for every message after the OPENs. */
  readonly context: CodecContext;
  /** Families both sides advertised, in our configured order (RFC 4760 §8). */
  readonly families: readonly FamilyKey[];
  /** min(our hold time, theirs), seconds; 0 means no keepalives and no hold timer (RFC 4271 §4.2). */
  readonly holdTime: number;
  /** Seconds between our KEEPALIVEs; 0 when holdTime is 0. */
  readonly keepaliveTime: number;
  /** RFC 9687 Send Hold Time, seconds; 0 when holdTime is 0 (timer stopped). */
  readonly sendHoldTime: number;
  readonly peerAs: number;
  readonly peerBgpId: string;
  /** RFC 2918: both sides advertised Route Refresh. */
  readonly routeRefresh: boolean;
  /** RFC 7313: both sides advertised Enhanced Route Refresh. */
  readonly enhancedRouteRefresh: boolean;
  /**
   * RFC 4724: both sides advertised Graceful Restart, so the peer keeps our
   * routes of the families in our capability as stale when the TCP session
   * ends without a NOTIFICATION (§4.2).
   */
  readonly gracefulRestart: boolean;
  /**
   * RFC 8538 §2: both sides set the "N" bit; a NOTIFICATION other than Cease /
   * Hard Reset then ends the session gracefully too (§4), and one that must
   * flush our routes has to be wrapped in a Hard Reset (§5).
   */
  readonly gracefulNotification: boolean;
  /** The peer's Graceful Restart capability as received, if any. */
  readonly peerGracefulRestart?: { restarting: boolean; notification: boolean; restartTime: number; families: GrFamily[] };
  /** The peer's FQDN capability, if any. */
  readonly peerHostname?: { hostname: string; domain: string };
}

/** Per-connection facts that shape our OPEN beyond the static config. */
export interface OpenOptions {
  /**
   * RFC 4724 §3 Restart State (R): "the BGP speaker has restarted, and its
   * peer MUST NOT wait for the End-of-RIB marker from the speaker before
   * advertising routing information".
   */
  restarting?: boolean;
}

/** Build the OPEN we send from the session config. */
export function buildOpen(config: SessionConfig, opts: OpenOptions = {}): OpenMessage {
  const caps: Capability[] = [];
  // RFC 4760 §8: one Multiprotocol capability per family we carry.
  for (const f of config.families) caps.push({ code: CapCode.Multiprotocol, kind: 'multiprotocol', afi: f.afi, safi: f.safi });
  if (config.routeRefresh) caps.push({ code: CapCode.RouteRefresh, kind: 'route-refresh' });
  if (config.routeRefresh && config.enhancedRouteRefresh)
    caps.push({ code: CapCode.EnhancedRouteRefresh, kind: 'enhanced-route-refresh' });
  // RFC 6793 §3: a NEW BGP speaker advertises its AS in the 4-octet capability.
  caps.push({ code: CapCode.FourOctetAs, kind: 'four-octet-as', asn: config.localAs });
  if (config.extendedMessage) caps.push({ code: CapCode.ExtendedMessage, kind: 'extended-message' });
  if (config.extendedNextHop.length > 0)
    caps.push({ code: CapCode.ExtendedNextHop, kind: 'extended-next-hop', entries: config.extendedNextHop.map((e) => ({ ...e })) });
  if (config.addPath.length > 0)
    caps.push({ code: CapCode.AddPath, kind: 'add-path', families: config.addPath.map((f) => ({ ...f })) });
  if (config.gracefulRestart) {
    const gr = config.gracefulRestart;
    // RFC 4724 §3: one <AFI, SAFI, Flags> entry per family the peer is to keep
    // across our restart. Forwarding State (F): "the forwarding state has been
    // preserved" — for herald the forwarding plane is the services it
    // announces, which keep running while herald restarts (decision 0024).
    caps.push({
      code: CapCode.GracefulRestart,
      kind: 'graceful-restart',
      restarting: opts.restarting === true,
      notification: gr.notification,
      restartTime: gr.restartTime,
      families: config.families.map((f) => ({ afi: f.afi, safi: f.safi, forwardingPreserved: gr.forwardingPreserved })),
    });
  }
  if (config.hostname)
    caps.push({ code: CapCode.Fqdn, kind: 'fqdn', hostname: config.hostname.hostname, domain: config.hostname.domain });
  return {
    type: 'open',
    version: BGP_VERSION,
    // RFC 6793 §4.1: an AS that does not fit two octets is sent as AS_TRANS.
    myAs: config.localAs > 0xffff ? AS_TRANS : config.localAs,
    holdTime: config.holdTime,
    bgpId: config.routerId,
    capabilities: caps,
    otherParams: [],
  };
}

function findCap<K extends Capability['kind']>(open: OpenMessage, kind: K): Extract<Capability, { kind: K }> | undefined {
  return open.capabilities.find((c): c is Extract<Capability, { kind: K }> => c.kind === kind);
}

const has = (open: OpenMessage, kind: Capability['kind']): boolean => open.capabilities.some((c) => c.kind === kind);

/** Return the keepalive interval for a negotiated hold time: the configured value capped at a third, at least 1 s. */
export function keepaliveFor(holdTime: number, configured?: number): number {
  if (holdTime === 0) return 0;
  // RFC 4271 §4.4: "A reasonable maximum time between KEEPALIVE messages
  // would be one third of the Hold Time interval."
  const third = Math.floor(holdTime / 3);
  return Math.max(1, Math.min(configured ?? third, third));
}

/** Return the RFC 9687 Send Hold Time for a negotiated hold time (0 disables it). */
export function sendHoldFor(holdTime: number, configured?: number): number {
  if (holdTime === 0) return 0;
  // RFC 9687 §4: "SendHoldTime MUST be greater than the value of HoldTime.
  // The suggested default value for SendHoldTime is the greater of 8 minutes
  // or 2 times HoldTime."
  if (configured !== undefined) return Math.max(configured, holdTime + 1);
  return Math.max(480, 2 * holdTime);
}

/** Intersect our OPEN with the peer's: families, codec context, timers and features. */
export function negotiate(config: SessionConfig, ours: OpenMessage, theirs: OpenMessage): Negotiated {
  const ourFamilies: MpFamily[] = [];
  for (const c of ours.capabilities) if (c.kind === 'multiprotocol') ourFamilies.push(c);
  const theirKeys = new Set(peerFamilies(theirs).map((f) => familyKey(f.afi, f.safi)));
  const families = ourFamilies.map((f) => familyKey(f.afi, f.safi)).filter((k) => theirKeys.has(k));
  const familySet = new Set(families);

  // RFC 7911 §4: we may send path ids for a family if we advertised "send"
  // and the peer "receive"; we receive them if we advertised "receive" and
  // the peer "send".
  const addPathSend = new Set<FamilyKey>();
  const addPathReceive = new Set<FamilyKey>();
  const ourAp = findCap(ours, 'add-path');
  const theirAp = findCap(theirs, 'add-path');
  if (ourAp && theirAp) {
    for (const o of ourAp.families) {
      const k = familyKey(o.afi, o.safi);
      if (!familySet.has(k)) continue;
      const t = theirAp.families.find((f) => f.afi === o.afi && f.safi === o.safi);
      if (!t) continue;
      if (o.sendReceive & 2 && t.sendReceive & 1) addPathSend.add(k);
      if (o.sendReceive & 1 && t.sendReceive & 2) addPathReceive.add(k);
    }
  }

  // RFC 8950 §4: an entry counts only when both sides advertised it.
  const extendedNextHop = new Set<FamilyKey>();
  const ourEnh = findCap(ours, 'extended-next-hop');
  const theirEnh = findCap(theirs, 'extended-next-hop');
  if (ourEnh && theirEnh) {
    for (const e of ourEnh.entries) {
      if (theirEnh.entries.some((t) => t.afi === e.afi && t.safi === e.safi && t.nextHopAfi === e.nextHopAfi))
        extendedNextHop.add(familyKey(e.afi, e.safi));
    }
  }

  const peerAs = peerAsOf(theirs);
  const context: CodecContext = {
    // RFC 6793 §4: 4-octet AS_PATH only when both sides advertised the capability.
    as4: has(ours, 'four-octet-as') && has(theirs, 'four-octet-as'),
    // RFC 8654 §3: "A BGP speaker MUST NOT send BGP Extended Messages to a peer
    // unless the peer has advertised the BGP Extended Message Capability";
    // both directions are allowed once both advertised it.
    extendedMessage: has(ours, 'extended-message') && has(theirs, 'extended-message'),
    addPathReceive,
    addPathSend,
    extendedNextHop,
    ibgp: isIbgp(config),
  };

  // RFC 4271 §4.2: "the calculated value [of the Hold Timer] ... is the
  // smaller of its configured Hold Time and the Hold Time received in the
  // OPEN message."
  const holdTime = Math.min(ours.holdTime, theirs.holdTime);
  const routeRefresh = has(ours, 'route-refresh') && has(theirs, 'route-refresh');
  const gr = findCap(theirs, 'graceful-restart');
  const fqdn = findCap(theirs, 'fqdn');
  const result: Negotiated = {
    context,
    families,
    holdTime,
    keepaliveTime: keepaliveFor(holdTime, config.keepaliveTime),
    sendHoldTime: sendHoldFor(holdTime, config.sendHoldTime),
    peerAs,
    peerBgpId: theirs.bgpId,
    routeRefresh,
    enhancedRouteRefresh: has(ours, 'enhanced-route-refresh') && has(theirs, 'enhanced-route-refresh'),
    gracefulRestart: has(ours, 'graceful-restart') && gr !== undefined,
    gracefulNotification: (findCap(ours, 'graceful-restart')?.notification ?? false) && (gr?.notification ?? false),
    ...(gr
      ? {
          peerGracefulRestart: {
            restarting: gr.restarting,
            notification: gr.notification,
            restartTime: gr.restartTime,
            families: gr.families.map((f) => ({ ...f })),
          },
        }
      : {}),
    ...(fqdn ? { peerHostname: { hostname: fqdn.hostname, domain: fqdn.domain } } : {}),
  };
  return result;
}
