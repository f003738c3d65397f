/**
 * Connection collision detection and resolution (RFC 4271 §6.8, RFC 6286 §2.3).
 *
 * One `SessionState` describes one TCP connection. While the peer's session is
 * being opened, both speakers may connect at once; the driver then holds two
 * states, the connection we initiated ("outgoing") and the one the peer
 * initiated ("incoming"), and asks this module:
 *
 * 1. `incomingDisposition(primary)` when a connection is accepted: hand it to
 *    the primary state (Connect/Active, or Idle between restarts), track it as
 *    a second state built by `trackIncoming` (OpenSent and later), or refuse
 *    it (Idle while the peer is held down: stopped or damped).
 * 2. `checkCollision(outgoing, incoming)` after every step of either state:
 *    once the peer's BGP Identifier is known, which one to dump. The driver
 *    feeds `OpenCollisionDump` to the loser (which sends Cease/Connection
 *    Collision Resolution and closes) and discards the loser's state.
 */
import { CeaseSub, ErrCode } from '../wire/iana.js';
import type { NotificationMessage } from '../wire/types.js';
import { notification } from './notify.js';
import { bgpIdValue, peerAsOf } from './open-check.js';
import { heldDown, nextRandom } from './timers.js';
import type { SessionState } from './types.js';

/** Which end initiated a TCP connection. */
export type ConnectionSide = 'outgoing' | 'incoming';

export interface CollisionInput {
  /** Our BGP Identifier (dotted quad). */
  localId: string;
  /** The peer's BGP Identifier, from its OPEN. */
  remoteId: string;
  localAs: number;
  remoteAs: number;
}

export interface CollisionDecision {
  keep: ConnectionSide;
  dump: ConnectionSide;
  /** What to send on the dumped connection. */
  notification: NotificationMessage;
}

/** Build Cease/Connection Collision Resolution (RFC 4486 §4). */
export function collisionNotification(): NotificationMessage {
  return notification(ErrCode.Cease, CeaseSub.ConnectionCollisionResolution);
}

/**
 * Decide which of two connections to keep, comparing BGP Identifiers as
 * 32-bit unsigned integers.
 */
export function resolveCollision(input: CollisionInput): CollisionDecision {
  const local = bgpIdValue(input.localId) ?? 0;
  const remote = bgpIdValue(input.remoteId) ?? 0;
  let keep: ConnectionSide;
  if (local !== remote) {
    // RFC 4271 §6.8: "If the value of the local BGP Identifier is less than the
    // remote one, the local system closes the BGP connection that already
    // exists ..., and accepts BGP connection initiated by the remote system.
    // 2. Otherwise, the local system closes the newly created BGP connection
    // ... and continues to use the existing one." In both readings the
    // connection initiated by the speaker with the higher Identifier survives.
    keep = local < remote ? 'incoming' : 'outgoing';
  } else {
    // RFC 6286 §2.3: "If the BGP Identifiers of the peers involved in the
    // connection collision are identical, then the connection initiated by the
    // BGP speaker with the larger AS number is preserved."
    keep = input.localAs >= input.remoteAs ? 'outgoing' : 'incoming';
  }
  return { keep, dump: keep === 'outgoing' ? 'incoming' : 'outgoing', notification: collisionNotification() };
}

/** What the driver does with a newly accepted incoming connection. */
export type IncomingDisposition =
  /** Feed TcpConnectionConfirmed to the primary state (abandoning its outgoing attempt). */
  | 'attach'
  /** Keep the primary and track the new connection in a second state (`trackIncoming`). */
  | 'track'
  /** Close the new connection: the session is administratively down or damped. */
  | 'reject';

/** Decide what to do with an incoming connection given the peer's primary state. */
export function incomingDisposition(primary: SessionState): IncomingDisposition {
  switch (primary.state) {
    case 'Idle':
      // RFC 4271 §8.2.2 Idle: "the BGP FSM ... refuses all incoming BGP
      // connections" — herald's Idle does so only while it holds the peer down
      // on purpose (never started, stopped, or damped after a protocol error).
      // Between restarts the router's own connection is taken (decision 0025).
      return heldDown(primary) ? 'reject' : 'attach';
    case 'Connect':
    case 'Active':
      return 'attach';
    default:
      // RFC 4271 §6.8: the second connection is tracked until its OPEN shows
      // which one survives (even against Established, where the new one loses).
      return 'track';
  }
}

/**
 * Create the state for a tracked incoming connection: same config, start mode
 * and damping as the primary, state Active, ready for TcpConnectionConfirmed.
 */
export function trackIncoming(primary: SessionState): SessionState {
  return {
    config: primary.config,
    state: 'Active',
    timers: {},
    connectRetryCounter: primary.connectRetryCounter,
    autoStart: primary.autoStart,
    passive: true,
    flaps: primary.flaps,
    eor: { received: {} },
    rng: nextRandom(primary.rng ^ 0x9e3779b9)[1],
    ...(primary.restarting ? { restarting: true } : {}),
  };
}

const OPEN_STATES = new Set(['OpenSent', 'OpenConfirm', 'Established']);

/**
 * Return the collision decision once both connections are up and the peer's
 * BGP Identifier is known from an OPEN on either; null when nothing is to be
 * done yet. Against an Established connection the other one always loses
 * (RFC 4271 §6.8: a "collision with existing BGP connection that is in the
 * Established state causes closing of the newly created connection").
 */
export function checkCollision(outgoing: SessionState, incoming: SessionState): CollisionDecision | null {
  if (!OPEN_STATES.has(outgoing.state) || !OPEN_STATES.has(incoming.state)) return null;
  if (outgoing.state === 'Established')
    return { keep: 'outgoing', dump: 'incoming', notification: collisionNotification() };
  if (incoming.state === 'Established')
    return { keep: 'incoming', dump: 'outgoing', notification: collisionNotification() };
  const open = incoming.peerOpen ?? outgoing.peerOpen;
  if (!open) return null;
  return resolveCollision({
    localId: outgoing.config.routerId,
    remoteId: open.bgpId,
    localAs: outgoing.config.localAs,
    remoteAs: peerAsOf(open),
  });
}
