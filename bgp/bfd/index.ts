/**
 * herald's BFD (RFC 5880 asynchronous mode, RFC 5881 single hop, RFC 5883
 * multihop): the public face of bgp/bfd for the session engine and src/.
 *
 *   wire.ts        Control packet codec, §6.8.6 syntax checks as BfdError reasons
 *   session.ts     the §6.8 state machine as a pure step(session, event, now)
 *   ttl-filter.ts  the kernel TTL check as BPF programs (decision 0021)
 *   driver.ts      BfdDriver: sockets, one Clock timer, demultiplexing, snapshots
 *
 *   const bfd = new BfdDriver({ clock, logger });
 *   await bfd.addSession({ name: 'up1', peer: '192.0.2.1', local: '192.0.2.11', desiredMinTxMs: 100, requiredMinRxMs: 100, detectMult: 3 });
 *   bfd.on((e) => { if (e.type === 'state' && e.pathDown) ... take the BGP session down (Cease/BFD Down) ... });
 *   bfd.setAdminDown('up1', true);   // before a planned stop: the router keeps its BGP session (RFC 5882 §3.2)
 */
export {
  BfdDriver,
  BFD_DEFAULTS,
  BFD_DEFAULT_MAX_HOPS,
  BFD_MIN_INTERVAL_MS,
  BFD_MAX_INTERVAL_MS,
  type BfdCounters,
  type BfdDriverCounters,
  type BfdDriverEvent,
  type BfdDriverOptions,
  type BfdSessionOptions,
  type BfdSessionSnapshot,
  type BfdSessionUpdate,
} from './driver.js';
export { BfdDiag, BfdState, BfdPort, diagName, stateName, type BfdStateName } from './iana.js';
export { BfdError, DiscardReason, type BfdControlPacket } from './wire.js';
