/**
 * Graceful Restart capability, code 64 (RFC 4724 §3, "N" bit from RFC 8538 §2).
 *
 *   +--------------------------------------------------+
 *   | Restart Flags (4 bits) | Restart Time (12 bits)  |
 *   +--------------------------------------------------+
 *   | AFI (16 bits)                                    |
 *   | SAFI (8 bits)                                    |
 *   | Flags for Address Family (8 bits)                |
 *   +--------------------------------------------------+  ... repeated
 *
 * Restart Flags: 0x8 "R" (restart state, RFC 4724), 0x4 "N" (graceful
 * notification, RFC 8538). AFI flags: 0x80 "F" (forwarding state preserved).
 */
import { CapCode } from '../iana.js';
import type { GrFamily } from '../types.js';
import { expectMultiple, type CapabilityCodec } from './codec.js';

const R_BIT = 0x8000;
const N_BIT = 0x4000;
const TIME_MASK = 0x0fff;
const F_BIT = 0x80;

export const gracefulRestart: CapabilityCodec<'graceful-restart'> = {
  code: CapCode.GracefulRestart,
  kind: 'graceful-restart',
  decode(r) {
    // RFC 4724 §3: 2 octets of flags and time, then 4 octets per family.
    expectMultiple(r, 4, 'Graceful Restart', 2);
    const word = r.u16();
    const families: GrFamily[] = [];
    while (!r.atEnd) {
      const afi = r.u16();
      const safi = r.u8();
      const flags = r.u8();
      families.push({ afi, safi, forwardingPreserved: (flags & F_BIT) !== 0 });
    }
    return {
      code: CapCode.GracefulRestart,
      kind: 'graceful-restart',
      restarting: (word & R_BIT) !== 0,
      notification: (word & N_BIT) !== 0,
      restartTime: word & TIME_MASK,
      families,
    };
  },
  encode(w, cap) {
    if (cap.restartTime < 0 || cap.restartTime > TIME_MASK) {
      throw new RangeError(`graceful restart time ${cap.restartTime} does not fit 12 bits`);
    }
    w.u16((cap.restarting ? R_BIT : 0) | (cap.notification ? N_BIT : 0) | cap.restartTime);
    for (const f of cap.families) w.u16(f.afi).u8(f.safi).u8(f.forwardingPreserved ? F_BIT : 0);
  },
};
