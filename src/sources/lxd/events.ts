/**
 * LXD lifecycle events over a websocket (`/1.0/events?type=lifecycle`, over
 * the unix socket as ws+unix:// or over TLS as wss://). The events are only
 * a trigger: the source re-reads the API and derives a full snapshot
 * (level-triggered), so a lost or duplicated event costs at most one read.
 * Reconnects with exponential backoff; every (re)connect is reported so the
 * source re-reads what it may have missed while disconnected.
 */
import WebSocket, { type ClientOptions } from 'ws';
import { after, realClock, type Clock } from '../../../bgp/index.js';
import type { LxdEvent } from './types.js';

export interface LxdEventsHandlers {
  event(e: LxdEvent): void;
  open(): void;
  close(reason: string): void;
}

export interface LxdEventsOptions {
  /** First reconnect delay; default 100 ms, doubled per failure. */
  backoffInitialMs?: number;
  /** Longest reconnect delay; default 30 s. */
  backoffMaxMs?: number;
  /** The clock of the reconnect timer (default the real clock). */
  clock?: Clock;
}

/** True for lifecycle actions that can change what the LXD source announces. */
export function isRelevantAction(action: string | undefined): boolean {
  if (!action) return true;
  if (!/^(instance|network|cluster-member|project)-/.test(action)) return false;
  return !/^instance-(log|file|exec|console|metadata|snapshot|backup)/.test(action);
}

/**
 * True for the operation events of `lxc cluster evacuate` / `restore`. LXD
 * 5.0 has no lifecycle event for either; the member's status changes when
 * the operation starts, and its instances stop (or start) only after it, so
 * the operation's own events are the first sign an evacuation began.
 */
export function isMemberEvacuation(e: LxdEvent): boolean {
  return e.type === 'operation' && /^(Evacuating|Restoring) cluster member$/.test(e.metadata?.description ?? '');
}

/**
 * The instance a lifecycle event is about, from its `source`
 * ("/1.0/instances/NAME", with "?project=P" outside the default project)
 * and the event's own `project`; null when it names no instance. A rename
 * names the new instance only: null, so the caller reads every instance.
 */
export function eventInstance(e: LxdEvent): { project: string; name: string } | null {
  const action = e.metadata?.action ?? '';
  if (!action.startsWith('instance-') || action === 'instance-renamed') return null;
  const src = e.metadata?.source ?? '';
  const m = /^\/1\.0\/(?:instances|containers|virtual-machines)\/([^/?]+)(?:\?(.*))?$/.exec(src);
  if (!m) return null;
  let name: string;
  try {
    name = decodeURIComponent(m[1]!);
  } catch {
    return null;
  }
  const project = new URLSearchParams(m[2] ?? '').get('project') ?? (e.project || 'default');
  return { project, name };
}

export class LxdEvents {
  private ws: WebSocket | null = null;
  private timer: (() => void) | null = null;
  private delay: number;
  private stopped = true;
  connected = false;
  connects = 0;

  constructor(
    private readonly target: () => { url: string; options: ClientOptions },
    private readonly handlers: LxdEventsHandlers,
    private readonly opts: LxdEventsOptions = {},
  ) {
    this.delay = opts.backoffInitialMs ?? 100;
  }

  /** Connect, and keep reconnecting until stop(). */
  start(): void {
    this.stopped = false;
    this.connect();
  }

  /** Close the websocket and stop reconnecting. */
  stop(): void {
    this.stopped = true;
    this.timer?.();
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    this.connected = false;
    if (ws) {
      ws.removeAllListeners();
      ws.on('error', () => {});
      ws.terminate();
    }
  }

  private connect(): void {
    if (this.stopped) return;
    const { url, options } = this.target();
    const ws = new WebSocket(url, { ...options, handshakeTimeout: 10_000 });
    this.ws = ws;
    let reason = 'closed';
    ws.on('open', () => {
      this.connected = true;
      this.connects++;
      this.delay = this.opts.backoffInitialMs ?? 100;
      this.handlers.open();
    });
    ws.on('message', (data) => {
      let e: LxdEvent;
      try {
        e = JSON.parse(data.toString()) as LxdEvent;
      } catch {
        return;
      }
      if (e && typeof e === 'object') this.handlers.event(e);
    });
    ws.on('error', (err) => {
      reason = err.message;
    });
    ws.on('close', () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.connected = false;
      this.handlers.close(reason);
      if (this.stopped) return;
      const d = this.delay;
      this.delay = Math.min(d * 2, this.opts.backoffMaxMs ?? 30_000);
      this.timer = after(this.opts.clock ?? realClock, d, () => {
        this.timer = null;
        this.connect();
      });
    });
  }
}
