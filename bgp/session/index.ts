/**
 * bgp/session public API: the pure BGP FSM (RFC 4271 §8) and the OPEN
 * handling around it. No I/O; the driver (bgp/driver) applies the actions.
 */
export { createSession, step, stepAll, messageEvent, errorEvent, type StepResult } from './fsm.js';
export type { FsmAction, FsmActionType, FsmEvent, FsmEventType, SessionState, SentKind, Timers } from './types.js';
export { FsmState } from './types.js';
export { resolveConfig, isIbgp, DEFAULTS, type SessionConfig, type SessionConfigInput } from './config.js';
export { nextDeadline, expiredTimers, jitter, connectRetryBase, idleHoldDelay, nextRandom, heldDown } from './timers.js';
export { checkOpen, peerAsOf, peerFamilies, bgpIdValue, missingCapabilities, BGP_VERSION } from './open-check.js';
export { buildOpen, negotiate, keepaliveFor, sendHoldFor, type Negotiated, type OpenOptions } from './negotiate.js';
export {
  resolveCollision,
  checkCollision,
  incomingDisposition,
  trackIncoming,
  collisionNotification,
  type CollisionDecision,
  type CollisionInput,
  type ConnectionSide,
  type IncomingDisposition,
} from './collision.js';
export {
  ceaseNotification,
  maxPrefixNotification,
  fsmErrorNotification,
  notificationFromError,
  reasonFromNotification,
  notificationClass,
  innerNotification,
  withHardReset,
  type DownClass,
  type DownReason,
} from './notify.js';
