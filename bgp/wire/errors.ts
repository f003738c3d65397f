/**
 * Typed BGP errors that keep their wire identity (STYLE.md §4).
 *
 * A decode or session error is a `BgpError { code, subcode, data, action }`.
 * The code/subcode/data become the NOTIFICATION verbatim; `action` is the
 * RFC 7606 §2 error-handling approach the receiver must take. Never wrap a
 * BgpError in a generic Error: the NOTIFICATION identity would be lost.
 */
import { ErrCode, nameOf, HeaderSub, OpenSub, UpdateSub, FsmSub, CeaseSub, RouteRefreshSub } from './iana.js';

/**
 * RFC 7606 §2 approaches, in increasing severity order is NOT implied:
 * - session-reset: send NOTIFICATION, drop the session (RFC 4271 behaviour).
 * - afi-safi-disable: stop the affected family (RFC 4760 §7); herald treats it
 *   as a session reset if no other family remains.
 * - treat-as-withdraw: all NLRI of the UPDATE are withdrawn (RFC 7606 §2).
 * - attribute-discard: the malformed attribute is dropped, the rest is used.
 */
export type ErrorAction = 'session-reset' | 'afi-safi-disable' | 'treat-as-withdraw' | 'attribute-discard';

const EMPTY = new Uint8Array(0);

export class BgpError extends Error {
  readonly code: number;
  readonly subcode: number;
  readonly data: Uint8Array;
  readonly action: ErrorAction;

  constructor(code: number, subcode: number, message: string, data: Uint8Array = EMPTY, action: ErrorAction = 'session-reset') {
    super(`${errorName(code, subcode)}: ${message}`);
    this.name = 'BgpError';
    this.code = code;
    this.subcode = subcode;
    this.data = data;
    this.action = action;
  }

  /** Return a copy of this error with another RFC 7606 action. */
  withAction(action: ErrorAction): BgpError {
    const e = new BgpError(this.code, this.subcode, this.message, this.data, action);
    e.message = this.message;
    return e;
  }
}

const SUBCODES: Record<number, Record<string, number>> = {
  [ErrCode.MessageHeader]: HeaderSub,
  [ErrCode.OpenMessage]: OpenSub,
  [ErrCode.UpdateMessage]: UpdateSub,
  [ErrCode.Fsm]: FsmSub,
  [ErrCode.Cease]: CeaseSub,
  [ErrCode.RouteRefresh]: RouteRefreshSub,
};

/** Name an error code/subcode pair for logs, e.g. "Cease/AdministrativeShutdown". */
export function errorName(code: number, subcode: number): string {
  const sub = SUBCODES[code];
  const subName = sub ? nameOf(sub, subcode) : String(subcode);
  return `${nameOf(ErrCode, code)}/${subName}`;
}

/** Make a session-reset error; the common case. */
export function bgpError(code: number, subcode: number, message: string, data?: Uint8Array): BgpError {
  return new BgpError(code, subcode, message, data ?? EMPTY, 'session-reset');
}
