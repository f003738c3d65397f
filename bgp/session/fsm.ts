/**
 * The BGP finite state machine as a pure function (RFC 4271 §8; RFC 6608;
 * RFC 9687; RFC 4724 §2 End-of-RIB; RFC 4486 / RFC 9003 Cease).
 *
 * Design ("sans-I/O", after RustyBGP and holo; STYLE.md §8)
 * -------------------------------------------------------------
 *
 *   step(session, event, now) -> { session, actions }
 *
 * - `session` is an immutable value (types.ts `SessionState`); `step` returns
 *   a new one and never mutates its input. No I/O, no clock, no Math.random:
 *   `now` (ms) comes from the driver, randomness from a PRNG state kept in the
 *   session (seeded by `createSession`), so tests replay exactly.
 * - One `SessionState` is one TCP connection's FSM. Connection collisions
 *   (RFC 4271 §6.8) are handled by the driver holding a second state and
 *   asking collision.ts which one to dump; the loser gets `OpenCollisionDump`.
 * - Events are named as in RFC 4271 §8.1 (types.ts). The driver turns a
 *   decoded message into an event with `messageEvent`, a BgpError from the
 *   decoder with `errorEvent`. RFC 7606 errors that do not reset the session
 *   stay inside `UpdateMessage.errors` and arrive as an ordinary UpdateMsg.
 * - Actions are applied by the driver in order: `connect`, `send` (the
 *   driver encodes with the current CodecContext), `close`, `established`
 *   (switch to `negotiated.context`), `session-down`, `update-received`,
 *   `end-of-rib-received`, `route-refresh-received`. A NOTIFICATION `send` is
 *   always followed by `close`.
 * - Timers are deadlines in `session.timers` (timers.ts). The driver arms one
 *   setTimeout for `nextDeadline(session)` and feeds `expiredTimers(...)`.
 *   A timer event whose deadline is unset or still in the future is stale and
 *   ignored, so racing OS timers cannot act on a stopped timer.
 *
 * Lifecycle and restarts
 * ----------------------
 * ManualStart sets `autoStart`; from then on a session failure goes to Idle
 * with an IdleHold deadline, and IdleHoldTimer_Expires performs the automatic
 * start (RFC 4271 §8.1.1 DampPeerOscillations). The IdleHold delay doubles
 * with each failure (`flaps`), from `idleHold.initialMs` up to `maxMs`; each
 * full `idleHold.stableMs` of Established uptime forgives one failure, so a
 * peer that flaps waits longer and a peer that stays up decays back.
 * AutomaticStart while an IdleHold deadline is pending is ignored (damped).
 * ManualStop sends Cease (with an RFC 9003 shutdown communication), clears
 * `autoStart` and all timers.
 *
 * Transport failures before an OPEN exchange use the ConnectRetry timer
 * instead: each attempt sets connectRetry = now + jitter(min(max, initial ×
 * 2^ConnectRetryCounter)), jitter being RFC 4271 §10's uniform 0.75..1.0
 * factor (also applied to the KeepaliveTimer). Passive sessions never
 * connect and keep no ConnectRetry deadline.
 *
 * Deviations from RFC 4271 §8.2.2, each deliberate
 * -------------------------------------------------
 * - Connect + TcpConnectionFails goes to Active and waits for the running
 *   ConnectRetry deadline (as OpenBGPD does) instead of Idle, so the backoff
 *   lives in one timer and incoming connections are still accepted meanwhile.
 *   Active + TcpConnectionFails (no connection of ours exists) is ignored.
 * - A NOTIFICATION received in OpenSent ends the connection without sending an
 *   FSM Error back (RFC 4271 lists NotifMsg among "other events" there;
 *   answering a NOTIFICATION with one is pointless and most speakers don't).
 * - A second OPEN on the same connection in OpenConfirm or Established is an
 *   RFC 6608 FSM Error; collisions between two connections are the driver's
 *   job via collision.ts.
 * - In Established every valid message (KEEPALIVE, UPDATE, ROUTE-REFRESH, an
 *   UPDATE with only non-resetting RFC 7606 errors) restarts the HoldTimer.
 * - ConnectRetryCounter is reset on reaching Established (it only drives the
 *   backoff; RFC 4271 resets it only on ManualStop).
 * - DelayOpen and the optional TCP events 14/15 are not implemented.
 *
 * End-of-RIB and the Send Hold Timer
 * ----------------------------------
 * The peer's End-of-RIB per family is recorded in `session.eor.received` and
 * reported as `end-of-rib-received` (not as `update-received`). Ours is sent
 * by the FSM when the RIB reports `InitialSyncDone`: one End-of-RIB per
 * negotiated family, queued after the RIB's UPDATEs; `eor.sentAt` records it.
 * The driver reports each message it hands to the kernel as `MessageSent`;
 * in Established that restarts the RFC 9687 SendHoldTimer (and, for UPDATEs,
 * the KeepaliveTimer, RFC 4271 §8.2.2). If nothing could be written for
 * SendHoldTime, SendHoldTimer_Expires sends NOTIFICATION code 8 and drops.
 */
import type { BgpError } from '../wire/errors.js';
import { CeaseSub, ErrCode, MsgType, RefreshSubtype } from '../wire/iana.js';
import { familyKey } from '../wire/context.js';
import type { BgpMessage, NotificationMessage } from '../wire/types.js';
import { resolveConfig, type SessionConfig, type SessionConfigInput } from './config.js';
import { endOfRib, endOfRibFamily } from './eor.js';
import { buildOpen, negotiate } from './negotiate.js';
import {
  ceaseNotification,
  fsmErrorNotification,
  fsmSubcodeFor,
  maxPrefixNotification,
  notification,
  notificationFromError,
  reasonFromNotification,
  type DownReason,
} from './notify.js';
import { checkOpen } from './open-check.js';
import { checkUpdate } from './update-check.js';
import { collisionNotification } from './collision.js';
import {
  connectRetryBase,
  flapsAfterDown,
  idleHoldDelay,
  jitter,
  nextRandom,
  timerOf,
} from './timers.js';
import type { FsmAction, FsmEvent, SessionState, Timers } from './types.js';

export interface StepResult {
  session: SessionState;
  actions: FsmAction[];
}

/** Create an Idle session for a peer; `seed` fixes the jitter sequence. */
export function createSession(config: SessionConfig | SessionConfigInput, seed = 1): SessionState {
  const resolved = isResolved(config) ? config : resolveConfig(config);
  return {
    config: resolved,
    state: 'Idle',
    timers: {},
    connectRetryCounter: 0,
    autoStart: false,
    passive: resolved.passive,
    flaps: 0,
    eor: { received: {} },
    rng: seed >>> 0,
  };
}

function isResolved(c: SessionConfig | SessionConfigInput): c is SessionConfig {
  return typeof (c as SessionConfig).connectRetry?.initialMs === 'number' && Array.isArray((c as SessionConfig).requiredCapabilities);
}

/** Map a decoded message to its FSM event. */
export function messageEvent(message: BgpMessage): FsmEvent {
  switch (message.type) {
    case 'open':
      return { type: 'BGPOpen', message };
    case 'update':
      return { type: 'UpdateMsg', message };
    case 'notification':
      return { type: 'NotifMsg', message };
    case 'keepalive':
      return { type: 'KeepAliveMsg' };
    case 'route-refresh':
      return { type: 'RouteRefresh', message };
  }
}

/** Map a decode error to its FSM event: header, OPEN or UPDATE error (others count as header errors). */
export function errorEvent(error: BgpError): FsmEvent {
  if (error.code === ErrCode.OpenMessage) return { type: 'BGPOpenMsgErr', error };
  if (error.code === ErrCode.UpdateMessage) return { type: 'UpdateMsgErr', error };
  return { type: 'BGPHeaderErr', error };
}

/** Apply several events in order at the same instant, concatenating their actions. */
export function stepAll(session: SessionState, events: readonly FsmEvent[], now: number): StepResult {
  let s = session;
  const actions: FsmAction[] = [];
  for (const e of events) {
    const r = step(s, e, now);
    s = r.session;
    actions.push(...r.actions);
  }
  return { session: s, actions };
}

/** Advance the FSM by one event at time `now` (ms); pure. */
export function step(session: SessionState, event: FsmEvent, now: number): StepResult {
  let s = session;
  const timer = timerOf(event.type);
  if (timer !== undefined) {
    const deadline = s.timers[timer];
    // Stale: the timer was stopped or restarted after the driver armed it.
    if (deadline === undefined || deadline > now) return { session: s, actions: [] };
    s = withTimers(s, { ...s.timers, [timer]: undefined });
  }
  switch (s.state) {
    case 'Idle':
      return idle(s, event, now);
    case 'Connect':
    case 'Active':
      return connectOrActive(s, event, now);
    case 'OpenSent':
      return openSent(s, event, now);
    case 'OpenConfirm':
      return openConfirm(s, event, now);
    case 'Established':
      return established(s, event, now);
  }
}

// ---------------------------------------------------------------- helpers

const none = (session: SessionState): StepResult => ({ session, actions: [] });

/** Drop undefined entries so `timers` only lists running deadlines. */
function withTimers(s: SessionState, timers: Timers): SessionState {
  const clean: { -readonly [K in keyof Timers]: number } = {};
  for (const [k, v] of Object.entries(timers) as [keyof Timers, number | undefined][]) if (v !== undefined) clean[k] = v;
  return { ...s, timers: clean };
}

function draw(s: SessionState): [number, SessionState] {
  const [v, rng] = nextRandom(s.rng);
  return [v, { ...s, rng }];
}

/** Go to Connect (dialing) or Active (waiting), per start mode. */
function start(s: SessionState, now: number): StepResult {
  if (s.passive) return none({ ...withTimers(s, {}), state: 'Active' });
  const [r, s2] = draw(s);
  const deadline = now + jitter(connectRetryBase(s.config, s2.connectRetryCounter), r);
  return { session: { ...withTimers(s2, { connectRetry: deadline }), state: 'Connect' }, actions: [{ type: 'connect' }] };
}

/** TCP is up: send our OPEN and wait for the peer's under the large OpenSent hold timer. */
function toOpenSent(s: SessionState, now: number): StepResult {
  const open = buildOpen(s.config);
  // RFC 4271 §8.2.2 Connect: "sends an OPEN message to its peer, sets the
  // HoldTimer to a large value, and changes its state to OpenSent."
  const session: SessionState = {
    ...withTimers(s, { hold: now + s.config.openHoldTime * 1000 }),
    state: 'OpenSent',
    localOpen: open,
  };
  return { session, actions: [{ type: 'send', message: open }] };
}

interface DownOptions {
  reason: DownReason;
  /** NOTIFICATION we send before closing. */
  send?: NotificationMessage;
  /** NOTIFICATION we received (reported in session-down). */
  received?: NotificationMessage;
  /** 'failure': damping and automatic restart; 'manual': ManualStop; 'dump': collision loser. */
  kind: 'failure' | 'manual' | 'dump';
  /** For a failure: restart after this many ms instead of the damping delay; null: no automatic restart. */
  restartMs?: number | null;
}

/** End the connection and go to Idle, arming the IdleHold restart where due. */
function down(s: SessionState, now: number, o: DownOptions): StepResult {
  const actions: FsmAction[] = [];
  if (o.send) actions.push({ type: 'send', message: o.send });
  actions.push({ type: 'close' });
  const wasEstablished = s.state === 'Established';
  const note = o.send ?? o.received;
  actions.push({ type: 'session-down', reason: o.reason, wasEstablished, ...(note ? { notification: note } : {}) });

  const uptime = s.establishedAt !== undefined ? now - s.establishedAt : undefined;
  const flaps = o.kind === 'failure' ? flapsAfterDown(s.config, s.flaps, uptime, true) : s.flaps;
  // A limit's "disable" action (restartMs null) stops automatic restarts as ManualStop does.
  const autoStart = o.kind === 'manual' || o.restartMs === null ? false : s.autoStart;
  const delay = typeof o.restartMs === 'number' ? o.restartMs : idleHoldDelay(s.config, flaps);
  const timers: Timers = o.kind === 'failure' && autoStart ? { idleHold: now + delay } : {};
  const session: SessionState = {
    config: s.config,
    state: 'Idle',
    timers,
    // RFC 4271 §8.2.2: errors increment the ConnectRetryCounter; ManualStop zeroes it.
    connectRetryCounter: o.kind === 'manual' ? 0 : o.kind === 'failure' ? s.connectRetryCounter + 1 : s.connectRetryCounter,
    autoStart,
    passive: s.passive,
    flaps,
    eor: { received: {} },
    lastDown: { ...o.reason, at: now },
    rng: s.rng,
  };
  return { session, actions };
}

/** Send a NOTIFICATION we decided on, then drop the connection as a failure. */
function fail(s: SessionState, now: number, n: NotificationMessage, detail?: string, restartMs?: number | null): StepResult {
  return down(s, now, { reason: reasonFromNotification(n, 'sent', detail), send: n, kind: 'failure', ...(restartMs !== undefined ? { restartMs } : {}) });
}

function fromError(s: SessionState, now: number, err: BgpError): StepResult {
  return fail(s, now, notificationFromError(err), err.message);
}

/** RFC 6608 §4: an FSM Error naming the state and the unexpected message type. */
function unexpected(s: SessionState, now: number, msgType: number, what: string): StepResult {
  return fail(s, now, fsmErrorNotification(fsmSubcodeFor(s.state), msgType), `unexpected ${what} in ${s.state}`);
}

/** ManualStop / AutomaticStop with an open connection: Cease, close, Idle. */
function stop(s: SessionState, now: number, e: Extract<FsmEvent, { type: 'ManualStop' | 'AutomaticStop' }>): StepResult {
  const manual = e.type === 'ManualStop';
  const subcode = e.subcode ?? (manual ? CeaseSub.AdministrativeShutdown : CeaseSub.AdministrativeReset);
  const n = ceaseNotification(subcode, e.text);
  const reason: DownReason = { ...reasonFromNotification(n, 'sent'), kind: 'stopped' };
  return down(s, now, { reason, send: n, kind: manual ? 'manual' : 'failure' });
}

/** Peer closed the connection or sent a NOTIFICATION. */
function peerGone(s: SessionState, now: number, received?: NotificationMessage): StepResult {
  const reason: DownReason = received
    ? reasonFromNotification(received, 'received')
    : { kind: 'tcp-failed', message: `TCP connection failed in ${s.state}` };
  return down(s, now, { reason, ...(received ? { received } : {}), kind: 'failure' });
}

function dumpCollision(s: SessionState, now: number): StepResult {
  const n = collisionNotification();
  return down(s, now, {
    reason: { ...reasonFromNotification(n, 'sent'), kind: 'collision' },
    send: n,
    kind: 'dump',
  });
}

/** Restart the KeepaliveTimer with jitter, unless keepalives are off (hold time 0). */
function restartKeepalive(s: SessionState, now: number): SessionState {
  const ka = s.negotiated?.keepaliveTime ?? 0;
  if (ka === 0) return withTimers(s, { ...s.timers, keepalive: undefined });
  const [r, s2] = draw(s);
  return withTimers(s2, { ...s2.timers, keepalive: now + jitter(ka * 1000, r) });
}

/** Restart the HoldTimer with the negotiated hold time (stopped when it is 0). */
function restartHold(s: SessionState, now: number): SessionState {
  const hold = s.negotiated?.holdTime ?? 0;
  return withTimers(s, { ...s.timers, hold: hold === 0 ? undefined : now + hold * 1000 });
}

/** Restart the RFC 9687 SendHoldTimer (stopped when the hold time is 0). */
function restartSendHold(s: SessionState, now: number): SessionState {
  const t = s.negotiated?.sendHoldTime ?? 0;
  return withTimers(s, { ...s.timers, sendHold: t === 0 ? undefined : now + t * 1000 });
}

/** Events that carry a received message (or its decode error). */
const MESSAGE_EVENTS = new Set<FsmEvent['type']>([
  'BGPOpen',
  'BGPHeaderErr',
  'BGPOpenMsgErr',
  'NotifMsg',
  'KeepAliveMsg',
  'UpdateMsg',
  'UpdateMsgErr',
  'RouteRefresh',
  'OpenCollisionDump',
]);

// ---------------------------------------------------------------- states

function idle(s: SessionState, e: FsmEvent, now: number): StepResult {
  switch (e.type) {
    case 'ManualStart':
    case 'ManualStart_with_PassiveTcpEstablishment':
      // An operator start clears damping and the retry counter.
      return start(
        {
          ...withTimers(s, {}),
          autoStart: true,
          flaps: 0,
          connectRetryCounter: 0,
          passive: s.config.passive || e.type === 'ManualStart_with_PassiveTcpEstablishment',
        },
        now,
      );
    case 'AutomaticStart':
    case 'AutomaticStart_with_PassiveTcpEstablishment':
      // DampPeerOscillations: while the IdleHold deadline runs, automatic starts wait for it.
      if (s.timers.idleHold !== undefined) return none(s);
      return start(
        {
          ...s,
          autoStart: true,
          passive: s.config.passive || e.type === 'AutomaticStart_with_PassiveTcpEstablishment',
        },
        now,
      );
    case 'IdleHoldTimer_Expires':
      return s.autoStart ? start(s, now) : none(s);
    case 'ManualStop':
      return none({ ...withTimers(s, {}), autoStart: false, connectRetryCounter: 0 });
    case 'Tcp_CR_Acked':
    case 'TcpConnectionConfirmed':
      // RFC 4271 §8.2.2 Idle: "refuses all incoming BGP connections".
      return { session: s, actions: [{ type: 'close' }] };
    default:
      // RFC 4271 §8.2.2 Idle: "Any other event ... does not cause change in the state."
      return none(s);
  }
}

function connectOrActive(s: SessionState, e: FsmEvent, now: number): StepResult {
  switch (e.type) {
    case 'ManualStop':
      return down(s, now, { reason: { kind: 'stopped', message: `manual stop in ${s.state}` }, kind: 'manual' });
    case 'AutomaticStop':
      return down(s, now, { reason: { kind: 'stopped', message: `automatic stop in ${s.state}` }, kind: 'failure' });
    case 'ConnectRetryTimer_Expires': {
      if (s.passive) return none(s);
      // RFC 4271 §8.2.2: "drops the TCP connection, restarts the ConnectRetryTimer,
      // ... initiates a TCP connection to the other BGP peer" (Connect), or
      // "changes its state to Connect" (Active).
      const s1 = { ...s, connectRetryCounter: s.connectRetryCounter + 1 };
      const [r, s2] = draw(s1);
      const deadline = now + jitter(connectRetryBase(s.config, s2.connectRetryCounter), r);
      const actions: FsmAction[] = s.state === 'Connect' ? [{ type: 'close' }, { type: 'connect' }] : [{ type: 'connect' }];
      return { session: { ...withTimers(s2, { connectRetry: deadline }), state: 'Connect' }, actions };
    }
    case 'Tcp_CR_Acked':
    case 'TcpConnectionConfirmed':
      return toOpenSent(s, now);
    case 'TcpConnectionFails':
      // Deviation (see header): wait in Active for the running ConnectRetry deadline.
      return none({ ...s, state: 'Active' });
    default:
      if (MESSAGE_EVENTS.has(e.type)) {
        // No connection exists in these states; RFC 4271 moves to Idle without a NOTIFICATION.
        return down(s, now, { reason: { kind: 'fsm', message: `${e.type} in ${s.state}` }, kind: 'failure' });
      }
      return none(s);
  }
}

/** Events common to OpenSent, OpenConfirm and Established. */
function common(s: SessionState, e: FsmEvent, now: number): StepResult | null {
  switch (e.type) {
    case 'ManualStop':
    case 'AutomaticStop':
      return stop(s, now, e);
    case 'HoldTimer_Expires':
      // RFC 4271 §6.5: "the NOTIFICATION message with the Error Code Hold Timer Expired is sent".
      return fail(s, now, notification(ErrCode.HoldTimerExpired, 0), 'no message from peer within the hold time');
    case 'BGPHeaderErr':
    case 'BGPOpenMsgErr':
      return fromError(s, now, e.error);
    case 'NotifMsg':
      return peerGone(s, now, e.message);
    case 'OpenCollisionDump':
      return dumpCollision(s, now);
    case 'ManualStart':
    case 'ManualStart_with_PassiveTcpEstablishment':
    case 'AutomaticStart':
    case 'AutomaticStart_with_PassiveTcpEstablishment':
    case 'Tcp_CR_Acked':
    case 'TcpConnectionConfirmed':
      // Starts are ignored once running; a second connection is the driver's (collision.ts).
      return none(s);
    default:
      return null;
  }
}

/**
 * A malformed ROUTE-REFRESH (RFC 7313 §5, error code 7) reaches the FSM as a
 * BGPHeaderErr, but before Established the message is unexpected whatever its
 * body: RFC 6608 §4 "MUST send ... Finite State Machine Error" wins, as it
 * does for a malformed UPDATE (UpdateMsgErr) in these states.
 */
function isRefreshError(e: FsmEvent): boolean {
  return e.type === 'BGPHeaderErr' && e.error.code === ErrCode.RouteRefresh;
}

function openSent(s: SessionState, e: FsmEvent, now: number): StepResult {
  if (isRefreshError(e)) return unexpected(s, now, MsgType.ROUTE_REFRESH, 'ROUTE-REFRESH');
  const c = common(s, e, now);
  if (c) return c;
  switch (e.type) {
    case 'TcpConnectionFails': {
      // RFC 4271 §8.2.2 OpenSent: "closes the BGP connection, restarts the
      // ConnectRetryTimer, continues to listen for a connection that may be
      // initiated by the remote BGP peer, and changes its state to Active."
      const s1: SessionState = { ...s, connectRetryCounter: s.connectRetryCounter + 1, state: 'Active' };
      const reason: DownReason = { kind: 'tcp-failed', message: 'TCP connection failed in OpenSent' };
      const { localOpen: _lo, ...rest } = s1;
      let next: SessionState = { ...withTimers(rest, {}), lastDown: { ...reason, at: now } };
      if (!s.passive) {
        const [r, s2] = draw(next);
        next = withTimers(s2, { connectRetry: now + jitter(connectRetryBase(s.config, s2.connectRetryCounter), r) });
      }
      return {
        session: next,
        actions: [{ type: 'close' }, { type: 'session-down', reason, wasEstablished: false }],
      };
    }
    case 'BGPOpen': {
      const err = checkOpen(e.message, s.config);
      if (err) return fromError(s, now, err);
      const ours = s.localOpen ?? buildOpen(s.config);
      const negotiated = negotiate(s.config, ours, e.message);
      // RFC 4271 §8.2.2 OpenSent: "sends a KEEPALIVE message, and sets a
      // KeepaliveTimer ..., sets the HoldTimer according to the negotiated
      // value ..., changes its state to OpenConfirm." "If the negotiated hold
      // time value is zero, then the HoldTimer and KeepaliveTimer are not started."
      let next: SessionState = { ...withTimers(s, {}), state: 'OpenConfirm', peerOpen: e.message, negotiated, localOpen: ours };
      next = restartHold(next, now);
      next = restartKeepalive(next, now);
      return { session: next, actions: [{ type: 'send', message: { type: 'keepalive' } }] };
    }
    case 'KeepAliveMsg':
      return unexpected(s, now, MsgType.KEEPALIVE, 'KEEPALIVE');
    case 'UpdateMsg':
    case 'UpdateMsgErr':
      return unexpected(s, now, MsgType.UPDATE, 'UPDATE');
    case 'RouteRefresh':
      return unexpected(s, now, MsgType.ROUTE_REFRESH, 'ROUTE-REFRESH');
    default:
      return none(s);
  }
}

function openConfirm(s: SessionState, e: FsmEvent, now: number): StepResult {
  if (isRefreshError(e)) return unexpected(s, now, MsgType.ROUTE_REFRESH, 'ROUTE-REFRESH');
  const c = common(s, e, now);
  if (c) return c;
  switch (e.type) {
    case 'KeepaliveTimer_Expires':
      return { session: restartKeepalive(s, now), actions: [{ type: 'send', message: { type: 'keepalive' } }] };
    case 'TcpConnectionFails':
      return peerGone(s, now);
    case 'KeepAliveMsg': {
      // RFC 4271 §8.2.2 OpenConfirm: "restarts the HoldTimer and changes its
      // state to Established"; RFC 9687 §3: "sets the SendHoldTimer to the
      // default or configured value of SendHoldTime".
      let next: SessionState = { ...s, state: 'Established', establishedAt: now, connectRetryCounter: 0 };
      next = restartHold(next, now);
      next = restartSendHold(next, now);
      return { session: next, actions: [{ type: 'established', negotiated: s.negotiated! }] };
    }
    case 'BGPOpen':
      return unexpected(s, now, MsgType.OPEN, 'OPEN');
    case 'UpdateMsg':
    case 'UpdateMsgErr':
      return unexpected(s, now, MsgType.UPDATE, 'UPDATE');
    case 'RouteRefresh':
      return unexpected(s, now, MsgType.ROUTE_REFRESH, 'ROUTE-REFRESH');
    default:
      return none(s);
  }
}

function established(s: SessionState, e: FsmEvent, now: number): StepResult {
  const c = common(s, e, now);
  if (c) return c;
  const neg = s.negotiated!;
  switch (e.type) {
    case 'KeepaliveTimer_Expires':
      return { session: restartKeepalive(s, now), actions: [{ type: 'send', message: { type: 'keepalive' } }] };
    case 'SendHoldTimer_Expires':
      // RFC 9687 §3: "sends a NOTIFICATION message with the BGP Error Code
      // 'Send Hold Timer Expired' ... drops the TCP connection".
      return fail(
        s,
        now,
        notification(ErrCode.SendHoldTimerExpired, 0),
        `nothing could be written for ${neg.sendHoldTime}s`,
      );
    case 'TcpConnectionFails':
      return peerGone(s, now);
    case 'KeepAliveMsg':
      return none(restartHold(s, now));
    case 'UpdateMsg': {
      // RFC 7606 §3 (j), §7.3: a malformed MP_REACH/MP_UNREACH calls for
      // "AFI/SAFI disable" or "session reset". For a family this session did
      // not negotiate that is ignoring it (update-check.ts); for a negotiated
      // one herald does not disable single families, so the error resets the
      // session with the decoder's NOTIFICATION code, subcode and data.
      const chk = checkUpdate(e.message, neg, s.config.enforceFirstAs);
      if (chk.fatal) return fromError(s, now, chk.fatal.withAction('session-reset'));
      const next = restartHold(s, now);
      const fam = endOfRibFamily(e.message);
      if (fam === null) {
        const ignored = chk.ignored.length > 0 ? { ignored: chk.ignored } : {};
        return { session: next, actions: [{ type: 'update-received', message: chk.message, ...ignored }] };
      }
      return {
        session: { ...next, eor: { ...next.eor, received: { ...next.eor.received, [fam]: now } } },
        actions: [{ type: 'end-of-rib-received', family: fam }],
      };
    }
    case 'UpdateMsgErr':
      // RFC 7606 §2: treat-as-withdraw and attribute-discard never reset the
      // session; they normally arrive inside UpdateMessage.errors. Afi-safi-disable
      // is handled as a session reset (herald does not disable single families).
      if (e.error.action === 'treat-as-withdraw' || e.error.action === 'attribute-discard') return none(restartHold(s, now));
      return fromError(s, now, e.error);
    case 'RouteRefresh': {
      const next = restartHold(s, now);
      const m = e.message;
      // RFC 2918 §4: "If a BGP speaker receives from its peer a ROUTE-REFRESH
      // message with the <AFI, SAFI> that the speaker didn't advertise to the
      // peer at the session establishment time via capability advertisement,
      // the speaker shall ignore such a message."
      if (!neg.routeRefresh || !neg.families.includes(familyKey(m.afi, m.safi))) return none(next);
      // RFC 7313 §3: a subtype other than 0, 1 or 2 "MUST" be ignored; BoRR and
      // EoRR only mean something once Enhanced Route Refresh is negotiated.
      if (m.subtype !== RefreshSubtype.Normal && !(neg.enhancedRouteRefresh && (m.subtype === RefreshSubtype.BoRR || m.subtype === RefreshSubtype.EoRR)))
        return none(next);
      return { session: next, actions: [{ type: 'route-refresh-received', afi: m.afi, safi: m.safi, subtype: m.subtype }] };
    }
    case 'BGPOpen':
      return unexpected(s, now, MsgType.OPEN, 'OPEN');
    case 'MessageSent': {
      let next = restartSendHold(s, now);
      // RFC 4271 §8.2.2 Established: "Each time the local system sends a
      // KEEPALIVE or UPDATE message, it restarts its KeepaliveTimer, unless
      // the negotiated HoldTime value is zero." Our KEEPALIVEs restart it when
      // the FSM emits them; UPDATEs come from the RIB and are reported here.
      if (e.kind === 'update') next = restartKeepalive(next, now);
      return none(next);
    }
    case 'InitialSyncDone': {
      if (s.eor.sentAt !== undefined) return none(s);
      const actions: FsmAction[] = neg.families.map((k) => {
        const [afi, safi] = k.split('/').map(Number) as [number, number];
        return { type: 'send', message: endOfRib(afi, safi) };
      });
      return { session: { ...s, eor: { ...s.eor, sentAt: now } }, actions };
    }
    case 'MaxPrefixExceeded':
      // RFC 4486 §4: "If a BGP speaker decides to terminate its peering with a
      // neighbor because the number of address prefixes received from the
      // neighbor exceeds a locally configured upper bound ..., then the speaker
      // MUST send to the neighbor a NOTIFICATION message with the Error Code
      // Cease and the Error Subcode 'Maximum Number of Prefixes Reached'."
      return fail(
        s,
        now,
        maxPrefixNotification(e.afi, e.safi, e.limit),
        `more than ${e.limit} prefixes for ${familyKey(e.afi, e.safi)}`,
        e.restartMs,
      );
    case 'ReceiveLimitExceeded':
      // RFC 4486 §4: "If a BGP speaker runs out of resources (e.g., memory)
      // and decides to reset a session, then the speaker MAY send a
      // NOTIFICATION message with the Error Code Cease and the Error Subcode
      // 'Out of Resources'." A cap on what a peer may make us hold is that
      // decision taken early. RFC 9003's shutdown communication is only for
      // subcodes 2 and 4, so the data field stays empty.
      return fail(s, now, notification(ErrCode.Cease, CeaseSub.OutOfResources), e.detail, e.restartMs);
    default:
      return none(s);
  }
}
