/**
 * The messages between EngineClient (main thread) and the engine worker.
 * Plain structured-clone data only: prefix lists cross as typed arrays.
 *
 * No RFC: herald's own thread boundary (decision 0020).
 */
import type { ReceivedRoute } from '../rib/adj-rib-in.js';
import type { GroupStanding, PeerChange, PrefixStanding } from './engine.js';
import type { SpeakerOptions } from './speaker.js';
import type { GroupOp, PeerAction, PeerActionResult, PeerConfig, PeerSnapshot, ReceivedMatch, SpeakerEvent, SpeakerStats } from './types.js';
import type { TimerLateness } from './lateness.js';

/** Speaker options that cross the boundary (the clock and logger are the worker's own). */
export type EngineOptions = Omit<SpeakerOptions, 'clock' | 'logger'>;

/** A command from the main thread; `id` is set when a reply is expected. */
export type Command =
  | { op: 'init'; id: number; options: EngineOptions }
  | { op: 'start'; id: number }
  | { op: 'addPeer'; config: PeerConfig }
  | { op: 'updatePeer'; id: number; config: PeerConfig }
  | { op: 'removePeer'; id: number; name: string; text?: string }
  | { op: 'applyGroups'; seq: number; ops: readonly GroupOp[] }
  | { op: 'standing'; id: number; prefix: string }
  | { op: 'groupStanding'; id: number; peer: string; group: number }
  | { op: 'received'; id: number; peer: string; prefix?: string }
  | { op: 'lookupReceived'; id: number; address: string }
  | { op: 'peerAction'; id: number; name: string; action: PeerAction; message?: string }
  | { op: 'stop'; id: number; text?: string; graceful?: boolean }
  | { op: 'routesComplete' };

/** What the engine sends back. */
export type FromEngine =
  | { kind: 'reply'; id: number; value?: unknown; error?: string; code?: string }
  | { kind: 'batch'; id: number; batch: ReceivedRoute[] }
  | { kind: 'event'; event: SpeakerEvent }
  | { kind: 'snapshot'; peers: PeerSnapshot[]; stats: SpeakerStats; lateness: TimerLateness | null }
  | { kind: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; obj: object; msg: string };

/** Reply values by command (for the client's typing). */
export interface Replies {
  init: null;
  start: { address: string; port: number; family: string } | null;
  updatePeer: PeerChange;
  removePeer: null;
  standing: PrefixStanding[];
  groupStanding: GroupStanding | null;
  received: true | null;
  lookupReceived: ReceivedMatch[];
  peerAction: PeerActionResult;
  stop: string[];
}
