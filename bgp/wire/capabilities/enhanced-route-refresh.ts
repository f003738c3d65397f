/**
 * Enhanced Route Refresh capability, code 70 (RFC 7313 §3): no value, length 0.
 */
import { CapCode } from '../iana.js';
import { expectLength, type CapabilityCodec } from './codec.js';

export const enhancedRouteRefresh: CapabilityCodec<'enhanced-route-refresh'> = {
  code: CapCode.EnhancedRouteRefresh,
  kind: 'enhanced-route-refresh',
  decode(r) {
    // RFC 7313 §3: advertised with Capability Code 70 and Capability Length 0.
    expectLength(r, 0, 'Enhanced Route Refresh');
    return { code: CapCode.EnhancedRouteRefresh, kind: 'enhanced-route-refresh' };
  },
  encode() {},
};
