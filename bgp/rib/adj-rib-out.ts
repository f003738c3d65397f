/**
 * The Adj-RIB-Out of one peer: it owns the diff (STYLE.md §9; RFC 4271 §3.2,
 * §9.2; RFC 4724 §4.1 End-of-RIB; RFC 7606 §5.1; RFC 8654).
 *
 * src/ hands it full snapshots of what this peer should have (`setDesired`,
 * level-triggered, never deltas). Per prefix it keeps what is desired and what
 * the peer was last sent; a prefix whose two differ is *pending* and sits in
 * exactly one queue:
 *
 *   withdraw queue per family      prefixes the peer has but should not
 *   one bucket per AttrSet          prefixes to announce with that attribute set
 *
 * A later snapshot simply moves a prefix to another queue (or out of all of
 * them when desired and sent agree again), so a change supersedes a pending
 * one and an announce-then-withdraw before sending sends nothing at all.
 *
 * The driver pulls bytes with `nextBytes(budget)` while `socket.write()`
 * returns true and resumes on 'drain' (backpressure): each pull packs
 * withdrawals first, then one bucket after another into as few UPDATEs as the
 * negotiated maximum allows. Nothing bigger than the queues themselves is ever
 * materialised, and `setDesired` may run between any two pulls.
 *
 * Session lifecycle: `start(ctx, peer)` on Established makes everything
 * desired pending; once the first full sync has drained, End-of-RIB is sent
 * once per negotiated family (RFC 4724 §4.1). `reset()` on session down
 * forgets what the peer had, keeping what is desired.
 */
import { Afi } from '../wire/iana.js';
import { maxMessageLen, familyKey, IPV4_UNICAST, type CodecContext } from '../wire/context.js';
import { formatIPv4, formatIPv6 } from '../wire/prefix.js';
import { Writer } from '../wire/writer.js';
import { encodePathAttributes } from '../wire/attributes/index.js';
import { Exporter, type AttrSet, type PeerExportContext } from './export.js';
import { parseRoutePrefix, RouteParser, type ParsedAttrs, type RoutePrefix, type RouteSpec } from './route.js';
import {
  announceOverhead,
  nlriBytes,
  writeAnnounce,
  writeEndOfRib,
  writeWithdraw,
  type AttributeEncoder,
  type NlriFeed,
  type NlriSource,
} from './update-builder.js';

/** One prefix's state; lives in the RIB's map while desired, sent or queued. */
class Entry implements NlriSource, RoutePrefix {
  readonly key: string;
  readonly afi: Afi;
  readonly len: number;
  readonly v4: number;
  readonly v6: Uint8Array | null;
  /** Validated attributes from the latest snapshot; null when not desired. */
  spec: ParsedAttrs | null = null;
  /** Snapshot generation that last named this prefix. */
  gen = 0;
  /** What this session should have; null = nothing (not desired or not sendable). */
  desired: AttrSet | null = null;
  /** What this session was sent; null = nothing. */
  sent: AttrSet | null = null;
  /** Why the desired route cannot be sent to this peer, if so. */
  rejected: string | null = null;
  // Intrusive doubly-linked membership of one queue: O(1) move and removal.
  queue: Queue | null = null;
  prev: Entry | null = null;
  next: Entry | null = null;

  constructor(p: RoutePrefix) {
    this.key = p.key;
    this.afi = p.afi;
    this.len = p.len;
    this.v4 = p.v4;
    this.v6 = p.v6;
  }
}

/** A FIFO of pending entries: a withdraw queue (set = null) or an announce bucket. */
class Queue {
  head: Entry | null = null;
  tail: Entry | null = null;
  size = 0;
  constructor(readonly set: AttrSet | null) {}
}

/** A route as the peer has it, for `advertised()`. */
export interface AdvertisedRoute {
  prefix: string;
  attrs: AttrSet;
}

/** A desired route that is not sent to this peer, and why. */
export interface UnsendableRoute {
  prefix: string;
  reason: string;
}

export interface AdjRibOutStats {
  /** UPDATE messages handed to the driver since construction, End-of-RIB included. */
  updates: number;
  bytes: number;
  prefixesAnnounced: number;
  prefixesWithdrawn: number;
  /** End-of-RIB markers sent in the current session. */
  endOfRib: number;
}

export interface AdjRibOutOptions {
  /** The attribute-block encoder (no MP_REACH / MP_UNREACH); default: the wire codec's. */
  encodeAttributes?: AttributeEncoder;
  /** Share one parser between peers to validate each attribute set once. */
  parser?: RouteParser;
}

/** Default pull budget: enough UPDATEs to fill a typical socket buffer. */
export const DEFAULT_PULL_BYTES = 64 * 1024;

export class AdjRibOut {
  private readonly encodeAttributes: AttributeEncoder;
  private readonly parser: RouteParser;
  private readonly entries = new Map<string, Entry>();
  /** Snapshot entries whose prefix or attributes did not validate: text → reason. */
  private readonly invalid = new Map<string, string>();
  /** Entries whose desired route this peer cannot be sent (export refused). */
  private readonly rejected = new Map<string, Entry>();
  private readonly buckets = new Map<AttrSet, Queue>();
  private readonly withdraw4 = new Queue(null);
  private readonly withdraw6 = new Queue(null);
  private gen = 0;
  private pending = 0;
  /** Entries with a spec (in the latest snapshot, valid). */
  private nDesired = 0;

  private ctx: CodecContext | null = null;
  private exporter: Exporter | null = null;
  private maxLen = 4096;
  private addPath4 = false;
  private addPath6 = false;
  /** Families still owed an End-of-RIB in this session; sent when the queues first run dry. */
  private eorOwed: { afi: number; safi: number }[] = [];

  private readonly counters: AdjRibOutStats = { updates: 0, bytes: 0, prefixesAnnounced: 0, prefixesWithdrawn: 0, endOfRib: 0 };

  constructor(opts: AdjRibOutOptions = {}) {
    this.encodeAttributes = opts.encodeAttributes ?? encodePathAttributes;
    this.parser = opts.parser ?? new RouteParser();
  }

  // ------------------------------------------------------------ snapshots

  /**
   * Replace the desired set with a full snapshot (level-triggered). A Map is
   * read by its values. When a prefix appears twice, the last one wins.
   */
  setDesired(routes: Iterable<RouteSpec> | ReadonlyMap<string, RouteSpec>): void {
    const gen = ++this.gen;
    const entries = this.entries;
    const parser = this.parser;
    this.invalid.clear();
    const desiredBefore = this.nDesired;
    let stillDesired = 0;
    const it: Iterable<RouteSpec> = routes instanceof Map ? (routes as ReadonlyMap<string, RouteSpec>).values() : (routes as Iterable<RouteSpec>);
    for (const spec of it) {
      const text = spec.prefix;
      // Fast path: entries are keyed by canonical text, so a hit on the text
      // as given is a hit on the prefix; only new or oddly written prefixes parse.
      let e = entries.get(text);
      if (e === undefined) {
        const p = parseRoutePrefix(text);
        if (!p.ok) {
          this.invalid.set(String(text), p.reason);
          continue;
        }
        e = p.value.key === text ? undefined : entries.get(p.value.key);
        if (e === undefined) {
          e = new Entry(p.value);
          entries.set(e.key, e);
        }
      }
      const a = parser.attrs(spec);
      if (!a.ok) {
        this.invalid.set(text, a.reason);
        continue; // not marked seen: if the peer had it, it is withdrawn below
      }
      if (e.gen !== gen) {
        e.gen = gen;
        if (e.spec !== null) stillDesired++;
      }
      if (e.spec !== a.value) {
        if (e.spec === null) this.nDesired++;
        e.spec = a.value;
        this.reexport(e);
      }
    }
    // Everything desired before was named again: nothing to take away.
    if (stillDesired === desiredBefore) return;
    for (const e of entries.values()) {
      if (e.gen === gen || e.spec === null) continue;
      e.spec = null;
      this.nDesired--;
      this.reexport(e);
      this.maybeForget(e);
    }
  }

  // ------------------------------------------------------------ session lifecycle

  /**
   * Answer a ROUTE-REFRESH (RFC 2918 §4): re-advertise everything desired,
   * followed by End-of-RIB. Withdrawals still queued at that moment are
   * dropped with the rest of the session state, so a refresh that races a
   * withdrawal may leave the peer with a stale route until the next change of
   * that prefix — acceptable for a message routers send by operator command.
   */
  refresh(): void {
    const ctx = this.ctx;
    const peer = this.peerCtx;
    if (ctx === null || peer === null) return;
    this.start(ctx, peer);
  }

  private peerCtx: PeerExportContext | null = null;

  /** Begin a session (on Established): everything desired becomes pending. */
  start(ctx: CodecContext, peer: PeerExportContext): void {
    if (this.ctx !== null) this.reset();
    this.ctx = ctx;
    this.peerCtx = peer;
    this.exporter = new Exporter({
      ...peer,
      extendedNextHopV4overV6: peer.extendedNextHopV4overV6 ?? ctx.extendedNextHop.has(IPV4_UNICAST),
    });
    this.maxLen = maxMessageLen(ctx);
    this.addPath4 = ctx.addPathSend.has(familyKey(Afi.IPv4, 1));
    this.addPath6 = ctx.addPathSend.has(familyKey(Afi.IPv6, 1));
    this.eorOwed = [...new Set(peer.families)].map((f) => {
      const [afi, safi] = f.split('/').map(Number) as [number, number];
      return { afi, safi };
    });
    this.counters.endOfRib = 0;
    for (const e of this.entries.values()) if (e.spec !== null) this.reexport(e);
  }

  /** End the session (on any transition out of Established): the peer has nothing now. */
  reset(): void {
    this.ctx = null;
    this.exporter = null;
    this.eorOwed = [];
    this.buckets.clear();
    this.withdraw4.head = this.withdraw4.tail = null;
    this.withdraw4.size = 0;
    this.withdraw6.head = this.withdraw6.tail = null;
    this.withdraw6.size = 0;
    this.pending = 0;
    this.rejected.clear();
    for (const [key, e] of this.entries) {
      e.sent = null;
      e.desired = null;
      e.rejected = null;
      e.queue = e.prev = e.next = null;
      if (e.spec === null) this.entries.delete(key);
    }
  }

  /** True between start() and reset(). */
  get started(): boolean {
    return this.ctx !== null;
  }

  // ------------------------------------------------------------ output

  /** True when a pull would produce bytes (pending prefixes or an owed End-of-RIB). */
  get wantsToSend(): boolean {
    return this.ctx !== null && (this.pending > 0 || this.eorOwed.length > 0);
  }

  /**
   * Produce the next UPDATE messages as one contiguous byte array, or null
   * when there is nothing to send. Stops at the first message boundary at or
   * past `budget` bytes (so at least one whole message when anything is
   * pending). What is returned counts as sent: hand it to the socket.
   */
  nextBytes(budget = DEFAULT_PULL_BYTES): Uint8Array | null {
    const w = this.fill(budget, null);
    return w === null ? null : w.view();
  }

  /** Like nextBytes, but one Uint8Array per UPDATE (views into one buffer). */
  nextUpdates(budget = DEFAULT_PULL_BYTES): Uint8Array[] {
    const starts: number[] = [];
    const w = this.fill(budget, starts);
    if (w === null) return [];
    const out: Uint8Array[] = [];
    for (let i = 0; i < starts.length; i++) out.push(w.buf.subarray(starts[i]!, starts[i + 1] ?? w.pos));
    return out;
  }

  private fill(budget: number, starts: number[] | null): Writer | null {
    const ctx = this.ctx;
    if (ctx === null || !this.wantsToSend) return null;
    const maxLen = this.maxLen;
    const w = new Writer(Math.max(budget, 1) + maxLen);
    const c = this.counters;
    // At least one message per pull, whatever the budget.
    while (w.pos === 0 || w.pos < budget) {
      const at = w.pos;
      let q: Queue | null = null;
      if (this.withdraw4.size > 0) q = this.withdraw4;
      else if (this.withdraw6.size > 0) q = this.withdraw6;
      if (q !== null) {
        const afi = q === this.withdraw4 ? Afi.IPv4 : Afi.IPv6;
        const n = writeWithdraw(w, afi, afi === Afi.IPv4 ? this.addPath4 : this.addPath6, maxLen, this.feed(q, null));
        c.prefixesWithdrawn += n;
      } else {
        const b = this.firstBucket();
        if (b !== null) {
          const set = b.set!;
          const block = this.blockOf(set);
          const n = writeAnnounce(w, set, block, set.afi === Afi.IPv4 ? this.addPath4 : this.addPath6, maxLen, this.feed(b, set));
          c.prefixesAnnounced += n;
        } else if (this.eorOwed.length > 0) {
          // RFC 4724 §4.1: "the speaker SHOULD send the End-of-RIB marker" for
          // each family once its initial update has been sent.
          for (const f of this.eorOwed) {
            starts?.push(w.pos);
            writeEndOfRib(w, f.afi, f.safi);
            c.updates++;
            c.endOfRib++;
          }
          this.eorOwed = [];
          break;
        } else break;
      }
      starts?.push(at);
      c.updates++;
    }
    c.bytes += w.pos;
    return w.pos > 0 ? w : null;
  }

  /** Return the oldest non-empty announce bucket, dropping empty ones on the way. */
  private firstBucket(): Queue | null {
    for (const [set, q] of this.buckets) {
      if (q.size > 0) return q;
      this.buckets.delete(set);
    }
    return null;
  }

  /**
   * A feed that dequeues the head of `q` while it fits, marking each entry sent
   * (with `set`, or as withdrawn when `set` is null).
   */
  private feed(q: Queue, set: AttrSet | null): NlriFeed {
    const addPath4 = this.addPath4;
    const addPath6 = this.addPath6;
    return (room) => {
      const e = q.head;
      if (e === null) return null;
      if (nlriBytes(e, e.afi === Afi.IPv4 ? addPath4 : addPath6) > room) return null;
      this.unlink(e);
      e.sent = set;
      if (set === null) this.maybeForget(e);
      return e;
    };
  }

  /** Return the cached attribute block of a set, encoding it on first use. */
  private blockOf(set: AttrSet): Uint8Array {
    if (set.encoded === null) {
      const w = new Writer(64);
      this.encodeAttributes(w, set.attrs, this.ctx!);
      set.encoded = w.finish();
    }
    return set.encoded;
  }

  // ------------------------------------------------------------ queries

  /** Prefixes pending (queued to announce or withdraw). */
  get pendingCount(): number {
    return this.pending;
  }

  /** Prefixes currently in the desired snapshot (valid ones). */
  get desiredCount(): number {
    return this.nDesired;
  }

  /** Counters since construction (endOfRib: in this session). */
  get stats(): Readonly<AdjRibOutStats> {
    return { ...this.counters };
  }

  /** Iterate what the peer has been sent: prefix and attribute set. */
  *advertised(): IterableIterator<AdvertisedRoute> {
    for (const e of this.entries.values()) if (e.sent !== null) yield { prefix: e.key, attrs: e.sent };
  }

  /** Look up what the peer was sent for a prefix (any spelling), if anything. */
  advertisedFor(prefix: string): AttrSet | null {
    const e = this.lookup(prefix);
    return e?.sent ?? null;
  }

  /** Number of prefixes the peer currently has from us. */
  get advertisedCount(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.sent !== null) n++;
    return n;
  }

  /** Routes of the latest snapshot that are not sent, with the reason (for `routes explain`). */
  unsendable(): UnsendableRoute[] {
    const out: UnsendableRoute[] = [];
    for (const [prefix, reason] of this.invalid) out.push({ prefix, reason });
    for (const e of this.rejected.values()) out.push({ prefix: e.key, reason: e.rejected! });
    return out;
  }

  /** Explain one prefix: desired?, sent?, pending?, why not sendable. */
  explain(prefix: string): { desired: boolean; sent: AttrSet | null; pending: boolean; reason: string | null } {
    const inv = this.invalid.get(prefix);
    const e = this.lookup(prefix);
    return {
      desired: e?.spec != null,
      sent: e?.sent ?? null,
      pending: e?.queue != null,
      reason: inv ?? e?.rejected ?? (e?.spec != null && this.ctx === null ? 'no established session' : null),
    };
  }

  private lookup(prefix: string): Entry | undefined {
    const e = this.entries.get(prefix);
    if (e !== undefined) return e;
    const p = parseRoutePrefix(prefix);
    return p.ok ? this.entries.get(p.value.key) : undefined;
  }

  // ------------------------------------------------------------ internals

  /** Recompute what this session should have for `e` and queue the difference. */
  private reexport(e: Entry): void {
    let desired: AttrSet | null = null;
    let reason: string | null = null;
    const ex = this.exporter;
    if (e.spec !== null && ex !== null) {
      const r = ex.export(e.spec, e.afi);
      if (r.ok) {
        desired = r.value;
        reason = this.checkFits(desired, e);
        if (reason !== null) desired = null;
      } else reason = r.reason;
    }
    if (reason !== e.rejected) {
      e.rejected = reason;
      if (reason === null) this.rejected.delete(e.key);
      else this.rejected.set(e.key, e);
    }
    e.desired = desired;
    this.requeue(e);
  }

  /** Refuse an attribute set too large to carry even one prefix in an UPDATE. */
  private checkFits(set: AttrSet, e: Entry): string | null {
    const need = announceOverhead(set, this.blockOf(set)) + nlriBytes(e, true);
    return need > this.maxLen ? `path attributes too large: an UPDATE would need ${need} octets, the limit is ${this.maxLen}` : null;
  }

  /** Put `e` in the queue matching desired vs sent (or in none). */
  private requeue(e: Entry): void {
    let target: Queue | null = null;
    if (e.desired !== e.sent) {
      if (e.desired !== null) {
        target = this.buckets.get(e.desired) ?? null;
        if (target === null) {
          target = new Queue(e.desired);
          this.buckets.set(e.desired, target);
        }
      } else target = e.afi === Afi.IPv4 ? this.withdraw4 : this.withdraw6;
    }
    if (e.queue === target) return;
    if (e.queue !== null) this.unlink(e);
    if (target !== null) {
      e.queue = target;
      e.prev = target.tail;
      e.next = null;
      if (target.tail !== null) target.tail.next = e;
      else target.head = e;
      target.tail = e;
      target.size++;
      this.pending++;
    }
  }

  private unlink(e: Entry): void {
    const q = e.queue!;
    if (e.prev !== null) e.prev.next = e.next;
    else q.head = e.next;
    if (e.next !== null) e.next.prev = e.prev;
    else q.tail = e.prev;
    e.queue = e.prev = e.next = null;
    q.size--;
    this.pending--;
  }

  /** Drop an entry nobody needs any more: not desired, not sent, not queued. */
  private maybeForget(e: Entry): void {
    if (e.spec === null && e.sent === null && e.queue === null) {
      this.entries.delete(e.key);
      if (e.rejected !== null) this.rejected.delete(e.key);
    }
  }
}

/** Format a RIB prefix's address (for logs). */
export function formatRoutePrefix(p: RoutePrefix): string {
  if (p.v6 !== null) return `${formatIPv6(p.v6)}/${p.len}`;
  const a = p.v4;
  return `${formatIPv4(Uint8Array.of(a >>> 24, (a >>> 16) & 0xff, (a >>> 8) & 0xff, a & 0xff))}/${p.len}`;
}

