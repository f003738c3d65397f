/**
 * The session engine's contract: everything src/ may ask of the BGP speaker.
 *
 * Two implementations keep the same shape: `Speaker` itself, run in the
 * calling thread (tests, benchmarks, the fuzz pipeline), and `EngineClient`,
 * which runs a Speaker in a worker thread (decision 0020) so that nothing the
 * daemon's main thread does can delay a keepalive or a BFD packet. Commands
 * are fire-and-forget or promises; events and peer snapshots flow back; a
 * question about one prefix or one group is a request.
 *
 * No RFC: this is herald's own boundary between the daemon and its speaker.
 */
import type { ReceivedRoute } from '../rib/adj-rib-in.js';
import type { GroupOp, PeerAction, PeerActionResult, PeerConfig, PeerSnapshot, ReceivedMatch, SpeakerEvent, SpeakerStats } from './types.js';
import type { TimerLateness } from './lateness.js';

/** What `updatePeer` did: nothing, a change the session keeps running through, or a session reset. */
export type PeerChange = 'unchanged' | 'reconfigured' | 're-exported' | 'restarted';

/** How one prefix stands with one peer (`standing`). */
export interface PrefixStanding {
  peer: string;
  /** The FSM state of the peer's session. */
  state: string;
  /** The prefix is in the peer's desired set (some group hands it to the peer). */
  desired: boolean;
  /** The group that owns the prefix for this peer; null when none does. */
  group: number | null;
  /** The next hop the peer was last sent for it; null when it was sent nothing. */
  sentNextHop: string | null;
  /** A change for it is queued and not written yet. */
  pending: boolean;
  /** Why it is not sent (refused, no session); null when sent or queued. */
  reason: string | null;
}

/** A group's prefixes with one peer, in the group's list order (`groupStanding`). */
export interface GroupStanding {
  peer: string;
  state: string;
  /** One STANDING code (bgp/rib/adj-rib-out.ts) per prefix. */
  codes: Uint8Array;
  /** Per prefix, an index into `nextHops` of what was sent; -1 when nothing was. */
  sent: Int32Array;
  nextHops: string[];
  /** Reasons of the not-sendable prefixes: [index in the list, reason]. */
  reasons: [number, string][];
}

/** The BGP speaker as src/ uses it, wherever it runs. */
export interface Engine {
  /** Listen (unless disabled) and start every peer. */
  start(): Promise<void>;
  /**
   * Cease/Administrative Shutdown with `text` to every peer, then close
   * everything. `graceful` (a planned restart): peers with Graceful Restart
   * keep our routes (no flushing NOTIFICATION). Returns the peers that keep them.
   */
  stop(text?: string, opts?: { graceful?: boolean }): Promise<string[]>;
  /** Every route set handed so far is complete (after a restart): release the held End-of-RIBs. */
  routesComplete(): void;
  addPeer(cfg: PeerConfig): void;
  /** Change a peer's settings; says whether its session was kept, re-exported or reset. */
  updatePeer(cfg: PeerConfig): Promise<PeerChange>;
  /** Cease/Peer De-configured, then forget the peer. */
  removePeer(name: string, text?: string): Promise<void>;
  /** Hand route group changes; returns the sequence number `flushed` events report. */
  applyGroups(ops: readonly GroupOp[]): number;
  /** Subscribe to typed events; returns the unsubscribe function. */
  on(fn: (e: SpeakerEvent) => void): () => void;
  /** Every peer's current snapshot (kept current without a round trip). */
  snapshot(): PeerSnapshot[];
  /**
   * How late the engine's timers (BGP and BFD deadlines) ran, pushed with
   * the snapshots (decision 0034); null when the engine runs on a clock it
   * does not measure (tests with ManualClock).
   */
  lateness(): TimerLateness | null;
  /** How one prefix stands with every peer. */
  standing(prefix: string): Promise<PrefixStanding[]>;
  /** How a group's prefixes stand with one peer; null when the peer or group is unknown. */
  groupStanding(peer: string, group: number): Promise<GroupStanding | null>;
  /** The routes a peer sent (all, or one prefix), in batches; null when there is no such peer. */
  received(peer: string, prefix?: string): AsyncIterable<ReceivedRoute[]> | null;
  /** Per peer, the longest received prefix that contains `address`. */
  lookupReceived(address: string): Promise<ReceivedMatch[]>;
  /**
   * An operator's action on one peer: down (Cease/Administrative Shutdown,
   * stay down), up, reset (Cease/Administrative Reset, reconnect), refresh
   * (re-send everything, no reset). Rejects with code ENOPEER for an unknown peer.
   */
  peerAction(name: string, action: PeerAction, opts?: { message?: string }): Promise<PeerActionResult>;
  /** Speaker-wide counts (kept current without a round trip, like snapshot). */
  stats(): SpeakerStats;
}
