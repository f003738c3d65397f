/**
 * The events of the state model (GET /v1/events, `routes watch`): one shape
 * per kind of change, built from the daemon's parts as they happen.
 */
import type { SpeakerEvent } from '../../bgp/index.js';
import type { Transition } from '../sources/health/types.js';
import type { LxdSourceState, LxdStatusChange } from '../sources/lxd/index.js';
import { checkState, lxdSummaryOf, type CheckState, type LxdSummaryState } from './model.js';
import { iso, plain } from './format.js';

/** One server-sent event (GET /v1/events, `routes watch`). */
export type StateEvent =
  | { type: 'peer'; at: string; event: SpeakerEvent }
  | { type: 'service'; at: string; service: string; from: string; to: string; reason: string; checks: CheckState[] }
  | { type: 'reload'; at: string; ok: boolean; errors: string[] }
  | { type: 'drain'; at: string; services: string[]; phase: 'graceful-shutdown' | 'withdrawn' }
  | { type: 'undrain'; at: string; services: string[] }
  | { type: 'lxd'; at: string; change: LxdStatusChange; lxd: LxdSummaryState };

/** Turn a health transition into its event shape. */
export function serviceEvent(t: Transition): StateEvent {
  return { type: 'service', at: iso(Date.now()), service: t.service, from: t.from, to: t.to, reason: t.reason, checks: t.results.map(checkState) };
}

/** Turn an LXD reachability change into its event shape. */
export function lxdEvent(change: LxdStatusChange, s: LxdSourceState): StateEvent {
  return { type: 'lxd', at: iso(Date.now()), change, lxd: lxdSummaryOf(s) };
}

/** Turn a speaker event into its event shape. */
export function peerEvent(e: SpeakerEvent): StateEvent {
  return { type: 'peer', at: iso(Date.now()), event: plain(e) };
}

