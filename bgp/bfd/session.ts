/**
 * One BFD session's state machine as a pure function (RFC 5880 §6.8;
 * RFC 5882 §3.2 for what a state change means to clients).
 *
 *   step(session, event, now) -> { session, actions }
 *
 * Shaped like the BGP FSM (bgp/session/fsm.ts, decision 0001): `session` is
 * an immutable value, `now` (ms on the driver's monotonic clock) comes in as
 * an argument, the jitter PRNG state lives in the session, the two timers
 * are deadlines (`timers.tx`, `timers.detect`) that the driver arms through
 * one Clock timer, and a timer event whose deadline is unset or still in the
 * future is stale and ignored. Intervals are kept in microseconds, the unit
 * of the wire; deadlines in milliseconds.
 *
 * What it implements (asynchronous mode only)
 * --------------------------------------------
 * - §6.8.6 reception after the syntax checks (wire.ts) and demultiplexing
 *   (driver.ts): the remote variables, Poll Sequence termination on F, the
 *   transmit interval and Detection Time updates, the AdminDown discard,
 *   the state table (Down -> Init -> Up, Up -> Down on a remote Down or
 *   AdminDown with diag 3), the remote Demand bit, and a Final reply to a
 *   Poll "as soon as practicable".
 * - §6.8.4 Detection Time = remote Detect Mult x max(bfd.RequiredMinRxInterval,
 *   last received Desired Min TX); expiry in Init or Up -> Down with diag 1;
 *   in every state expiry zeroes bfd.RemoteDiscr (§6.8.1).
 * - §6.8.2 / §6.8.7 transmit interval = max(bfd.DesiredMinTxInterval,
 *   bfd.RemoteMinRxInterval), jittered to 75-100 % (75-90 % when
 *   bfd.DetectMult is 1); no periodic packets while bfd.RemoteMinRxInterval
 *   is 0, while Demand mode is active on the remote, or at all while Passive
 *   and bfd.RemoteDiscr is 0 (§6.1 Active / Passive roles).
 * - §6.8.3 DesiredMinTx of at least 1 s while not Up, the configured value
 *   once Up; a parameter change while Up starts a Poll Sequence (P on the
 *   periodic packets, §6.5); a larger DesiredMinTx is used for sending only
 *   after the Poll Sequence ends, a smaller RequiredMinRx is used for the
 *   Detection Time only after it ends; the other directions apply at once.
 *   A reduced remote RequiredMinRx is honoured at once: the next packet is
 *   due no later than the last one plus the new interval (§6.8.3).
 * - §6.8.16 AdminDown with diag 7 (or 5, Path Down, when the caller says
 *   so); packets keep going at the slow rate so the remote learns it.
 *
 * Choices the RFC leaves open, each deliberate
 * -------------------------------------------
 * - A packet goes out at once on every state change (as FRR's bfdd and
 *   BIRD do), so the three-way handshake takes one round trip instead of
 *   three slow intervals. The periodic schedule restarts from it.
 * - Parameter changes while not Up apply at once without a Poll Sequence:
 *   nothing on the remote depends on them yet, and the switch to the
 *   configured rate at Up starts one anyway. Going Down abandons a Poll
 *   Sequence in progress (FRR's bfdd does the same).
 * - A change during a Poll Sequence does not restart it: the F that ends it
 *   confirms the values the sequence started with (`poll`), and a new
 *   sequence for the newer values starts at once (`repoll`). A confirmed
 *   DesiredMinTx is put in force only up to the value advertised now, a
 *   confirmed RequiredMinRx only down to it, so a later change in the other
 *   direction is never undone.
 * - bfd.LocalDiag is set when the session goes Down or AdminDown and cleared
 *   when it comes Up, so a session in Init still tells the remote why it
 *   went down.
 * - herald's BFD shares fate with its control plane: the C bit is 0 and
 *   Demand mode is never requested (the D bit is 0). Echo is not supported:
 *   Required Min Echo RX Interval is 0.
 *
 * RFC 5882 §3.2: "If the BFD session transitions from Up to Down because the
 * remote system signaled AdminDown, the client ... MUST NOT ... take ...
 * action." The `state` action says so in `pathDown`: true only for an Up ->
 * Down that means the forwarding path failed (Detection Time expired, or the
 * remote said Down), false for a remote AdminDown and for our own AdminDown.
 */
import { nextRandom } from '../session/timers.js';
import { BFD_SLOW_TX_US, BfdDiag, BfdState } from './iana.js';
import type { BfdControlPacket } from './wire.js';

/** The configurable part of a session (RFC 5880 §6.8.1), intervals in microseconds. */
export interface BfdSessionConfig {
  /** bfd.DesiredMinTxInterval once Up. */
  readonly desiredMinTxUs: number;
  /** bfd.RequiredMinRxInterval (0: we do not want periodic packets; RFC 5880 §6.8.1). */
  readonly requiredMinRxUs: number;
  /** bfd.DetectMult, 1..255. */
  readonly detectMult: number;
  /** RFC 5880 §6.1: wait for the remote's first packet before sending. */
  readonly passive: boolean;
}

/** The values a Poll Sequence in progress confirms when its F arrives. */
export interface PollValues {
  readonly desiredMinTxUs: number;
  readonly requiredMinRxUs: number;
}

/** Deadlines in ms on the driver's clock; absent when the timer does not run. */
export interface BfdTimers {
  /** Next periodic Control packet. */
  readonly tx?: number;
  /** Detection Time expiry (RFC 5880 §6.8.4). */
  readonly detect?: number;
}

/** One session's state: RFC 5880 §6.8.1 variables plus herald's bookkeeping. */
export interface BfdSession {
  readonly config: BfdSessionConfig;
  /** bfd.SessionState */
  readonly state: BfdState;
  /** bfd.RemoteSessionState */
  readonly remoteState: BfdState;
  /** bfd.LocalDiscr (non-zero, unique on this system: the driver picks it). */
  readonly localDiscr: number;
  /** bfd.RemoteDiscr, 0 while unknown. */
  readonly remoteDiscr: number;
  /** bfd.LocalDiag */
  readonly localDiag: number;
  /** The Diag of the last packet received. */
  readonly remoteDiag: number;
  /** bfd.RemoteMinRxInterval (initialised to 1, §6.8.1). */
  readonly remoteMinRxUs: number;
  /** The last received Desired Min TX Interval (0 before any packet). */
  readonly remoteMinTxUs: number;
  /** The last received Detect Mult (0 before any packet or after expiry). */
  readonly remoteDetectMult: number;
  /** bfd.RemoteDemandMode */
  readonly remoteDemand: boolean;
  /** bfd.DesiredMinTxInterval: what our packets advertise. */
  readonly desiredMinTxUs: number;
  /** bfd.RequiredMinRxInterval: what our packets advertise. */
  readonly requiredMinRxUs: number;
  /** The DesiredMinTx the transmit interval uses (lags an increase until its Poll Sequence ends). */
  readonly txBaseUs: number;
  /** The RequiredMinRx the Detection Time uses (lags a decrease until its Poll Sequence ends). */
  readonly rxBaseUs: number;
  /** The Poll Sequence in progress, or null. */
  readonly poll: PollValues | null;
  /** Start another Poll Sequence when this one ends (values changed meanwhile). */
  readonly repoll: boolean;
  readonly timers: BfdTimers;
  /** When the last periodic (or state-change) packet went out; ms. */
  readonly lastTxAt: number | undefined;
  /** When the last packet was received (and not discarded); ms. */
  readonly lastRxAt: number | undefined;
  /** mulberry32 state for the transmit jitter. */
  readonly rng: number;
}

/** Parameter changes a caller may make at any time (RFC 5880 §6.8.3, §6.8.10). */
export type BfdParams = Partial<BfdSessionConfig>;

/** Inputs to `step`. */
export type BfdEvent =
  /** A packet that passed wire.ts and was demultiplexed to this session (§6.8.6). */
  | { type: 'Packet'; packet: BfdControlPacket }
  /** `timers.tx` is due. */
  | { type: 'TxTimer' }
  /** `timers.detect` is due. */
  | { type: 'DetectTimer' }
  /** §6.8.16 disable: AdminDown with `diag` (default 7, Administratively Down). */
  | { type: 'AdminDown'; diag?: BfdDiag }
  /** §6.8.16 enable: back to Down. */
  | { type: 'AdminUp' }
  /** New configured parameters (a Poll Sequence when Up and the intervals change). */
  | { type: 'SetParams'; params: BfdParams };

/** Outputs of `step`, applied by the driver in order. */
export type BfdAction =
  | { type: 'send'; packet: BfdControlPacket }
  | {
      type: 'state';
      from: BfdState;
      to: BfdState;
      /** bfd.LocalDiag after the change. */
      diag: number;
      /** What the remote last said (AdminDown here means RFC 5882 §3.2 applies). */
      remoteState: BfdState;
      /** RFC 5882 §3.2: true only when an Up session went Down because the path failed. */
      pathDown: boolean;
    }
  /** A Poll Sequence ended (F received); these values are now in force. */
  | { type: 'poll-done'; desiredMinTxUs: number; requiredMinRxUs: number };

export interface BfdStepResult {
  session: BfdSession;
  actions: BfdAction[];
}

/** Check a configuration, throwing RangeError with the field name. */
export function checkConfig(c: BfdSessionConfig): void {
  const u32 = (v: number, what: string, min: number): void => {
    if (!Number.isInteger(v) || v < min || v > 0xffffffff) throw new RangeError(`BFD ${what} must be an integer ${min}..4294967295 µs, got ${v}`);
  };
  u32(c.desiredMinTxUs, 'desired min TX interval', 1);
  u32(c.requiredMinRxUs, 'required min RX interval', 0);
  if (!Number.isInteger(c.detectMult) || c.detectMult < 1 || c.detectMult > 255) {
    throw new RangeError(`BFD detect multiplier must be an integer 1..255, got ${c.detectMult}`);
  }
}

/**
 * Create a session in Down state (§6.8.1 initial values). An Active session
 * sends its first packet at once (`timers.tx = now`); a Passive one waits
 * for the remote's first packet (§6.1). `seed` fixes the jitter sequence.
 */
export function createBfdSession(config: BfdSessionConfig, localDiscr: number, now: number, seed = 1): BfdSession {
  checkConfig(config);
  if (!Number.isInteger(localDiscr) || localDiscr < 1 || localDiscr > 0xffffffff) {
    throw new RangeError(`BFD local discriminator must be non-zero 32-bit, got ${localDiscr}`);
  }
  const desired = slowed(config.desiredMinTxUs, BfdState.Down);
  return {
    config,
    state: BfdState.Down,
    remoteState: BfdState.Down,
    localDiscr,
    remoteDiscr: 0,
    localDiag: BfdDiag.NoDiagnostic,
    remoteDiag: BfdDiag.NoDiagnostic,
    remoteMinRxUs: 1,
    remoteMinTxUs: 0,
    remoteDetectMult: 0,
    remoteDemand: false,
    desiredMinTxUs: desired,
    requiredMinRxUs: config.requiredMinRxUs,
    txBaseUs: desired,
    rxBaseUs: config.requiredMinRxUs,
    poll: null,
    repoll: false,
    timers: config.passive ? {} : { tx: now },
    lastTxAt: undefined,
    lastRxAt: undefined,
    rng: seed >>> 0,
  };
}

/** §6.8.3: at least one second while not Up. */
function slowed(desiredUs: number, state: BfdState): number {
  return state === BfdState.Up ? desiredUs : Math.max(desiredUs, BFD_SLOW_TX_US);
}

/** The interval between periodic packets before jitter, µs (§6.8.2, §6.8.7). */
export function txIntervalUs(s: BfdSession): number {
  return Math.max(s.txBaseUs, s.remoteMinRxUs);
}

/** The remote's agreed transmit interval as our Detection Time sees it, µs (§6.8.4). */
export function rxIntervalUs(s: BfdSession): number {
  return Math.max(s.rxBaseUs, s.remoteMinTxUs);
}

/** The Detection Time, µs; 0 while no remote Detect Mult is known (§6.8.4). */
export function detectionTimeUs(s: BfdSession): number {
  return s.remoteDetectMult * rxIntervalUs(s);
}

/** Whether periodic packets may go out now (§6.8.7). */
export function mayTransmit(s: BfdSession): boolean {
  // "A system MUST NOT transmit BFD Control packets if bfd.RemoteDiscr is
  // zero and the system is taking the Passive role."
  if (s.config.passive && s.remoteDiscr === 0) return false;
  // "A system MUST NOT periodically transmit BFD Control packets if
  // bfd.RemoteMinRxInterval is zero."
  if (s.remoteMinRxUs === 0) return false;
  // "... if Demand mode is active on the remote system (bfd.RemoteDemandMode
  // is 1, bfd.SessionState is Up, and bfd.RemoteSessionState is Up) and a
  // Poll Sequence is not being transmitted."
  if (s.remoteDemand && s.state === BfdState.Up && s.remoteState === BfdState.Up && s.poll === null) return false;
  return true;
}

/** The earliest running deadline, or undefined. */
export function nextDeadline(s: BfdSession): number | undefined {
  const { tx, detect } = s.timers;
  if (tx === undefined) return detect;
  if (detect === undefined) return tx;
  return Math.min(tx, detect);
}

/** The timer events due at `now`, detection first (it changes what the next packet says). */
export function expiredTimers(s: BfdSession, now: number): BfdEvent[] {
  const out: BfdEvent[] = [];
  if (s.timers.detect !== undefined && s.timers.detect <= now) out.push({ type: 'DetectTimer' });
  if (s.timers.tx !== undefined && s.timers.tx <= now) out.push({ type: 'TxTimer' });
  return out;
}

/** Advance the session by one event at time `now` (ms); pure. */
export function step(session: BfdSession, event: BfdEvent, now: number): BfdStepResult {
  switch (event.type) {
    case 'Packet':
      return receive(session, event.packet, now);
    case 'TxTimer': {
      const due = session.timers.tx;
      // Stale: stopped or moved after the driver armed its timer.
      if (due === undefined || due > now) return { session, actions: [] };
      return transmitPeriodic(session, now);
    }
    case 'DetectTimer': {
      const due = session.timers.detect;
      if (due === undefined || due > now) return { session, actions: [] };
      return detectionExpired(session, now);
    }
    case 'AdminDown':
      return adminDown(session, event.diag ?? BfdDiag.AdministrativelyDown, now);
    case 'AdminUp':
      return adminUp(session, now);
    case 'SetParams':
      return setParams(session, event.params, now);
  }
}

/** Apply several events in order at the same instant. */
export function stepAll(session: BfdSession, events: readonly BfdEvent[], now: number): BfdStepResult {
  let s = session;
  const actions: BfdAction[] = [];
  for (const e of events) {
    const r = step(s, e, now);
    s = r.session;
    actions.push(...r.actions);
  }
  return { session: s, actions };
}

// ---------------------------------------------------------------- packets

/** The packet this session sends now (§6.8.7 field by field). */
export function packetOf(s: BfdSession, kind: 'periodic' | 'final'): BfdControlPacket {
  return {
    diag: s.localDiag,
    state: s.state,
    // "Poll (P): Set to 1 if the local system is sending a Poll Sequence";
    // a Final reply "with the Poll (P) bit clear".
    poll: kind === 'periodic' && s.poll !== null,
    final: kind === 'final',
    // herald's BFD shares fate with its control plane (§4.1 C bit).
    cpi: false,
    // "A system MUST NOT set the Demand (D) bit unless bfd.DemandMode is 1":
    // herald never asks for Demand mode.
    demand: false,
    detectMult: s.config.detectMult,
    myDiscriminator: s.localDiscr,
    yourDiscriminator: s.remoteDiscr,
    desiredMinTxUs: s.desiredMinTxUs,
    requiredMinRxUs: s.requiredMinRxUs,
    // No Echo function: "If this field is set to zero, the local system is
    // unwilling or unable to loop back BFD Echo packets".
    requiredMinEchoRxUs: 0,
  };
}

/** Draw the next jittered interval in ms: 75-100 % of `intervalUs`, 75-90 % when bfd.DetectMult is 1 (§6.8.7). */
export function jitterMs(intervalUs: number, detectMult: number, random: number): number {
  // "the interval MUST be reduced by a random value of 0 to 25%"; "If
  // bfd.DetectMult is equal to 1, the interval ... MUST be no more than 90%
  // of the negotiated transmission interval, and MUST be no less than 75%".
  const span = detectMult === 1 ? 0.15 : 0.25;
  return (intervalUs / 1000) * (0.75 + span * random);
}

/** Send a periodic packet now and schedule the next one. */
function transmitPeriodic(s: BfdSession, now: number): BfdStepResult {
  if (!mayTransmit(s)) return { session: withTimers(s, { ...s.timers, tx: undefined }), actions: [] };
  const packet = packetOf(s, 'periodic');
  const [r, rng] = nextRandom(s.rng);
  const next = now + jitterMs(txIntervalUs(s), s.config.detectMult, r);
  return { session: { ...s, rng, lastTxAt: now, timers: { ...s.timers, tx: next } }, actions: [{ type: 'send', packet }] };
}

// ---------------------------------------------------------------- reception

function receive(s0: BfdSession, p: BfdControlPacket, now: number): BfdStepResult {
  const actions: BfdAction[] = [];
  // §6.8.6, after the syntax checks and the session lookup:
  // "Set bfd.RemoteDiscr to the value of My Discriminator. Set
  // bfd.RemoteState to the value of the State (Sta) field. Set
  // bfd.RemoteDemandMode to the value of the Demand (D) bit. Set
  // bfd.RemoteMinRxInterval to the value of Required Min RX Interval."
  let s: BfdSession = {
    ...s0,
    remoteDiscr: p.myDiscriminator,
    remoteState: p.state,
    remoteDemand: p.demand,
    remoteMinRxUs: p.requiredMinRxUs,
    remoteMinTxUs: p.desiredMinTxUs,
    remoteDetectMult: p.detectMult,
    remoteDiag: p.diag,
  };
  // "If a Poll Sequence is being transmitted by the local system and the
  // Final (F) bit in the received packet is set, the Poll Sequence MUST be
  // terminated."
  if (p.final && s.poll !== null) s = endPoll(s, actions);
  // "If bfd.SessionState is AdminDown: Discard the packet" - after the remote
  // variables above, and without counting as received for the Detection Time.
  if (s.state === BfdState.AdminDown) return { session: finish(s0, s, now), actions };
  s = { ...s, lastRxAt: now };
  let to: BfdState = s.state;
  let diag = s.localDiag;
  if (p.state === BfdState.AdminDown) {
    // "If received state is AdminDown: If bfd.SessionState is not Down, Set
    // bfd.LocalDiag to 3 (Neighbor signaled session down), Set
    // bfd.SessionState to Down"
    if (s.state !== BfdState.Down) {
      to = BfdState.Down;
      diag = BfdDiag.NeighborSignaledSessionDown;
    }
  } else if (s.state === BfdState.Down) {
    // "If received State is Down, Set bfd.SessionState to Init; Else if
    // received State is Init, Set bfd.SessionState to Up"
    if (p.state === BfdState.Down) to = BfdState.Init;
    else if (p.state === BfdState.Init) to = BfdState.Up;
  } else if (s.state === BfdState.Init) {
    // "If received State is Init or Up, Set bfd.SessionState to Up"
    if (p.state === BfdState.Init || p.state === BfdState.Up) to = BfdState.Up;
  } else if (p.state === BfdState.Down) {
    // Up: "If received State is Down, Set bfd.LocalDiag to 3 (Neighbor
    // signaled session down), Set bfd.SessionState to Down"
    to = BfdState.Down;
    diag = BfdDiag.NeighborSignaledSessionDown;
  }
  let changed = false;
  if (to !== s.state) {
    s = changeState(s, to, diag, actions);
    changed = true;
  }
  // "If the Poll (P) bit is set, send a BFD Control packet to the remote
  // system with the Poll (P) bit clear, and the Final (F) bit set" - "as
  // soon as practicable, without respect to the transmission timer or any
  // other transmission limitation" (§6.8.7). It also carries a state change.
  if (p.poll) {
    actions.push({ type: 'send', packet: packetOf(s, 'final') });
    if (changed) s = restartPeriodic(s, now);
  } else if (changed && mayTransmit(s)) {
    const r = transmitPeriodic(s, now);
    s = r.session;
    actions.push(...r.actions);
  }
  return { session: finish(s0, s, now), actions };
}

// ---------------------------------------------------------------- timers

function detectionExpired(s0: BfdSession, now: number): BfdStepResult {
  const actions: BfdAction[] = [];
  // §6.8.1 bfd.RemoteDiscr: "This variable MUST be set to zero if Detection
  // Time passes without the receipt of a valid, authenticated BFD packet from
  // the remote system." The other remote variables go back to their initial
  // values with it, so a vanished remote leaves no demand flag or interval.
  let s: BfdSession = {
    ...s0,
    remoteDiscr: 0,
    remoteState: BfdState.Down,
    remoteMinRxUs: 1,
    remoteMinTxUs: 0,
    remoteDetectMult: 0,
    remoteDemand: false,
    lastRxAt: undefined,
    timers: { ...s0.timers, detect: undefined },
  };
  // §6.8.4: "If Demand mode is not active, and a period of time equal to the
  // Detection Time passes without receiving a BFD Control packet from the
  // remote system, and bfd.SessionState is Init or Up, the session has gone
  // down -- the local system MUST set bfd.SessionState to Down and
  // bfd.LocalDiag to 1 (Control Detection Time Expired)."
  if (s.state === BfdState.Init || s.state === BfdState.Up) {
    s = changeState(s, BfdState.Down, BfdDiag.ControlDetectionTimeExpired, actions, s0.remoteState);
    if (mayTransmit(s)) {
      const r = transmitPeriodic(s, now);
      s = r.session;
      actions.push(...r.actions);
    }
  }
  return { session: finish(s0, s, now), actions };
}

// ---------------------------------------------------------------- administration

function adminDown(s0: BfdSession, diag: number, now: number): BfdStepResult {
  if (s0.state === BfdState.AdminDown) return { session: s0, actions: [] };
  const actions: BfdAction[] = [];
  // §6.8.16: "Set bfd.SessionState to AdminDown, Set bfd.LocalDiag to an
  // appropriate value, Cease the transmission of BFD Echo packets" (herald
  // sends none). "BFD Control packets SHOULD be transmitted for at least a
  // Detection Time after transitioning to AdminDown state ... MAY be
  // transmitted indefinitely": herald keeps sending at the slow rate.
  let s = changeState(s0, BfdState.AdminDown, diag, actions);
  if (mayTransmit(s)) {
    const r = transmitPeriodic(s, now);
    s = r.session;
    actions.push(...r.actions);
  }
  return { session: finish(s0, s, now), actions };
}

function adminUp(s0: BfdSession, now: number): BfdStepResult {
  if (s0.state !== BfdState.AdminDown) return { session: s0, actions: [] };
  const actions: BfdAction[] = [];
  // §6.8.16: "If enabling session, Set bfd.SessionState to Down". The
  // diagnostic stays until the session comes Up.
  let s = changeState(s0, BfdState.Down, s0.localDiag, actions);
  if (mayTransmit(s)) {
    const r = transmitPeriodic(s, now);
    s = r.session;
    actions.push(...r.actions);
  }
  return { session: finish(s0, s, now), actions };
}

function setParams(s0: BfdSession, params: BfdParams, now: number): BfdStepResult {
  const config: BfdSessionConfig = { ...s0.config, ...definedOnly(params) };
  checkConfig(config);
  const actions: BfdAction[] = [];
  const s = advertise({ ...s0, config }, config.desiredMinTxUs, config.requiredMinRxUs);
  return { session: finish(s0, s, now), actions };
}

function definedOnly(p: BfdParams): BfdParams {
  const out: { -readonly [K in keyof BfdSessionConfig]?: BfdSessionConfig[K] } = {};
  if (p.desiredMinTxUs !== undefined) out.desiredMinTxUs = p.desiredMinTxUs;
  if (p.requiredMinRxUs !== undefined) out.requiredMinRxUs = p.requiredMinRxUs;
  if (p.detectMult !== undefined) out.detectMult = p.detectMult;
  if (p.passive !== undefined) out.passive = p.passive;
  return out;
}

// ---------------------------------------------------------------- helpers

/**
 * Set the advertised intervals to `desiredUs` (slowed to 1 s while not Up)
 * and `requiredUs`, applying the §6.8.3 ordering rules and starting a Poll
 * Sequence when Up and either changed.
 */
function advertise(s: BfdSession, desiredUs: number, requiredUs: number): BfdSession {
  const desired = slowed(desiredUs, s.state);
  const txChanged = desired !== s.desiredMinTxUs;
  const rxChanged = requiredUs !== s.requiredMinRxUs;
  if (!txChanged && !rxChanged) return s;
  const up = s.state === BfdState.Up;
  // "If bfd.DesiredMinTxInterval is increased and bfd.SessionState is Up, the
  // actual transmission interval used MUST NOT change until the Poll Sequence
  // described above has terminated."
  const txBaseUs = up && desired > s.txBaseUs ? s.txBaseUs : desired;
  // "If bfd.RequiredMinRxInterval is reduced and bfd.SessionState is Up, the
  // previous value of bfd.RequiredMinRxInterval MUST be used when calculating
  // the Detection Time for the remote system until the Poll Sequence
  // described above has terminated."
  const rxBaseUs = up && requiredUs < s.rxBaseUs ? s.rxBaseUs : requiredUs;
  let next: BfdSession = { ...s, desiredMinTxUs: desired, requiredMinRxUs: requiredUs, txBaseUs, rxBaseUs };
  // "If either bfd.DesiredMinTxInterval is changed or
  // bfd.RequiredMinRxInterval is changed, a Poll Sequence MUST be initiated"
  // (only while Up: see the header).
  if (up) {
    next = next.poll === null
      ? { ...next, poll: { desiredMinTxUs: desired, requiredMinRxUs: requiredUs }, repoll: false }
      : { ...next, repoll: true };
  }
  return next;
}

/** End the Poll Sequence in progress: put its values in force and start the next one if values changed meanwhile. */
function endPoll(s: BfdSession, actions: BfdAction[]): BfdSession {
  const poll = s.poll!;
  const txBaseUs = Math.max(s.txBaseUs, Math.min(poll.desiredMinTxUs, s.desiredMinTxUs));
  const rxBaseUs = Math.min(s.rxBaseUs, Math.max(poll.requiredMinRxUs, s.requiredMinRxUs));
  actions.push({ type: 'poll-done', desiredMinTxUs: poll.desiredMinTxUs, requiredMinRxUs: poll.requiredMinRxUs });
  const again = s.repoll && s.state === BfdState.Up;
  return {
    ...s,
    txBaseUs,
    rxBaseUs,
    poll: again ? { desiredMinTxUs: s.desiredMinTxUs, requiredMinRxUs: s.requiredMinRxUs } : null,
    repoll: false,
  };
}

/**
 * Move to `to` with `diag`, report it, and apply what the new state implies
 * for the advertised intervals (§6.8.3: slow while not Up, configured once Up).
 */
function changeState(s: BfdSession, to: BfdState, diag: number, actions: BfdAction[], remoteStateBefore = s.remoteState): BfdSession {
  const from = s.state;
  const localDiag = to === BfdState.Up ? BfdDiag.NoDiagnostic : diag;
  actions.push({
    type: 'state',
    from,
    to,
    diag: localDiag,
    remoteState: remoteStateBefore,
    pathDown: from === BfdState.Up && to === BfdState.Down && remoteStateBefore !== BfdState.AdminDown,
  });
  let next: BfdSession = { ...s, state: to, localDiag };
  if (to !== BfdState.Up) {
    // Leaving Up (or never there): no Poll Sequence outlives it, and every
    // pending ordering rule is moot, so the slow values apply at once.
    const desired = slowed(s.config.desiredMinTxUs, to);
    next = {
      ...next,
      poll: null,
      repoll: false,
      desiredMinTxUs: desired,
      txBaseUs: desired,
      requiredMinRxUs: s.config.requiredMinRxUs,
      rxBaseUs: s.config.requiredMinRxUs,
    };
  } else {
    next = advertise(next, s.config.desiredMinTxUs, s.config.requiredMinRxUs);
  }
  return next;
}

/** Restart the periodic schedule from a packet sent now (a Final that also carried a state change). */
function restartPeriodic(s: BfdSession, now: number): BfdSession {
  if (!mayTransmit(s)) return withTimers(s, { ...s.timers, tx: undefined });
  const [r, rng] = nextRandom(s.rng);
  return { ...s, rng, lastTxAt: now, timers: { ...s.timers, tx: now + jitterMs(txIntervalUs(s), s.config.detectMult, r) } };
}

/**
 * Recompute both deadlines after a step: the Detection Time from the last
 * reception, and the transmit deadline under the §6.8.3 / §6.8.7 rules
 * (stopped when sending is not allowed, started at once when it becomes
 * allowed, pulled in when the interval shrank).
 */
function finish(prev: BfdSession, s: BfdSession, now: number): BfdSession {
  const det = detectionTimeUs(s);
  // A Detection Time shortened by a parameter change may already have passed: due now.
  const detect = s.lastRxAt !== undefined && det > 0 ? Math.max(now, s.lastRxAt + det / 1000) : undefined;
  let tx = s.timers.tx;
  let rng = s.rng;
  if (!mayTransmit(s)) tx = undefined;
  else if (tx === undefined) tx = now;
  else {
    const before = txIntervalUs(prev);
    const after = txIntervalUs(s);
    // "If the local system reduces its transmit interval due to
    // bfd.RemoteMinRxInterval being reduced ... the local system cannot wait
    // longer than the new interval between the previous packet transmission
    // and the next one. If this interval has already passed since the last
    // transmission ..., the local system MUST send the next periodic BFD
    // Control packet as soon as practicable." Applied to any shorter interval.
    if (after < before && s.lastTxAt !== undefined) {
      const [r, next] = nextRandom(rng);
      rng = next;
      tx = Math.min(tx, Math.max(now, s.lastTxAt + jitterMs(after, s.config.detectMult, r)));
    }
  }
  return withTimers({ ...s, rng }, { tx, detect });
}

function withTimers(s: BfdSession, t: { tx?: number | undefined; detect?: number | undefined }): BfdSession {
  const timers: { tx?: number; detect?: number } = {};
  if (t.tx !== undefined) timers.tx = t.tx;
  if (t.detect !== undefined) timers.detect = t.detect;
  return { ...s, timers };
}
