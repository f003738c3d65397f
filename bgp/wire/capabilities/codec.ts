/**
 * The shape every capability codec shares, and the error they raise
 * (RFC 5492 §4; one file per capability, registered in ./index.ts).
 *
 * A codec sees a Reader window of exactly the Capability Length octets, so it
 * cannot read into the next capability; running short inside it is an OPEN
 * Message Error with subcode 0 (Unspecific), as is any other malformed value.
 * RFC 5492 defines no subcode for a malformed capability value; BIRD
 * (`bgp_read_capabilities`: `bgp_error(conn, 2, 0, ...)`) and FRR
 * (`bgp_capability_parse`: `BGP_NOTIFY_OPEN_MALFORMED_ATTR`, which is 0) both
 * send OPEN Message Error / 0 with empty data, and so does herald.
 */
import { BgpError } from '../errors.js';
import { ErrCode, OpenSub } from '../iana.js';
import type { Reader, ShortError } from '../reader.js';
import type { Capability } from '../types.js';
import type { Writer } from '../writer.js';

/** Every capability kind herald decodes into fields. */
export type KnownCapKind = Exclude<Capability['kind'], 'unknown'>;
/** The Capability variant of one kind. */
export type CapOf<K extends Capability['kind']> = Extract<Capability, { kind: K }>;

export interface CapabilityCodec<K extends KnownCapKind = KnownCapKind> {
  readonly code: CapOf<K>['code'];
  readonly kind: K;
  /** Decode the value; `r` is a window of exactly the Capability Length. */
  decode(r: Reader): CapOf<K>;
  /** Encode the value only (code and length are written by the registry). */
  encode(w: Writer, cap: CapOf<K>): void;
}

/** The error a capability window raises when it runs short. */
export const CAP_SHORT: ShortError = { code: ErrCode.OpenMessage, subcode: OpenSub.Unspecific, what: 'capability value' };

/** Make the OPEN Message Error / Unspecific error for a malformed capability. */
export function capError(message: string): BgpError {
  return new BgpError(ErrCode.OpenMessage, OpenSub.Unspecific, message);
}

/** Throw unless the capability value is exactly `n` octets. */
export function expectLength(r: Reader, n: number, name: string): void {
  if (r.remaining !== n) throw capError(`${name} capability length ${r.remaining}, expected ${n}`);
}

/** Throw unless the capability value is a whole number of `n`-octet entries. */
export function expectMultiple(r: Reader, n: number, name: string, fixed = 0): void {
  const len = r.remaining - fixed;
  if (len < 0 || len % n !== 0) throw capError(`${name} capability length ${r.remaining} is not ${fixed ? `${fixed} + ` : ''}a multiple of ${n}`);
}
