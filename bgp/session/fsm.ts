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
 * Lifecycle and restarts (decision 0025)
 * ---------------------------------------
 * ManualStart sets `autoStart`; from then on the session restarts by itself
 * after it ends, in a way that depends on why it ended (notify.ts
 * `DownClass`):
 *
 * - a protocol error (sent or received, or a refusal such as Maximum
 *   Prefixes): Idle with an IdleHold deadline — RFC 4271 §8.1.1
 *   DampPeerOscillations. The delay doubles with each unforgiven error
 *   (`flaps`), from `idleHold.initialMs` up to `maxMs`; each full
 *   `idleHold.stableMs` of Established uptime forgives one. Meanwhile the
 *   peer is deliberately held down: AutomaticStart waits and incoming
 *   connections are refused (`heldDown`).
 * - a transport failure (TCP reset or closed, either hold timer, BFD Down) or
 *   a deliberate Cease from the peer (shutdown, reset, configuration change,
 *   Hard Reset, collision): no damping. An Established session restarts at
 *   once; a connection that had not reached Established yet waits in Active
 *   for the ConnectRetry backoff. Incoming connections are accepted.
 *
 * ManualStop sends Cease (with an RFC 9003 shutdown communication), clears
 * `autoStart` and all timers. With `graceful` (a planned restart) and
 * Graceful Restart negotiated it sends no NOTIFICATION at all, or — with the
 * RFC 8538 "N" bit exchanged — a Cease that is not a Hard Reset, so that the
 * peer keeps our routes for the restart time. With the N bit, a Cease that
 * must flush our routes goes out as a Hard Reset (notify.ts `withHardReset`).
 *
 * Transport failures before an OPEN exchange use the ConnectRetry timer:
 * each attempt sets connectRetry = now + jitter(min(max, initial ×
 * 2^ConnectRetryCounter)), jitter being RFC 4271 §10's uniform 0.75..1.0
 * factor (also applied to the KeepaliveTimer). An attempt that fails at the
 * network (refused, reset, unanswered) counts; one that fails before any
 * packet left the host (`TcpConnectionFails.local`: our link is down) resets
 * the count, since it says nothing about the peer, and is retried after the
 * initial delay — so a host whose link returns dials within that delay.
 * A connection the peer accepted and then refused before Established, with
 * an FSM Error (FRR does so while it loads its config after a restart, and
 * while its link's IPv6 link-local address is still tentative after the
 * link came back) or by closing it (FRR, after a connection collision of
 * its own in that moment), is not the network failing either: the peer
 * answered and is about to be ready. It is
 * retried after QUICK_RETRY_MS (jittered, or the ConnectRetry initial delay
 * when that is shorter) without counting, at most QUICK_RETRIES times
 * between two Established sessions; after those the backoff takes over, so a
 * router that always refuses gets an attempt per ConnectRetry delay.
 * Passive sessions never connect and keep no ConnectRetry deadline.
 *
 * Deviations from RFC 4271 §8.2.2, each deliberate
 * -------------------------------------------------
 * - Connect + TcpConnectionFails goes to Active and waits for the running
 *   ConnectRetry deadline (as OpenBGPD does) instead of Idle, so the backoff
 *   lives in one timer and incoming connections are still accepted meanwhile.
 *   Active + TcpConnectionFails (no connection of ours exists) is ignored.
 * - A session that ends without a protocol error does not stop in a damped
 *   Idle (see above): it passes through Idle within the same step, to
 *   Connect/Active (decision 0025). Idle with `autoStart` and no IdleHold
 *   deadline accepts an incoming connection.
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
 * reported as `end-of-rib-received` (not as `update-received`). Ours is
 * written by the Adj-RIB-Out once its first full sync has drained (decision
 * 0011): that is the one End-of-RIB path; the FSM sends none.
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
import { isEndOfRib } from '../wire/messages/update.js';
import { buildOpen, negotiate } from './negotiate.js';
import {
  ceaseNotification,
  fsmErrorNotification,
  fsmSubcodeFor,
  maxPrefixNotification,
  notification,
  notificationClass,
  notificationFromError,
  reasonFromNotification,
  withHardReset,
  type DownClass,
  type DownReason,
} from './notify.js';
import { checkOpen } from './open-check.js';
import { checkUpdate } from './update-check.js';
import { collisionNotification } from './collision.js';
import {
  connectRetryBase,
  flapsAfterDown,
  heldDown,
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

/**
 * Create an Idle session for a peer; `seed` fixes the jitter sequence.
 * `restarting` sets the RFC 4724 Restart State bit in the OPENs until the
 * first Established.
 */
export function createSession(config: SessionConfig | SessionConfigInput, seed = 1, opts: { restarting?: boolean } = {}): SessionState {
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
    ...(opts.restarting ? { restarting: true } : {}),
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

/** Delay of a quick retry (a refusal by a peer that is about to be ready), before jitter. */
export const QUICK_RETRY_MS = 250;
/** Quick retries between two Established sessions: about 5 s of them (a link-local address's DAD takes 1–2 s), then the ConnectRetry backoff. */
export const QUICK_RETRIES = 20;

/** Wait in Active for a quick retry (a connection the peer took and refused before Established; not counted as a failed attempt). */
function retrySoon(s: SessionState, now: number): SessionState {
  if (s.passive) return { ...withTimers(s, {}), state: 'Active' };
  const [r, s2] = draw(s);
  const delay = Math.min(QUICK_RETRY_MS, connectRetryBase(s.config, 0));
  return { ...withTimers({ ...s2, quickRetries: (s.quickRetries ?? 0) + 1 }, { connectRetry: now + jitter(delay, r) }), state: 'Active' };
}

/** Wait in Active for the next ConnectRetry deadline (none when passive): a failed attempt's backoff. */
function retryLater(s: SessionState, now: number): SessionState {
  if (s.passive) return { ...withTimers(s, {}), state: 'Active' };
  const [r, s2] = draw(s);
  return { ...withTimers(s2, { connectRetry: now + jitter(connectRetryBase(s.config, s2.connectRetryCounter), r) }), state: 'Active' };
}

/** TCP is up: send our OPEN and wait for the peer's under the large OpenSent hold timer. */
function toOpenSent(s: SessionState, now: number): StepResult {
  const open = buildOpen(s.config, { restarting: s.restarting === true });
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
  /** 'failure': automatic restart per `cls`; 'manual': ManualStop; 'dump': collision loser. */
  kind: 'failure' | 'manual' | 'dump';
  /** For 'failure': how the end counts (notify.ts DownClass); default 'error'. */
  cls?: DownClass;
  /** For a failure: restart after this many ms instead of the damping delay; null: no automatic restart. */
  restartMs?: number | null;
}

/**
 * End the connection. ManualStop and a dumped collision loser stay Idle. A
 * failure restarts by its class: a protocol error waits in Idle for the
 * damped IdleHold deadline; anything else restarts at once after an
 * Established session, or waits in Active for the ConnectRetry backoff when
 * the connection had not got that far (decision 0025).
 */
function down(s: SessionState, now: number, o: DownOptions): StepResult {
  const actions: FsmAction[] = [];
  if (o.send) actions.push({ type: 'send', message: o.send });
  actions.push({ type: 'close' });
  const wasEstablished = s.state === 'Established';
  const note = o.send ?? o.received;
  actions.push({ type: 'session-down', reason: o.reason, wasEstablished, ...(note ? { notification: note } : {}) });

  const failure = o.kind === 'failure';
  const cls: DownClass = o.cls ?? 'error';
  // The peer took our connection and refused it — an FSM Error, or closed
  // without a NOTIFICATION — before Established: a peer that is not ready
  // yet (see the header), retried soon and not counted.
  const refused = o.received?.code === ErrCode.Fsm || (o.received === undefined && o.send === undefined && o.reason.kind === 'tcp-failed');
  const quick =
    failure && !wasEstablished && cls === 'transport' && refused && (s.state === 'OpenSent' || s.state === 'OpenConfirm') && (s.quickRetries ?? 0) < QUICK_RETRIES;
  const uptime = s.establishedAt !== undefined ? now - s.establishedAt : undefined;
  // Uptime forgives earlier errors whatever ended this session; only an error adds one.
  const flaps = failure ? flapsAfterDown(s.config, s.flaps, uptime, cls === 'error') : s.flaps;
  // A limit's "disable" action (restartMs null) stops automatic restarts as ManualStop does.
  const autoStart = o.kind === 'manual' || o.restartMs === null ? false : s.autoStart;
  const idle: SessionState = {
    config: s.config,
    state: 'Idle',
    timers: {},
    // RFC 4271 §8.2.2: errors increment the ConnectRetryCounter; ManualStop
    // zeroes it. A session that was Established had it reset then, so its
    // loss dials with the initial delay.
    connectRetryCounter: o.kind === 'manual' ? 0 : failure && !wasEstablished && !quick ? s.connectRetryCounter + 1 : s.connectRetryCounter,
    ...(s.quickRetries !== undefined && o.kind !== 'manual' ? { quickRetries: s.quickRetries } : {}),
    autoStart,
    passive: s.passive,
    flaps,
    eor: { received: {} },
    lastDown: { ...o.reason, at: now },
    rng: s.rng,
    ...(s.restarting ? { restarting: true } : {}),
  };
  if (!failure || !autoStart) return { session: idle, actions };
  // A limit's "restart after" delay (import caps, max_prefixes) replaces the damping delay.
  if (typeof o.restartMs === 'number') return { session: withTimers(idle, { idleHold: now + o.restartMs }), actions };
  if (cls === 'error') return { session: withTimers(idle, { idleHold: now + idleHoldDelay(s.config, flaps) }), actions };
  if (quick) return { session: retrySoon(idle, now), actions };
  if (!wasEstablished) return { session: retryLater(idle, now), actions };
  const r = start(idle, now);
  return { session: r.session, actions: [...actions, ...r.actions] };
}

/** Send a NOTIFICATION we decided on (as a Hard Reset where RFC 8538 wants one), then drop the connection as a failure. */
function fail(s: SessionState, now: number, n: NotificationMessage, detail?: string, restartMs?: number | null): StepResult {
  const out = withHardReset(n, s.negotiated?.gracefulNotification ?? false);
  return down(s, now, {
    reason: reasonFromNotification(out, 'sent', detail),
    send: out,
    kind: 'failure',
    cls: notificationClass(out, 'sent'),
    ...(restartMs !== undefined ? { restartMs } : {}),
  });
}

function fromError(s: SessionState, now: number, err: BgpError): StepResult {
  return fail(s, now, notificationFromError(err), err.message);
}

/** RFC 6608 §4: an FSM Error naming the state and the unexpected message type. */
function unexpected(s: SessionState, now: number, msgType: number, what: string): StepResult {
  return fail(s, now, fsmErrorNotification(fsmSubcodeFor(s.state), msgType), `unexpected ${what} in ${s.state}`);
}

/** ManualStop / AutomaticStop with an open connection: Cease (or a graceful goodbye), close, Idle. */
function stop(s: SessionState, now: number, e: Extract<FsmEvent, { type: 'ManualStop' | 'AutomaticStop' }>): StepResult {
  const manual = e.type === 'ManualStop';
  const subcode = e.subcode ?? (manual ? CeaseSub.AdministrativeShutdown : CeaseSub.AdministrativeReset);
  const n = ceaseNotification(subcode, e.text);
  const neg = s.negotiated;
  if (e.type === 'ManualStop' && e.graceful && s.state === 'Established' && neg?.gracefulRestart) {
    if (neg.gracefulNotification) {
      // RFC 8538 §4: with the N bit exchanged, the Graceful Restart procedures
      // apply to a NOTIFICATION other than Hard Reset: the peer keeps our
      // routes as stale. So the Cease goes out as it is, never wrapped.
      const reason: DownReason = { ...reasonFromNotification(n, 'sent', 'graceful restart'), kind: 'stopped' };
      return down(s, now, { reason, send: n, kind: 'manual' });
    }
    // RFC 4724 §4.2: "When the Receiving Speaker detects termination of the
    // TCP session for a BGP session with a peer that has advertised the
    // Graceful Restart Capability, it MUST retain the routes received from the
    // peer" — but a NOTIFICATION would end that session the ordinary way, so
    // the connection is closed without one.
    const reason: DownReason = { kind: 'stopped', message: 'graceful restart: closed without a NOTIFICATION so the peer keeps our routes (RFC 4724 §4.2)' };
    return down(s, now, { reason, kind: 'manual' });
  }
  const out = withHardReset(n, neg?.gracefulNotification ?? false);
  const reason: DownReason = { ...reasonFromNotification(out, 'sent'), kind: 'stopped' };
  // AutomaticStop holds the peer down for the IdleHold time (RFC 4271 §8.1.2
  // names damping as one of its uses) — unless its Cease says the path failed
  // (BFD Down, RFC 9384), which restarts at once like any transport failure.
  const cls: DownClass = notificationClass(out, 'sent') === 'transport' ? 'transport' : 'error';
  return down(s, now, { reason, send: out, kind: manual ? 'manual' : 'failure', cls });
}

/** Peer closed the connection or sent a NOTIFICATION. */
function peerGone(s: SessionState, now: number, received?: NotificationMessage): StepResult {
  const reason: DownReason = received
    ? reasonFromNotification(received, 'received')
    : { kind: 'tcp-failed', message: `TCP connection failed in ${s.state}` };
  return down(s, now, { reason, ...(received ? { received } : {}), kind: 'failure', cls: received ? notificationClass(received, 'received') : 'transport' });
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
    case 'TcpConnectionConfirmed':
      // Not held down (decision 0025): the peer's own connection is as good
      // as ours, so take it. Otherwise RFC 4271 §8.2.2 Idle: "refuses all
      // incoming BGP connections".
      if (!heldDown(s)) return toOpenSent(s, now);
      return { session: s, actions: [{ type: 'close' }] };
    case 'Tcp_CR_Acked':
      // An outgoing connection completing in Idle is stale (we went down meanwhile).
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
      return down(s, now, { reason: { kind: 'stopped', message: `automatic stop in ${s.state}` }, kind: 'failure', cls: 'error' });
    case 'ConnectRetryTimer_Expires': {
      if (s.passive) return none(s);
      // RFC 4271 §8.2.2: "drops the TCP connection, restarts the ConnectRetryTimer,
      // ... initiates a TCP connection to the other BGP peer" (Connect), or
      // "changes its state to Connect" (Active). In Connect our attempt went
      // unanswered until now, which counts as a failure; in Active the failure
      // that brought us here was counted already.
      const s1 = s.state === 'Connect' ? { ...s, connectRetryCounter: s.connectRetryCounter + 1 } : s;
      const [r, s2] = draw(s1);
      const deadline = now + jitter(connectRetryBase(s.config, s2.connectRetryCounter), r);
      const actions: FsmAction[] = s.state === 'Connect' ? [{ type: 'close' }, { type: 'connect' }] : [{ type: 'connect' }];
      return { session: { ...withTimers(s2, { connectRetry: deadline }), state: 'Connect' }, actions };
    }
    case 'Tcp_CR_Acked':
    case 'TcpConnectionConfirmed':
      return toOpenSent(s, now);
    case 'TcpConnectionFails': {
      // Deviation (see header): wait in Active for the ConnectRetry deadline.
      if (s.state === 'Active') return none(s);
      if (!e.local) return none({ ...s, state: 'Active', connectRetryCounter: s.connectRetryCounter + 1 });
      // Nothing left this host (our link or address is gone): the peer saw no
      // attempt, so the backoff starts over and the next try comes after the
      // initial delay, not later than the deadline already running.
      const [r, s2] = draw({ ...s, connectRetryCounter: 0 });
      const soon = now + jitter(connectRetryBase(s.config, 0), r);
      const running = s.timers.connectRetry;
      return none({ ...withTimers(s2, { connectRetry: running !== undefined && running < soon ? running : soon }), state: 'Active' });
    }
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
    case 'TcpConnectionFails':
      // RFC 4271 §8.2.2 OpenSent: "closes the BGP connection, restarts the
      // ConnectRetryTimer, continues to listen for a connection that may be
      // initiated by the remote BGP peer, and changes its state to Active."
      return peerGone(s, now);
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
      // Our OPEN with the Restart State bit has been answered: later OPENs go without it.
      const { restarting: _r, quickRetries: _q, ...rest } = s;
      let next: SessionState = { ...rest, state: 'Established', establishedAt: now, connectRetryCounter: 0 };
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
      const eor = e.message.errors?.length ? null : isEndOfRib(e.message);
      if (eor === null) {
        const ignored = chk.ignored.length > 0 ? { ignored: chk.ignored } : {};
        return { session: next, actions: [{ type: 'update-received', message: chk.message, ...ignored }] };
      }
      const fam = familyKey(eor.afi, eor.safi);
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
