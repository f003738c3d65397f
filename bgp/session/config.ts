/**
 * Per-peer session configuration, as the FSM sees it (RFC 4271 §8, §10).
 *
 * Owns the knobs the pure FSM needs and their defaults: AS numbers, router id,
 * hold and keepalive times, the families and capabilities we advertise, the
 * ConnectRetry backoff, IdleHold damping (RFC 4271 §8.1.1
 * DampPeerOscillations), Graceful Restart (RFC 4724 §3, RFC 8538 §2) and the
 * Send Hold Time (RFC 9687 §4). Config files are
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
  /**
   * Advertise Graceful Restart (RFC 4724 §3) with this restart time and every
   * configured family, the F bit set unless `forwardingPreserved` is false;
   * `notification` adds the RFC 8538 "N" bit.
   */
  gracefulRestart?: { restartTime: number; notification?: boolean; forwardingPreserved?: boolean };
  /** Advertise the FQDN capability (draft-walton-bgp-hostname-capability). */
  hostname?: { hostname: string; domain?: string };
  /**
   * Capability codes the peer must advertise, else OPEN/UnsupportedCapability
   * (RFC 5492 §5). Code 1 means "every configured family".
   */
  requiredCapabilities?: number[];
  /** ConnectRetry backoff, ms: first delay, ceiling (RFC 4271 §10 suggests 120 s). */
  connectRetry?: { initialMs?: number; maxMs?: number };
  /**
   * IdleHold damping after a session ends with a protocol error, ms: first
   * delay, ceiling, and the Established uptime that forgives one error.
   */
  idleHold?: { initialMs?: number; maxMs?: number; stableMs?: number };
  /** RFC 9687 SendHoldTime, seconds. Default max(480, 2 × negotiated hold time). */
  sendHoldTime?: number;
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
  readonly gracefulRestart:
    | { readonly restartTime: number; readonly notification: boolean; readonly forwardingPreserved: boolean }
    | undefined;
  readonly hostname: { readonly hostname: string; readonly domain: string } | undefined;
  readonly requiredCapabilities: readonly number[];
  readonly connectRetry: { readonly initialMs: number; readonly maxMs: number };
  readonly idleHold: { readonly initialMs: number; readonly maxMs: number; readonly stableMs: number };
  readonly sendHoldTime: number | undefined;
}

export const DEFAULTS = {
  holdTime: 90,
  minHoldTime: 3,
  /** RFC 4271 §8.2.2: "a large value ... A HoldTimer value of 4 minutes is suggested". */
  openHoldTime: 240,
  /**
   * The first retry comes 0.75-1 s after a failed attempt (RFC 4271 §10
   * jitter), doubling per failure up to 30 s — a quarter of the 120 s RFC
   * 4271 §10 suggests, so that a router which never dials (dynamic
   * neighbours) gets herald back within 30 s of a long outage (decision
   * 0022). Attempts that fail before a packet leaves the host do not double
   * it (fsm.ts).
   */
  connectRetryInitialMs: 1_000,
  connectRetryMaxMs: 30_000,
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
  const positive = (v: number | undefined, what: string): void => {
    if (v !== undefined && !(Number.isFinite(v) && v > 0)) fail(`${what} ${v} must be a positive number of ms`);
  };
  positive(cr.initialMs, 'connectRetry.initialMs');
  positive(cr.maxMs, 'connectRetry.maxMs');
  positive(ih.initialMs, 'idleHold.initialMs');
  positive(ih.maxMs, 'idleHold.maxMs');
  positive(ih.stableMs, 'idleHold.stableMs');
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
    gracefulRestart: gr
      ? { restartTime: gr.restartTime, notification: gr.notification ?? false, forwardingPreserved: gr.forwardingPreserved ?? true }
      : undefined,
    hostname: input.hostname ? { hostname: input.hostname.hostname, domain: input.hostname.domain ?? '' } : undefined,
    requiredCapabilities: input.requiredCapabilities ?? [],
    connectRetry: {
      initialMs: cr.initialMs ?? DEFAULTS.connectRetryInitialMs,
      maxMs: Math.max(cr.maxMs ?? DEFAULTS.connectRetryMaxMs, cr.initialMs ?? DEFAULTS.connectRetryInitialMs),
    },
    idleHold: {
      initialMs: ih.initialMs ?? DEFAULTS.idleHoldInitialMs,
      maxMs: Math.max(ih.maxMs ?? DEFAULTS.idleHoldMaxMs, ih.initialMs ?? DEFAULTS.idleHoldInitialMs),
      stableMs: ih.stableMs ?? DEFAULTS.idleHoldStableMs,
    },
    sendHoldTime: input.sendHoldTime,
  };
}

/** True when the peer is in our AS (iBGP). */
export const isIbgp = (c: SessionConfig): boolean => c.localAs === c.peerAs;
