/**
 * BGP Extended Message capability, code 6 (RFC 8654 §3): no value, length 0.
 * Once both sides sent it, messages other than OPEN and KEEPALIVE may be up
 * to 65535 octets (context.ts `extendedMessage`, framer `setMaxLength`).
 */
import { CapCode } from '../iana.js';
import { expectLength, type CapabilityCodec } from './codec.js';

export const extendedMessage: CapabilityCodec<'extended-message'> = {
  code: CapCode.ExtendedMessage,
  kind: 'extended-message',
  decode(r) {
    // RFC 8654 §3: defined with Capability Code 6 and Capability Length 0.
    expectLength(r, 0, 'Extended Message');
    return { code: CapCode.ExtendedMessage, kind: 'extended-message' };
  },
  encode() {},
};
