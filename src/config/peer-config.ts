/**
 * From a configured peer to the speaker's `PeerConfig` (bgp/driver/types.ts).
 * The one place the config's secret is revealed: to the speaker, which hands
 * it to the kernel as the TCP MD5 key.
 */
import type { PeerConfig } from '../../bgp/index.js';
import type { PeerSettings } from './types.js';

/** Map a configured peer to the speaker's PeerConfig. */
export function toPeerConfig(p: PeerSettings): PeerConfig {
  return {
    name: p.name,
    address: p.address,
    port: p.port,
    asn: p.asn,
    ...(p.localAsn !== undefined ? { localAs: p.localAsn } : {}),
    ...(p.localAddress !== undefined ? { localAddress: p.localAddress } : {}),
    passive: p.passive,
    holdTime: p.holdTime,
    ...(p.keepalive !== undefined ? { keepalive: p.keepalive } : {}),
    connectRetryMs: p.reconnect.connectRetryMs,
    connectRetryMaxMs: p.reconnect.connectRetryMaxMs,
    idleHoldMs: p.reconnect.idleHoldMs,
    idleHoldMaxMs: p.reconnect.idleHoldMaxMs,
    idleHoldForgiveMs: p.reconnect.idleHoldForgiveMs,
    ...(p.password !== undefined ? { password: p.password.reveal() } : {}),
    ...(p.multihop !== undefined ? { multihop: p.multihop } : {}),
    ...(p.ttlSecurity !== undefined ? { ttlSecurity: true, minTtl: p.ttlSecurity.minTtl } : {}),
    families: [...p.families],
    extendedNextHop: p.extendedNextHop,
    ...(p.maxPrefixes !== undefined
      ? { maxPrefixes: p.maxPrefixes.limit, maxPrefixesWarning: p.maxPrefixes.warning, maxPrefixesAction: { ...p.maxPrefixes.action } }
      : {}),
    importNothing: p.import === 'none',
    ...(p.enforceFirstAs ? {} : { enforceFirstAs: false }),
    receiveLimits: {
      maxAsPath: p.importLimits.maxAsPath,
      maxAttributeBytes: p.importLimits.maxRouteBytes,
      maxBytes: p.importLimits.maxBytes,
      action: { ...p.importLimits.action },
    },
    ...(p.nextHopSelf.ipv4 !== undefined ? { nextHopSelf4: p.nextHopSelf.ipv4 } : {}),
    ...(p.nextHopSelf.ipv6 !== undefined ? { nextHopSelf6: p.nextHopSelf.ipv6 } : {}),
    ...(p.gracefulRestartTime !== undefined ? { gracefulRestartTime: p.gracefulRestartTime, gracefulNotification: p.gracefulNotification } : {}),
    ...(p.bfd !== undefined
      ? {
          bfd: {
            desiredMinTxMs: p.bfd.minTxMs,
            requiredMinRxMs: p.bfd.minRxMs,
            detectMult: p.bfd.multiplier,
            passive: p.bfd.passive,
            waitUpMs: p.bfd.waitUpMs,
            multihop: p.bfd.multihop,
            ...(p.bfd.maxHops !== undefined ? { maxHops: p.bfd.maxHops } : {}),
          },
        }
      : {}),
  };
}
