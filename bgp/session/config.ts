/**
 * Per-peer session configuration, as the FSM sees it (RFC 4271 §8, §10).
 *
 * Owns the knobs the pure FSM needs and their defaults: AS numbers, router id,
 * hold and keepalive times, the families and capabilities we advertise, the
 * ConnectRetry backoff, IdleHold damping (RFC 4271 §8.1.1
 * DampPeerOscillations) and the Send Hold Time (RFC 9687 §4). Config files are
 * parsed in src/config; this module only fills defaults and checks ranges the
 * RFCs fix. Times are in seconds where the protocol counts seconds (hold,
 * keepalive, restart time) and in milliseconds for herald's own timers.
 */
import { Afi, Safi } from '../wire/iana.js';
import type { AddPathFamily, ExtNextHopEntry, MpFamily } from '../wire/types.js';
import { parseIPv4 } from '../wire/prefix.js';

/** Config as given by the caller: everything optional except identities. */
export interface SessionConfigInput {
  /** Our AS, 1..4294967295. */
  localAs: number;
  /** The AS we expect the peer to announce. */
  peerAs: number;
  /** Our BGP Identifier as a dotted quad. */
  routerId: string;
  /** Hold time we propose, seconds: 0 or 3..65535 (RFC 4271 §4.2). Default 90. */
  holdTime?: number;
  /** Keepalive interval, seconds; capped at a third of the negotiated hold time. Default: hold / 3. */
  keepaliveTime?: number;
  /** Reject a peer's non-zero hold time below this, seconds (RFC 4271 §6.2 "MAY reject"). Default 3. */
  minHoldTime?: number;
  /** Hold time used while in OpenSent, seconds (RFC 4271 §8.2.2 suggests 4 minutes). */
  openHoldTime?: number;
  /** Wait for the peer to connect instead of connecting out. */
  passive?: boolean;
  /** Families we advertise (RFC 4760). Default IPv4 unicast. */
  families?: MpFamily[];
  /** Advertise Route Refresh (RFC 2918). Default true. */
  routeRefresh?: boolean;
  /** Advertise Enhanced Route Refresh (RFC 7313). Default true. */
  enhancedRouteRefresh?: boolean;
  /** Advertise Extended Message (RFC 8654). Default true. */
  extendedMessage?: boolean;
  /** Extended Next Hop entries (RFC 8950), e.g. IPv4 unicast over an IPv6 next hop. Default none. */
  extendedNextHop?: ExtNextHopEntry[];
  /** ADD-PATH families (RFC 7911). Default none. */
  addPath?: AddPathFamily[];
  /** Advertise Graceful Restart (RFC 4724) with this restart time; no family is preserved. */
  gracefulRestart?: { restartTime: number; notification?: boolean };
  /** Advertise the FQDN capability (draft-walton-bgp-hostname-capability). */
  hostname?: { hostname: string; domain?: string };
  /**
   * Capability codes the peer must advertise, else OPEN/UnsupportedCapability
   * (RFC 5492 §5). Code 1 means "every configured family".
   */
  requiredCapabilities?: number[];
  /** ConnectRetry backoff, ms: first delay, ceiling (RFC 4271 §10 suggests 120 s). */
  connectRetry?: { initialMs?: number; maxMs?: number };
  /** IdleHold damping, ms: first delay, ceiling, and the uptime that forgives one failure. */
  idleHold?: { initialMs?: number; maxMs?: number; stableMs?: number };
  /** RFC 9687 SendHoldTime, seconds. Default max(480, 2 × negotiated hold time). */
  sendHoldTime?: number;
  /** RFC 4271 §6.3: an external peer's routes must start with its AS (update-check.ts). Default true; off for route servers. */
  enforceFirstAs?: boolean;
}

/** Config with every default filled in. */
export interface SessionConfig {
  readonly localAs: number;
  readonly peerAs: number;
  readonly routerId: string;
  readonly holdTime: number;
  readonly keepaliveTime: number | undefined;
  readonly minHoldTime: number;
  readonly openHoldTime: number;
  readonly passive: boolean;
  readonly families: readonly MpFamily[];
  readonly routeRefresh: boolean;
  readonly enhancedRouteRefresh: boolean;
  readonly extendedMessage: boolean;
  readonly extendedNextHop: readonly ExtNextHopEntry[];
  readonly addPath: readonly AddPathFamily[];
  readonly gracefulRestart: { readonly restartTime: number; readonly notification: boolean } | undefined;
  readonly hostname: { readonly hostname: string; readonly domain: string } | undefined;
  readonly requiredCapabilities: readonly number[];
  readonly connectRetry: { readonly initialMs: number; readonly maxMs: number };
  readonly idleHold: { readonly initialMs: number; readonly maxMs: number; readonly stableMs: number };
  readonly sendHoldTime: number | undefined;
  readonly enforceFirstAs: boolean;
}

export const DEFAULTS = {
  holdTime: 90,
  minHoldTime: 3,
  /** RFC 4271 §8.2.2: "a large value ... A HoldTimer value of 4 minutes is suggested". */
  openHoldTime: 240,
  connectRetryInitialMs: 5_000,
  connectRetryMaxMs: 120_000,
  idleHoldInitialMs: 5_000,
  idleHoldMaxMs: 300_000,
  idleHoldStableMs: 120_000,
  /** RFC 9687 §4: "the greater of 8 minutes or 2 times HoldTime". */
  sendHoldFloor: 480,
} as const;

/** Validate a config and fill in defaults; throws a plain Error on a config mistake (not a protocol error). */
export function resolveConfig(input: SessionConfigInput): SessionConfig {
  const fail = (m: string): never => {
    throw new Error(`session config: ${m}`);
  };
  const isU32 = (n: number): boolean => Number.isInteger(n) && n >= 1 && n <= 0xffffffff;
  if (!isU32(input.localAs)) fail(`localAs ${input.localAs} out of range`);
  if (!isU32(input.peerAs)) fail(`peerAs ${input.peerAs} out of range`);
  const rid = parseIPv4(input.routerId);
  if (!rid || rid.every((b) => b === 0)) fail(`routerId ${input.routerId} is not a non-zero dotted quad`);
  const holdTime = input.holdTime ?? DEFAULTS.holdTime;
  // RFC 4271 §4.2: "Hold Time MUST be either zero or at least three seconds."
  if (!Number.isInteger(holdTime) || holdTime < 0 || holdTime > 0xffff || holdTime === 1 || holdTime === 2)
    fail(`holdTime ${holdTime} must be 0 or 3..65535`);
  const ka = input.keepaliveTime;
  if (ka !== undefined && (!Number.isInteger(ka) || ka < 1)) fail(`keepaliveTime ${ka} must be a positive integer`);
  const gr = input.gracefulRestart;
  if (gr && (!Number.isInteger(gr.restartTime) || gr.restartTime < 0 || gr.restartTime > 0xfff))
    fail(`gracefulRestart.restartTime ${gr.restartTime} must fit 12 bits`);
  const families = input.families ?? [{ afi: Afi.IPv4, safi: Safi.Unicast }];
  if (families.length === 0) fail('families must not be empty');
  const cr = input.connectRetry ?? {};
  const ih = input.idleHold ?? {};
  return {
    localAs: input.localAs,
    peerAs: input.peerAs,
    routerId: input.routerId,
    holdTime,
    keepaliveTime: ka,
    minHoldTime: Math.max(3, input.minHoldTime ?? DEFAULTS.minHoldTime),
    openHoldTime: input.openHoldTime ?? DEFAULTS.openHoldTime,
    passive: input.passive ?? false,
    families: families.map((f) => ({ afi: f.afi, safi: f.safi })),
    routeRefresh: input.routeRefresh ?? true,
    enhancedRouteRefresh: input.enhancedRouteRefresh ?? true,
    extendedMessage: input.extendedMessage ?? true,
    extendedNextHop: input.extendedNextHop ?? [],
    addPath: input.addPath ?? [],
    gracefulRestart: gr ? { restartTime: gr.restartTime, notification: gr.notification ?? false } : undefined,
    hostname: input.hostname ? { hostname: input.hostname.hostname, domain: input.hostname.domain ?? '' } : undefined,
    requiredCapabilities: input.requiredCapabilities ?? [],
    connectRetry: {
      initialMs: cr.initialMs ?? DEFAULTS.connectRetryInitialMs,
      maxMs: cr.maxMs ?? DEFAULTS.connectRetryMaxMs,
    },
    idleHold: {
      initialMs: ih.initialMs ?? DEFAULTS.idleHoldInitialMs,
      maxMs: ih.maxMs ?? DEFAULTS.idleHoldMaxMs,
      stableMs: ih.stableMs ?? DEFAULTS.idleHoldStableMs,
    },
    sendHoldTime: input.sendHoldTime,
    enforceFirstAs: input.enforceFirstAs ?? true,
  };
}

/** True when the peer is in our AS (iBGP). */
export const isIbgp = (c: SessionConfig): boolean => c.localAs === c.peerAs;
