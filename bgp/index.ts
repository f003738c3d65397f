/**
 * herald's BGP speaker: the public API src/ uses.
 *
 * Layers, imports running one way (STYLE.md §1):
 *   wire/     pure codecs: messages, capabilities, path attributes, prefixes
 *   session/  the pure RFC 4271 FSM: step(session, event, now) -> actions
 *   rib/      pure Adj-RIB-Out (owns the diff, packs UPDATEs) and Adj-RIB-In
 *   driver/   sockets, timers, TCP MD5: the only code that does I/O
 *   bfd/      BFD (RFC 5880/5881/5883): codec, pure session machine, BfdDriver
 *
 * Typical use:
 *   const sp = new Speaker({ asn: 65011, routerId: '192.0.2.11' });
 *   sp.addPeer({ name: 'up1', address: '192.0.2.1', asn: 65000 });
 *   await sp.start();
 *   sp.setRoutes('up1', [{ prefix: '198.51.100.53/32', communities: ['65011:53'] }]);
 *   // or, for large sets, one attribute set per group of prefixes:
 *   sp.setRouteGroups('up1', [{ attrs: { communities: ['65011:53'] }, prefixes: ['198.51.100.53/32'] }]);
 *   sp.on((e) => console.log(e));
 *   await sp.stop('maintenance');
 */
export { Speaker, type SpeakerOptions } from './driver/speaker.js';
export { EngineClient, EngineThread, startEngineThread, type EngineClientOptions } from './driver/engine-client.js';
export type { Engine, GroupStanding, PeerChange, PrefixStanding } from './driver/engine.js';
export { STANDING } from './rib/adj-rib-out.js';
export type { ReceivedRoute } from './rib/adj-rib-in.js';
export type { Peer } from './driver/peer.js';
export {
  silentLogger,
  PEER_COUNTER_KEYS,
  PEER_ACTIONS,
  zeroPeerCounters,
  type PeerAction,
  type PeerActionResult,
  type ReceivedMatch,
  type SpeakerStats,
  type PeerCounterKey,
  type Logger,
  type PeerConfig,
  type PeerCounters,
  type PeerSnapshot,
  type SpeakerEvent,
  type GroupOp,
  type PeerBfdConfig,
  type PeerBfdSnapshot,
  BFD_WAIT_UP_MS,
  bfdMultihop,
} from './driver/types.js';
export { realClock, createRealClock, ManualClock, after, every, type Clock, type TimerOptions } from './driver/clock.js';
export { PushQueue } from './driver/push-queue.js';
export { LatenessRecorder, LATENESS_BOUNDS_MS, type TimerLateness } from './driver/lateness.js';
export type { RouteAttrs, RouteGroup, RouteSpec } from './rib/route.js';
export type { DownReason } from './session/index.js';
export { BgpError, errorName, type ErrorAction } from './wire/errors.js';
export { parsePrefix, formatPrefix, parseAddress, parseIPv4, formatAddress, formatIPv4, formatIPv6, familyOfText, formatKey, KIND_V6, PrefixScanner, type Prefix } from './wire/prefix.js';
export type { Checked } from './rib/route.js';
export {
  PrefixListBuilder,
  EMPTY_PREFIX_LIST,
  prefixListOf,
  prefixTexts,
  samePrefixList,
  familyCounts,
  formatRecord as formatPrefixRecord,
  nextRecord as nextPrefixRecord,
  type PrefixList,
  type RejectedPrefix,
} from './rib/prefix-list.js';
export { PrefixTable } from './rib/prefix-table.js';
export { formatAsPath } from './wire/attributes/as-path.js';
export { formatCommunity, parseCommunity, COMMUNITY_NAMES } from './wire/attributes/communities.js';
export { formatLargeCommunity, parseLargeCommunity } from './wire/attributes/large-communities.js';
export { formatExtendedCommunity, parseExtendedCommunity } from './wire/attributes/extended-communities.js';
export type { PathAttributes } from './wire/types.js';
export {
  BfdDriver,
  BfdDiag,
  BfdState,
  BFD_DEFAULTS,
  BFD_MIN_INTERVAL_MS,
  BFD_MAX_INTERVAL_MS,
  type BfdDriverEvent,
  type BfdDriverOptions,
  type BfdSessionOptions,
  type BfdSessionSnapshot,
  type BfdSessionUpdate,
} from './bfd/index.js';
