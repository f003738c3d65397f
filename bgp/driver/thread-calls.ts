/**
 * The requests one thread makes of another over a worker's port, and what
 * comes back: each request's id and waiting promise, its settlement by the
 * reply that names it (an error keeps its errno code across the boundary:
 * EADDRINUSE, EACCES…), and the failure of every waiting request at once
 * when the other thread dies. Also the hand-out of relayed events to
 * listeners. One place for both of herald's thread boundaries: the main
 * thread's EngineClient (→ the session engine thread, decision 0020) and the
 * engine's BfdThread (→ the BFD thread, decision 0040).
 *
 * No RFC: herald's own thread boundaries.
 */
import type { Logger } from './types.js';

/** A reply as both threads send it. */
export interface ThreadReply {
  id: number;
  value?: unknown;
  error?: string;
  code?: string;
}

/** What waits for one request: its promise's ends, and (for a streamed answer) its parts. */
export interface Waiter {
  resolve(value: unknown): void;
  reject(err: Error): void;
  onBatch?(batch: unknown): void;
}

export class ThreadCalls {
  private readonly waiting = new Map<number, Waiter>();
  private nextId = 1;
  /** Why the other thread can answer no more (null while it can). */
  failure: Error | null = null;

  /** Register a waiter under a new id (the caller posts the request with it). */
  open(w: Waiter): number {
    const id = this.nextId++;
    this.waiting.set(id, w);
    return id;
  }

  /** Post a request made by `make(id)` with `send`, and wait for its reply. */
  call<T>(send: (id: number) => void): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => send(this.open({ resolve: resolve as (v: unknown) => void, reject })));
  }

  /** The waiter of request `id`, still waiting (a streamed part arrived). */
  waiter(id: number): Waiter | undefined {
    return this.waiting.get(id);
  }

  /** Settle the request a reply names (a reply for none is ignored). */
  settle(r: ThreadReply): void {
    const w = this.waiting.get(r.id);
    if (!w) return;
    this.waiting.delete(r.id);
    if (r.error !== undefined) w.reject(Object.assign(new Error(r.error), r.code !== undefined ? { code: r.code } : {}));
    else w.resolve(r.value ?? null);
  }

  /** The other thread is gone: fail every waiting request with `err`. False when it had failed already. */
  failAll(err: Error): boolean {
    if (this.failure) return false;
    this.failure = err;
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
    return true;
  }
}

/** Hand a relayed event to every listener; one that throws is logged and the others still get it. */
export function relay<E>(listeners: Iterable<(e: E) => void>, event: E, log: Logger, what: string): void {
  for (const fn of listeners) {
    try {
      fn(event);
    } catch (err) {
      log.error({ err: (err as Error).message }, `${what} event listener threw`);
    }
  }
}
