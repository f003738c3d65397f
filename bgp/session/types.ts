/**
 * The FSM's inputs, outputs and state (RFC 4271 §8), as discriminated unions.
 *
 * Events are named as in RFC 4271 §8.1 (plus SendHoldTimer_Expires from RFC
 * 9687 and RouteRefresh for RFC 2918 / RFC 7313 messages); herald's own
 * events (MessageSent, MaxPrefixExceeded, ReceiveLimitExceeded) follow them. The
 * step function in fsm.ts maps (state, event, now) to (state, actions).
 */
import type { BgpError } from '../wire/errors.js';
import type { FamilyKey } from '../wire/context.js';
import type {
  BgpMessage,
  NotificationMessage,
  OpenMessage,
  RouteRefreshMessage,
  UpdateMessage,
} from '../wire/types.js';
import type { SessionConfig } from './config.js';
import type { Negotiated } from './negotiate.js';
import type { DownReason } from './notify.js';

/** RFC 4271 §8.2.2 states. */
export const FsmState = {
  Idle: 'Idle',
  Connect: 'Connect',
  Active: 'Active',
  OpenSent: 'OpenSent',
  OpenConfirm: 'OpenConfirm',
  Established: 'Established',
} as const;
export type FsmState = (typeof FsmState)[keyof typeof FsmState];

/** Message kinds the driver reports as written, for the keepalive and send hold timers. */
export type SentKind = BgpMessage['type'];

/** Inputs to `step`. */
export type FsmEvent =
  // RFC 4271 §8.1.2 administrative events
  | { type: 'ManualStart' }
  | { type: 'ManualStart_with_PassiveTcpEstablishment' }
  | { type: 'AutomaticStart' }
  | { type: 'AutomaticStart_with_PassiveTcpEstablishment' }
  /**
   * Operator stop; Cease subcode defaults to AdministrativeShutdown, text is
   * the RFC 9003 communication. `graceful`: a planned restart — end an
   * Established session so that the peer keeps our routes (RFC 4724 §4.2,
   * RFC 8538 §4) when Graceful Restart was negotiated.
   */
  | { type: 'ManualStop'; subcode?: number; text?: string; graceful?: boolean }
  /** System stop that restarts after the idle hold time (e.g. AdministrativeReset after a config change). */
  | { type: 'AutomaticStop'; subcode?: number; text?: string }
  // RFC 4271 §8.1.3 timer events (RFC 9687 adds SendHoldTimer_Expires)
  | { type: 'ConnectRetryTimer_Expires' }
  | { type: 'HoldTimer_Expires' }
  | { type: 'KeepaliveTimer_Expires' }
  | { type: 'IdleHoldTimer_Expires' }
  | { type: 'SendHoldTimer_Expires' }
  // RFC 4271 §8.1.4 TCP connection events
  /** Event 16: our outgoing connection completed. */
  | { type: 'Tcp_CR_Acked' }
  /** Event 17: an incoming connection was accepted for this session. */
  | { type: 'TcpConnectionConfirmed' }
  /**
   * The connection failed or closed. `local`: our own attempt failed before a
   * packet left this host (no route, no source address), so the peer has not
   * seen it and the ConnectRetry backoff does not grow.
   */
  | { type: 'TcpConnectionFails'; local?: boolean }
  // RFC 4271 §8.1.5 message events
  | { type: 'BGPOpen'; message: OpenMessage }
  | { type: 'BGPHeaderErr'; error: BgpError }
  | { type: 'BGPOpenMsgErr'; error: BgpError }
  | { type: 'OpenCollisionDump' }
  | { type: 'NotifMsg'; message: NotificationMessage }
  | { type: 'KeepAliveMsg' }
  | { type: 'UpdateMsg'; message: UpdateMessage }
  | { type: 'UpdateMsgErr'; error: BgpError }
  /** A ROUTE-REFRESH message (RFC 2918, RFC 7313); not in RFC 4271's list. */
  | { type: 'RouteRefresh'; message: RouteRefreshMessage }
  // herald events
  /** The driver handed a message to the kernel (write callback): restarts keepalive and send hold timers. */
  | { type: 'MessageSent'; kind: SentKind }
  /** The RIB finished the initial advertisement: the FSM sends End-of-RIB per family. */
  /**
   * The RIB counted more prefixes than allowed for a family (RFC 4486 §4).
   * `restartMs`: restart automatically after this long (instead of the
   * IdleHold damping delay); `null`: stay down until a ManualStart.
   */
  | { type: 'MaxPrefixExceeded'; afi: number; safi: number; limit: number; restartMs?: number | null }
  /**
   * A received route or the Adj-RIB-In broke a memory cap (AS_PATH length,
   * attribute bytes, bytes held): Cease / Out of Resources (RFC 4486 §4).
   * `restartMs` as for MaxPrefixExceeded.
   */
  | { type: 'ReceiveLimitExceeded'; detail: string; restartMs?: number | null };

export type FsmEventType = FsmEvent['type'];

/** Outputs of `step`, applied by the driver in order. */
export type FsmAction =
  /** Open an outgoing TCP connection to the peer (abandoning any attempt in progress). */
  | { type: 'connect' }
  /** Encode and write a message. */
  | { type: 'send'; message: BgpMessage }
  /** Drop the TCP connection (after flushing queued sends, best effort), or abort a pending connect. */
  | { type: 'close' }
  /** The session reached Established; switch the codec to `negotiated.context` and start the RIB. */
  | { type: 'established'; negotiated: Negotiated }
  /** The connection ended; `wasEstablished` tells the RIB whether routes must be flushed. */
  | { type: 'session-down'; reason: DownReason; wasEstablished: boolean; notification?: NotificationMessage }
  /**
   * An UPDATE for the Adj-RIB-In (RFC 7606 errors inside it did not reset the
   * session); `ignored` lists families not negotiated whose MP attributes were
   * dropped from it (update-check.ts).
   */
  | { type: 'update-received'; message: UpdateMessage; ignored?: FamilyKey[] }
  /** The peer's End-of-RIB for a family (RFC 4724 §2). */
  | { type: 'end-of-rib-received'; family: FamilyKey }
  /** The peer asked us to re-advertise a family (subtype 0), or marks its own refresh (BoRR/EoRR, RFC 7313). */
  | { type: 'route-refresh-received'; afi: number; safi: number; subtype: number };

export type FsmActionType = FsmAction['type'];

/** Timer deadlines in absolute milliseconds of the driver's clock; absent = not running. */
export interface Timers {
  readonly connectRetry?: number;
  readonly hold?: number;
  readonly keepalive?: number;
  readonly idleHold?: number;
  readonly sendHold?: number;
}

/** RFC 4271 §8 session attributes plus herald's bookkeeping. Treat as immutable. */
export interface SessionState {
  readonly config: SessionConfig;
  readonly state: FsmState;
  readonly timers: Timers;
  /** RFC 4271 ConnectRetryCounter; drives the ConnectRetry backoff; reset by ManualStart/Stop and Established. */
  readonly connectRetryCounter: number;
  /**
   * Quick retries taken since the last Established: connections the peer
   * accepted and then refused with an FSM Error (it is still starting, or its
   * link just came back), retried after QUICK_RETRY_MS instead of the backoff.
   */
  readonly quickRetries?: number;
  /** True between a start event and ManualStop: failures restart automatically after IdleHold. */
  readonly autoStart: boolean;
  /** The current start mode: wait for the peer instead of connecting. */
  readonly passive: boolean;
  /** DampPeerOscillations: failures not yet forgiven by stable uptime. */
  readonly flaps: number;
  /** When the session last reached Established (ms), while it is up. */
  readonly establishedAt?: number;
  /** The OPEN we sent on this connection. */
  readonly localOpen?: OpenMessage;
  /** The OPEN the peer sent on this connection. */
  readonly peerOpen?: OpenMessage;
  /** Set in OpenConfirm and Established. */
  readonly negotiated?: Negotiated;
  /** End-of-RIB bookkeeping for this connection. */
  readonly eor: {
    /** Per family, when the peer's End-of-RIB arrived (ms). */
    readonly received: Readonly<Partial<Record<FamilyKey, number>>>;
  };
  /** Why the last connection ended. */
  readonly lastDown?: DownReason & { at: number };
  /** PRNG state for jitter (32-bit), advanced by every draw so `step` stays deterministic. */
  readonly rng: number;
  /**
   * Set the RFC 4724 Restart State (R) bit in our OPEN: herald restarted and
   * this peer has not yet seen a session since. Cleared on Established.
   */
  readonly restarting?: boolean;
}
