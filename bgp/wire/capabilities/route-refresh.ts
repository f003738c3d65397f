/**
 * Route Refresh capability, code 2 (RFC 2918 §2): no value, length 0.
 */
import { CapCode } from '../iana.js';
import { expectLength, type CapabilityCodec } from './codec.js';

export const routeRefresh: CapabilityCodec<'route-refresh'> = {
  code: CapCode.RouteRefresh,
  kind: 'route-refresh',
  decode(r) {
    // RFC 2918 §2: advertised with Capability Code 2 and Capability Length 0.
    expectLength(r, 0, 'Route Refresh');
    return { code: CapCode.RouteRefresh, kind: 'route-refresh' };
  },
  encode() {},
};
