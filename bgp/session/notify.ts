/**
 * NOTIFICATION messages the session sends, and reasons it goes down.
 *
 * Owns the mapping from a detected condition to the NOTIFICATION identity the
 * RFCs give it (RFC 4271 §6, RFC 4486 §4, RFC 6608 §4, RFC 9003 §2, RFC 9687
 * §3), when a Cease must travel as an RFC 8538 Hard Reset, the `DownReason`
 * the FSM reports in a `session-down` action, and the class of a session end
 * that decides how the session restarts (`downClass`, decision 0025). The
 * wire codec (bgp/wire/messages/notification.ts) encodes the objects built
 * here and owns the RFC 9003 shutdown communication and Hard Reset layouts.
 *
 * Data of Cease/MaximumPrefixesReached (RFC 4486 §4):
 *
 *   +-----------+----------+-------------------+
 *   | AFI (2)   | SAFI (1) | Prefix limit (4)  |
 *   +-----------+----------+-------------------+
 */
import { BgpError, errorName } from '../wire/errors.js';
import { CeaseSub, ErrCode, FsmSub } from '../wire/iana.js';
import { carriesShutdownText, makeHardReset, makeShutdownNotification } from '../wire/messages/notification.js';
import type { NotificationMessage } from '../wire/types.js';
import { Writer } from '../wire/writer.js';

/** Build a NOTIFICATION message object. */
export function notification(code: number, subcode: number, data: Uint8Array = new Uint8Array(0)): NotificationMessage {
  return { type: 'notification', code, subcode, data };
}

/** Build the NOTIFICATION that reports a decode or session error. */
export function notificationFromError(err: BgpError): NotificationMessage {
  return notification(err.code, err.subcode, err.data);
}

/**
 * Build a Cease NOTIFICATION; for Administrative Shutdown and Reset with text,
 * carry it as an RFC 9003 shutdown communication (truncated to 255 octets on
 * a UTF-8 boundary by the wire codec's `makeShutdownNotification`).
 */
export function ceaseNotification(subcode: number, text?: string): NotificationMessage {
  // RFC 9003 §2: the communication applies to subcodes 2 (Shutdown) and 4 (Reset).
  if (text === undefined || text === '' || !carriesShutdownText(ErrCode.Cease, subcode)) return notification(ErrCode.Cease, subcode);
  return makeShutdownNotification(subcode as typeof CeaseSub.AdministrativeShutdown, text);
}

/**
 * Build Cease/MaximumPrefixesReached. RFC 4486 §4: "the Data field ... MAY
 * contain ... AFI (2 octets), SAFI (1 octet), and the upper bound (4 octets)".
 */
export function maxPrefixNotification(afi: number, safi: number, limit: number): NotificationMessage {
  const w = new Writer(7);
  w.u16(afi).u8(safi).u32(limit);
  return notification(ErrCode.Cease, CeaseSub.MaximumPrefixesReached, w.finish());
}

/**
 * Build the RFC 6608 FSM Error for a message received in the wrong state.
 * RFC 6608 §4: the Data field is one octet holding the type of the unexpected
 * message (omitted when the event was not a message).
 */
export function fsmErrorNotification(subcode: number, messageType?: number): NotificationMessage {
  if (messageType === undefined) return notification(ErrCode.Fsm, subcode);
  return notification(ErrCode.Fsm, subcode, new Writer(1).u8(messageType).finish());
}

/** Name the RFC 6608 subcode for a state, or Unspecified. */
export function fsmSubcodeFor(state: string): number {
  switch (state) {
    case 'OpenSent':
      return FsmSub.UnexpectedInOpenSent;
    case 'OpenConfirm':
      return FsmSub.UnexpectedInOpenConfirm;
    case 'Established':
      return FsmSub.UnexpectedInEstablished;
    default:
      return FsmSub.Unspecified;
  }
}

/**
 * Wrap a Cease in a Hard Reset when RFC 8538 says it must flush the peer's
 * copy of our routes. RFC 8538 §4: with the "N" bit exchanged, a NOTIFICATION
 * other than Hard Reset ends the session gracefully (the peer keeps our routes
 * as stale); §5.1 suggests Hard Reset for Maximum Number of Prefixes Reached,
 * Administrative Shutdown and Peer De-configured, and leaves Administrative
 * Reset to the implementation — herald sends that one only for a planned
 * restart (and AutomaticStop), where keeping the routes is the point.
 * Without the N bit every NOTIFICATION already flushes (RFC 4724), so it goes
 * out unchanged.
 */
export function withHardReset(n: NotificationMessage, gracefulNotification: boolean): NotificationMessage {
  if (!gracefulNotification || n.code !== ErrCode.Cease) return n;
  switch (n.subcode) {
    case CeaseSub.MaximumPrefixesReached:
    case CeaseSub.AdministrativeShutdown:
    case CeaseSub.PeerDeconfigured:
      return makeHardReset(n);
    default:
      return n;
  }
}

/** The NOTIFICATION a Hard Reset carries (RFC 8538 §3), or the message itself. */
export function innerNotification(n: NotificationMessage): { code: number; subcode: number } {
  return n.code === ErrCode.Cease && n.subcode === CeaseSub.HardReset && n.hardReset ? n.hardReset : n;
}

/**
 * How a session end counts when the session restarts (RFC 4271 §8.1.1
 * DampPeerOscillations; decision 0025):
 *
 * - `error`: a protocol error either side detected, or a refusal (Maximum
 *   Prefixes, Connection Rejected, Out of Resources). It would happen again
 *   on the next session, so it is damped: Idle for the IdleHold time, which
 *   doubles with each unforgiven error, and connections are refused meanwhile.
 * - `transport`: the path or the timing failed — TCP reset or closed without
 *   a word, either side's hold timer or send hold timer, BFD Down (RFC 9384),
 *   or an RFC 6608 FSM Error from the peer (our message crossed its restart:
 *   an FRR still loading its config answers our OPEN with FSM Error /
 *   Unspecified). A link blip or a race, not a misbehaving peer: restart at
 *   once. An FSM Error herald sends (the peer spoke out of turn) stays an
 *   error.
 * - `clean`: the peer ended the session on purpose — an administrative Cease
 *   (shutdown, de-configured, reset, configuration change, `clear bgp`, an
 *   FRR restart), a Hard Reset, or a collision it resolved. Restart at once.
 */
export type DownClass = 'error' | 'transport' | 'clean';

/** Classify a NOTIFICATION sent or received (a Hard Reset by the message it carries). */
export function notificationClass(n: NotificationMessage, direction: 'sent' | 'received'): DownClass {
  const { code, subcode } = innerNotification(n);
  switch (code) {
    case ErrCode.HoldTimerExpired:
    case ErrCode.SendHoldTimerExpired:
      return 'transport';
    case ErrCode.Fsm:
      return direction === 'received' ? 'transport' : 'error';
    case ErrCode.Cease:
      switch (subcode) {
        case CeaseSub.MaximumPrefixesReached:
        case CeaseSub.ConnectionRejected:
        case CeaseSub.OutOfResources:
          return 'error';
        case CeaseSub.BfdDown:
          return 'transport';
        default:
          // 2, 3, 4, 6, 7, 9 (a Hard Reset naming no inner message) and
          // subcodes registered later: the peer's deliberate choice.
          return 'clean';
      }
    default:
      return 'error';
  }
}

/** Why a connection ended, for logs, metrics and the control API. */
export interface DownReason {
  /**
   * - stopped: ManualStop / AutomaticStop from the operator or the system
   * - sent-notification: herald detected an error and told the peer
   * - received-notification: the peer sent a NOTIFICATION
   * - tcp-failed: the transport closed without a NOTIFICATION
   * - collision: this connection lost RFC 4271 §6.8 collision resolution
   * - fsm: an event that cannot happen in this state (no NOTIFICATION possible)
   */
  kind: 'stopped' | 'sent-notification' | 'received-notification' | 'tcp-failed' | 'collision' | 'fsm';
  /** One line for humans, e.g. "received Cease/AdministrativeShutdown: maintenance". */
  message: string;
  code?: number;
  subcode?: number;
  /** RFC 9003 shutdown communication, when one was carried. */
  shutdownText?: string;
}

/** Describe a NOTIFICATION as a down reason, sent or received (a Hard Reset names what it carries). */
export function reasonFromNotification(n: NotificationMessage, direction: 'sent' | 'received', detail?: string): DownReason {
  const inner = n.code === ErrCode.Cease && n.subcode === CeaseSub.HardReset ? n.hardReset : undefined;
  const name = errorName(n.code, n.subcode) + (inner ? ` (${errorName(inner.code, inner.subcode)})` : '');
  const text = n.shutdownText;
  const tail = text !== undefined ? `: ${JSON.stringify(text)}` : detail ? `: ${detail}` : '';
  const r: DownReason = {
    kind: direction === 'sent' ? 'sent-notification' : 'received-notification',
    message: `${direction} ${name}${tail}`,
    code: n.code,
    subcode: n.subcode,
  };
  if (text !== undefined) r.shutdownText = text;
  return r;
}
