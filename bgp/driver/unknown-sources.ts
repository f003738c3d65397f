/**
 * Connections from addresses that are not configured peers: the speaker
 * closes them before any BGP is spoken (speaker.ts `onConnection`); this
 * module decides which of them get a log line and keeps the counts.
 *
 * Everything here is fed from outside (any host can open a TCP connection
 * to port 179), so both the memory and the log are bounded (issue 12: 300k
 * source addresses grew the heap 26 → 106 MB and wrote 51 MB of WARN lines
 * when every address was remembered forever and logged once):
 *
 * - the addresses already logged are remembered in an LRU of at most
 *   `maxAddresses` (default 1024); one that comes back after it was evicted,
 *   or after `forgetMs` (default 1 h), counts as new again;
 * - at most `maxLinesPerWindow` new addresses (default 10) are logged one by
 *   one per `windowMs` (default 60 s); the rest are counted, and one summary
 *   line at the end of the window says how many connections from how many
 *   addresses were closed without a line of their own.
 *
 * The window's end is a deadline on the injected Clock (STYLE.md §8), armed
 * only while something was suppressed. No RFC: RFC 4271 §8.2.1.1 lets a
 * speaker refuse connections from unconfigured peers; how loudly is ours.
 */
import type { Clock } from './clock.js';
import type { Logger } from './types.js';

export interface UnknownSourcesOptions {
  clock: Clock;
  log: Logger;
  /** Addresses remembered as already logged (LRU); default 1024. */
  maxAddresses?: number;
  /** A remembered address is logged again after this long (ms); default 1 h. */
  forgetMs?: number;
  /** Length of a rate-limit window (ms); default 60 s. */
  windowMs?: number;
  /** Lines for individual addresses per window; default 10. */
  maxLinesPerWindow?: number;
}

/** The counts the speaker's stats carry (metrics read them). */
export interface UnknownSourcesStats {
  /** Every connection closed because its address is no configured peer. */
  connections: number;
  /** Addresses remembered now (at most maxAddresses). */
  addresses: number;
  /** Connections from new addresses that got no line of their own (counted in a summary line instead). */
  suppressed: number;
  /** Addresses evicted from the memory to stay within maxAddresses. */
  evicted: number;
}

const DEFAULTS = { maxAddresses: 1024, forgetMs: 3_600_000, windowMs: 60_000, maxLinesPerWindow: 10 };

export class UnknownSources {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly max: number;
  private readonly forgetMs: number;
  private readonly windowMs: number;
  private readonly maxLines: number;
  /** Address → when it was last logged (clock ms); Map order is least recently seen first. */
  private readonly seen = new Map<string, number>();
  private windowStart = Number.NEGATIVE_INFINITY;
  private linesInWindow = 0;
  /** Suppressed in the current window: connections, and distinct new addresses among them (bounded by the LRU). */
  private windowSuppressed = 0;
  private windowAddresses = new Set<string>();
  private cancelSummary: (() => void) | null = null;
  private readonly counts: UnknownSourcesStats = { connections: 0, addresses: 0, suppressed: 0, evicted: 0 };

  constructor(o: UnknownSourcesOptions) {
    this.clock = o.clock;
    this.log = o.log;
    this.max = o.maxAddresses ?? DEFAULTS.maxAddresses;
    this.forgetMs = o.forgetMs ?? DEFAULTS.forgetMs;
    this.windowMs = o.windowMs ?? DEFAULTS.windowMs;
    this.maxLines = o.maxLinesPerWindow ?? DEFAULTS.maxLinesPerWindow;
  }

  /**
   * Note a refused connection from `address`; true when it deserves its own
   * log line and event (the caller writes them), false when it is known or
   * the window's budget is spent.
   */
  note(address: string): boolean {
    const now = this.clock.now();
    this.counts.connections++;
    const at = this.seen.get(address);
    if (at !== undefined && now - at < this.forgetMs) {
      // Known: move it to the most recent end of the LRU.
      this.seen.delete(address);
      this.seen.set(address, at);
      return false;
    }
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now;
      this.linesInWindow = 0;
    }
    if (this.linesInWindow < this.maxLines) {
      this.linesInWindow++;
      this.remember(address, now);
      return true;
    }
    // Over budget: counted, and remembered only for the window's summary
    // (never more addresses than the LRU holds), not as logged.
    this.counts.suppressed++;
    this.windowSuppressed++;
    if (this.windowAddresses.size < this.max) this.windowAddresses.add(address);
    this.armSummary();
    return false;
  }

  /** The counts so far. */
  stats(): UnknownSourcesStats {
    return { ...this.counts, addresses: this.seen.size };
  }

  /** Write any pending summary now and cancel the timer (the speaker stops). */
  close(): void {
    this.cancelSummary?.();
    this.cancelSummary = null;
    this.writeSummary();
  }

  private remember(address: string, now: number): void {
    this.seen.delete(address);
    this.seen.set(address, now);
    while (this.seen.size > this.max) {
      const oldest = this.seen.keys().next().value as string;
      this.seen.delete(oldest);
      this.counts.evicted++;
    }
  }

  private armSummary(): void {
    if (this.cancelSummary) return;
    this.cancelSummary = this.clock.setTimer(this.windowStart + this.windowMs, () => {
      this.cancelSummary = null;
      this.writeSummary();
    });
  }

  private writeSummary(): void {
    if (this.windowSuppressed === 0) return;
    const n = this.windowAddresses.size;
    const addresses = n >= this.max ? `${n} or more` : String(n);
    this.log.warn(
      { connections: this.windowSuppressed, addresses, windowMs: this.windowMs },
      `${this.windowSuppressed} connections from ${addresses} more addresses that are no configured peer closed, not logged one by one (over ${this.maxLines} new addresses in ${Math.round(this.windowMs / 1000)} s)`,
    );
    this.windowSuppressed = 0;
    this.windowAddresses = new Set();
  }
}
