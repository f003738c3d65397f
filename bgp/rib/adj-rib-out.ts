/**
 * The Adj-RIB-Out of one peer: it owns the diff (STYLE.md §9; RFC 4271 §3.2,
 * §9.2; RFC 4724 §4.1 End-of-RIB; RFC 7606 §5.1; RFC 8654).
 *
 * src/ hands it full snapshots of what this peer should have (`setDesired`
 * with one RouteSpec per prefix, or `setDesiredGroups` with prefix lists that
 * share attributes; level-triggered, never deltas). Per prefix it keeps what
 * is desired and what the peer was last sent; a prefix whose two differ is
 * *pending* and sits in exactly one queue:
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
 * Storage (sized for a million routes per peer): a prefix is a slot of a
 * PrefixTable (prefix-table.ts: numbers in typed arrays, no key strings), and
 * its state is one row of typed-array columns — spec id, desired and sent
 * AttrSet ids, prev/next links in its queue, a flag byte — so a route costs
 * 35 octets (IPv4 table) or 47 (a table holding IPv6) and no JS objects. The
 * queue a slot is in is not stored: it follows from desired vs sent. Nothing
 * of the caller's snapshot (RouteSpec objects, prefix strings) is kept.
 * Attribute sets are small integer ids: spec ids are reference-counted and
 * recycled; AttrSet ids are the exporter's own.
 *
 * Session lifecycle: `start(ctx, peer)` on Established makes everything
 * desired pending; once the first full sync has drained, End-of-RIB is sent
 * once per negotiated family (RFC 4724 §4.1). `reset()` on session down
 * forgets what the peer had, keeping what is desired. `holdEndOfRib(true)`
 * keeps the End-of-RIB back while routes still flow, until the caller knows
 * its desired set is complete (after a graceful restart, when every service
 * has had its first health check: a peer keeping our stale routes flushes
 * the ones we did not re-announce at our End-of-RIB, RFC 4724 §4.2).
 *
 * Route refresh (RFC 2918 §4, RFC 7313 §4): `refresh(afi, safi)` queues
 * again every route of that one family the peer already has as desired (the
 * RESEND flag keeps such a slot in its bucket although desired equals sent);
 * what is queued already (changes, withdrawals) stays queued, so the peer
 * ends with exactly the desired set. The answer ends with End-of-RIB for the
 * family, or with Enhanced Route Refresh negotiated is framed by BoRR and
 * EoRR ROUTE-REFRESH messages written into the same byte stream.
 */
import { Afi, RefreshSubtype, Safi } from '../wire/iana.js';
import { maxMessageLen, familyKey, IPV4_UNICAST, type CodecContext, type FamilyKey } from '../wire/context.js';
import { encodeMessage } from '../wire/messages/index.js';
import { formatIPv4, formatIPv6 } from '../wire/prefix.js';
import { Writer } from '../wire/writer.js';
import { encodePathAttributes } from '../wire/attributes/index.js';
import { Exporter, type AttrSet, type PeerExportContext } from './export.js';
import { PrefixTable, KIND_V6 } from './prefix-table.js';
import { parseRoutePrefix, RouteParser, type Checked, type ParsedAttrs, type RouteGroup, type RoutePrefix, type RouteSpec } from './route.js';
import {
  announceOverhead,
  nlriBytes,
  writeAnnounce,
  writeEndOfRib,
  writeNlriWords,
  writeWithdraw,
  type AttributeEncoder,
  type NlriFeed,
} from './update-builder.js';

/** No attribute set / no queue / no neighbour in a queue. */
const NONE = 0;
const NIL = -1;
/**
 * Slot flags: named by the snapshot being taken; has a reason in `rejected`;
 * queued for re-advertisement by a route refresh although the peer has what
 * is desired (cleared when sent).
 */
const SEEN = 1;
const REJECTED = 2;
const RESEND = 4;
/** Queue ids: the two withdraw queues, then one bucket per AttrSet (id + BUCKET_BASE). */
const Q_WITHDRAW4 = 1;
const Q_WITHDRAW6 = 2;
const BUCKET_BASE = 2;

/** A FIFO of pending slots, linked through the RIB's prev/next columns. */
class Queue {
  head = NIL;
  tail = NIL;
  size = 0;
  /** The attribute set of a bucket; null for a withdraw queue. */
  constructor(readonly set: AttrSet | null) {}
}

/** Dequeues the head of one queue into an UPDATE while it fits, marking each slot sent. */
class QueueFeed implements NlriFeed {
  q: Queue = new Queue(null);
  /** AttrSet id the slots are sent with; NONE for withdrawals. */
  setId = NONE;
  addPath = false;
  private readonly words = new Int32Array(4);
  constructor(private readonly rib: AdjRibOut) {}

  next(w: Writer, room: number): number {
    const slot = this.q.head;
    if (slot === NIL) return 0;
    const t = this.rib.table;
    const k = t.kind[slot]!;
    const len = k & 0xff;
    if (nlriBytes(len, this.addPath) > room) return 0;
    let n: number;
    // An IPv4 prefix is its first word alone; an IPv6 one is gathered into scratch.
    if (k < KIND_V6) n = writeNlriWords(w, t.w0, slot, len, this.addPath);
    else {
      t.wordsOf(slot, this.words);
      n = writeNlriWords(w, this.words, 0, len, this.addPath);
    }
    this.rib.markSent(slot, this.setId);
    return n;
  }
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
  /** End-of-RIB markers sent in the current session (initial sync and route refreshes). */
  endOfRib: number;
  /** ROUTE-REFRESH requests taken (RFC 2918 §4), since construction. */
  refreshes: number;
  /** Re-advertisements completed: End-of-RIB or EoRR written for the requested family. */
  refreshesAnswered: number;
  /** RFC 7313 BoRR and EoRR messages sent. */
  borr: number;
  eorr: number;
}

/** An <AFI, SAFI> owed a marker. */
interface Family {
  afi: number;
  safi: number;
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

  /**
   * Every prefix that is desired, sent or queued has a slot in `table`; the
   * per-slot state lives in the typed-array columns below (one row per slot),
   * so a million routes are a few dozen bytes each and no objects at all.
   * @internal read by QueueFeed
   */
  readonly table = new PrefixTable();
  /** Spec id (into `specs`) of the latest snapshot; NONE = not desired. */
  private spec = new Int32Array(0);
  /**
   * AttrSet id this session should have; NONE = nothing (not desired or not
   * sendable). When it differs from `sent` the slot is queued, in the queue
   * `queueFor` names: the bucket of `desired`, or its family's withdraw queue.
   */
  private desired = new Int32Array(0);
  /** AttrSet id this session was sent; NONE = nothing. */
  private sent = new Int32Array(0);
  /** Neighbours in the slot's queue. */
  private prev = new Int32Array(0);
  private next = new Int32Array(0);
  /** SEEN | REJECTED bits. */
  private flags = new Uint8Array(0);

  /** Interned spec attributes, by small id (0 unused), with reference counts. */
  private readonly specs: (ParsedAttrs | undefined)[] = [undefined];
  private readonly specRefs: number[] = [0];
  private readonly specIds = new Map<ParsedAttrs, number>();
  private readonly freeSpecIds: number[] = [];

  /** Snapshot entries whose prefix or attributes did not validate: text → reason. */
  private readonly invalid = new Map<string, string>();
  /** Slots whose desired route this peer cannot be sent (export refused): slot → reason. */
  private readonly rejected = new Map<number, string>();
  /** Queues by id: [1] and [2] withdraw IPv4 / IPv6, then buckets. */
  private queues: (Queue | undefined)[] = [];
  /** Non-empty-or-recent buckets in creation order (the order they are sent in). */
  private readonly buckets = new Map<number, Queue>();
  private readonly feed = new QueueFeed(this);
  /** nDesired when the current snapshot began. */
  private desiredBefore = 0;
  private pending = 0;
  /** Slots with a spec (in the latest snapshot, valid). */
  private nDesired = 0;
  /** Slots the peer has (sent !== NONE). */
  private nSent = 0;

  private ctx: CodecContext | null = null;
  private peerCtx: PeerExportContext | null = null;
  private exporter: Exporter | null = null;
  /** This session's AttrSets by id, and the NLRI octets one UPDATE of each has room for. */
  private sets: (AttrSet | undefined)[] = [];
  private room: number[] = [];
  /** Export results by spec id × family (2·id + 0 for IPv4, + 1 for IPv6), this session. */
  private exported: (Checked<AttrSet> | undefined)[] = [];
  private maxLen = 4096;
  private addPath4 = false;
  private addPath6 = false;
  /** Families still owed an End-of-RIB in this session; sent when the queues first run dry. */
  private eorOwed: Family[] = [];
  /** While true, owed End-of-RIB markers wait (holdEndOfRib); kept across sessions. */
  private eorHeld = false;
  /** Families owed a BoRR (RFC 7313 §4), written before anything else at the next pull. */
  private borrOwed: Family[] = [];
  /** Families whose BoRR went out and that are owed an EoRR once the queues run dry. */
  private eorrOwed: Family[] = [];
  /** Families whose refresh answer (End-of-RIB or EoRR) went out since the last `takeAnswered()`. */
  private answered: FamilyKey[] = [];
  /** Families of End-of-RIB markers owed because of a refresh (not the initial sync). */
  private eorForRefresh = new Set<FamilyKey>();

  private readonly counters: AdjRibOutStats = {
    updates: 0,
    bytes: 0,
    prefixesAnnounced: 0,
    prefixesWithdrawn: 0,
    endOfRib: 0,
    refreshes: 0,
    refreshesAnswered: 0,
    borr: 0,
    eorr: 0,
  };

  constructor(opts: AdjRibOutOptions = {}) {
    this.encodeAttributes = opts.encodeAttributes ?? encodePathAttributes;
    this.parser = opts.parser ?? new RouteParser();
    this.resetQueues();
    this.syncColumns();
  }

  // ------------------------------------------------------------ snapshots

  /**
   * Replace the desired set with a full snapshot (level-triggered). A Map is
   * read by its values. When a prefix appears twice, the last valid one wins.
   */
  setDesired(routes: Iterable<RouteSpec> | ReadonlyMap<string, RouteSpec>): void {
    this.beginSnapshot();
    let stillDesired = 0;
    if (Array.isArray(routes)) {
      const list = routes as readonly RouteSpec[];
      this.reserve(list.length);
      for (let i = 0; i < list.length; i++) {
        const r = list[i]!;
        stillDesired += this.takePrefix(r.prefix, this.parser.attrs(r));
      }
    } else {
      const it: Iterable<RouteSpec> = routes instanceof Map ? (routes as ReadonlyMap<string, RouteSpec>).values() : (routes as Iterable<RouteSpec>);
      for (const r of it) stillDesired += this.takePrefix(r.prefix, this.parser.attrs(r));
    }
    this.sweep(stillDesired);
  }

  /**
   * Replace the desired set with a full snapshot given as groups of prefixes
   * sharing attribute fields: the same diff as `setDesired` with one RouteSpec
   * per prefix, but the attributes are validated once per group and the
   * caller needs no object per prefix. A prefix named twice (in one group or
   * in two) follows the `setDesired` rule: the last valid occurrence wins; an
   * occurrence in a group with invalid attributes is reported by
   * `unsendable()` and does not remove an earlier valid one.
   */
  setDesiredGroups(groups: readonly RouteGroup[]): void {
    this.beginSnapshot();
    let n = 0;
    for (const grp of groups) n += grp.prefixes.length;
    this.reserve(n);
    let stillDesired = 0;
    for (const grp of groups) {
      const a = this.parser.attrs(grp.attrs);
      const list = grp.prefixes;
      for (let i = 0; i < list.length; i++) stillDesired += this.takePrefix(list[i]!, a);
    }
    this.sweep(stillDesired);
  }

  /** Open a new snapshot: no slot is SEEN yet. */
  private beginSnapshot(): void {
    this.invalid.clear();
    this.desiredBefore = this.nDesired;
    const f = this.flags;
    for (let s = 0, top = this.table.top; s < top; s++) f[s]! &= ~SEEN;
  }

  /** Make room for a snapshot of `n` prefixes in one step rather than by doubling. */
  private reserve(n: number): void {
    this.table.reserve(Math.max(this.table.size, n));
    this.syncColumns();
  }

  /**
   * Close the snapshot: every prefix desired before but not named in it is no
   * longer desired. `stillDesired` counts the names that were desired before.
   */
  private sweep(stillDesired: number): void {
    // Everything desired before was named again: nothing to take away.
    if (stillDesired === this.desiredBefore) return;
    const t = this.table;
    const flags = this.flags;
    const spec = this.spec;
    for (let s = 0, top = t.top; s < top; s++) {
      if ((flags[s]! & SEEN) !== 0 || spec[s] === NONE || !t.used(s)) continue;
      this.setSpec(s, NONE);
      this.reexport(s);
      this.maybeForget(s);
    }
  }

  /** The spec and id of the previous `takePrefix`, for runs of routes sharing attributes. */
  private lastAttrs: ParsedAttrs | null = null;
  private lastSpecId = NONE;

  /**
   * Apply one prefix of the snapshot with its (interned) attributes; returns
   * 1 when the prefix was desired before this snapshot.
   */
  private takePrefix(text: string, a: Checked<ParsedAttrs>): number {
    const t = this.table;
    if (!t.scan(text)) {
      const p = parseRoutePrefix(text);
      this.invalid.set(String(text), p.ok ? `prefix ${String(text)} is not valid` : p.reason);
      return 0;
    }
    let slot = t.find();
    if (!a.ok) {
      this.invalid.set(text, a.reason);
      return 0; // not marked seen: if the peer had it, it is withdrawn by the sweep
    }
    const pa = a.value;
    let id = this.lastSpecId;
    if (pa !== this.lastAttrs) {
      id = this.specIdOf(pa);
      this.lastAttrs = pa;
      this.lastSpecId = id;
    }
    let was = 0;
    if (slot < 0) {
      slot = t.insert();
      if (t.capacity !== this.spec.length) this.syncColumns();
      this.clearSlot(slot);
    } else if ((this.flags[slot]! & SEEN) === 0 && this.spec[slot] !== NONE) was = 1;
    this.flags[slot]! |= SEEN;
    if (this.spec[slot] !== id) {
      this.setSpec(slot, id);
      this.reexport(slot);
    }
    return was;
  }

  /** Return the id of an interned ParsedAttrs, assigning one on first sight. */
  private specIdOf(pa: ParsedAttrs): number {
    let id = this.specIds.get(pa);
    if (id === undefined) {
      id = this.freeSpecIds.pop() ?? this.specs.length;
      this.specs[id] = pa;
      this.specRefs[id] = 0;
      this.exported[id * 2] = this.exported[id * 2 + 1] = undefined;
      this.specIds.set(pa, id);
    }
    return id;
  }

  /** Point a slot at another spec id, keeping counts and reference counts. */
  private setSpec(slot: number, id: number): void {
    const old = this.spec[slot]!;
    if (old !== NONE) {
      if (--this.specRefs[old]! === 0) {
        // Unused now: free the id so long-running churn does not grow the table.
        this.specIds.delete(this.specs[old]!);
        this.specs[old] = undefined;
        this.exported[old * 2] = this.exported[old * 2 + 1] = undefined;
        this.freeSpecIds.push(old);
        if (this.lastSpecId === old) {
          this.lastAttrs = null;
          this.lastSpecId = NONE;
        }
      }
      if (id === NONE) this.nDesired--;
    } else if (id !== NONE) this.nDesired++;
    if (id !== NONE) this.specRefs[id]!++;
    this.spec[slot] = id;
  }

  // ------------------------------------------------------------ session lifecycle

  /**
   * Answer a ROUTE-REFRESH for one <AFI, SAFI> (RFC 2918 §4: "the speaker
   * shall re-advertise to the peer the Adj-RIB-Out of the <AFI, SAFI>
   * carried in the message"). Every route of that family the peer has as
   * desired is queued again; pending changes and withdrawals keep their
   * place, so nothing queued is lost and the peer ends with exactly the
   * desired set. Other families are not touched. The answer ends with
   * End-of-RIB for the family, or, when `enhanced` (RFC 7313 negotiated),
   * starts with BoRR and ends with EoRR instead (RFC 7313 §4). Returns false
   * when there is no session or the family was not negotiated.
   */
  refresh(afi: number, safi: number, enhanced = false): boolean {
    const peer = this.peerCtx;
    if (this.ctx === null || peer === null) return false;
    const key = familyKey(afi, safi);
    if (![...peer.families].includes(key)) return false;
    this.counters.refreshes++;
    if (safi === Safi.Unicast && (afi === Afi.IPv4 || afi === Afi.IPv6)) this.queueAgain(afi === Afi.IPv6);
    const same = (f: Family): boolean => f.afi === afi && f.safi === safi;
    if (enhanced) {
      // RFC 7313 §4: "Before the speaker starts a route refresh that is either
      // initiated locally, or in response to a "normal route refresh request"
      // from the peer, the speaker MUST send a BoRR message." A request that
      // arrives while an answer is under way starts it over: a new BoRR (the
      // peer marks the family stale again) unless one is still unsent.
      if (!this.borrOwed.some(same)) this.borrOwed.push({ afi, safi });
      this.eorrOwed = this.eorrOwed.filter((f) => !same(f));
    } else {
      // An End-of-RIB still owed (the initial sync's) answers this request too.
      if (!this.eorOwed.some(same)) this.eorOwed.push({ afi, safi });
      this.eorForRefresh.add(key);
    }
    return true;
  }

  /**
   * Mark every slot of one family the peer has a route for RESEND, queueing
   * the ones that are in sync. A slot already queued is marked too: should a
   * later snapshot make its desired route equal what was sent before, it
   * stays queued and the peer, which may have marked the route stale at BoRR,
   * still hears it again.
   */
  private queueAgain(v6: boolean): void {
    const t = this.table;
    const kind = t.kind;
    const desired = this.desired;
    const sent = this.sent;
    const flags = this.flags;
    for (let s = 0, top = t.top; s < top; s++) {
      const was = sent[s]!;
      if (was === NONE || (flags[s]! & RESEND) !== 0 || !t.used(s)) continue;
      if (kind[s]! >= KIND_V6 !== v6) continue;
      flags[s]! |= RESEND;
      if (desired[s] === was) this.enqueue(s, was + BUCKET_BASE, was);
    }
  }

  /** Families whose refresh answer was completed since the last call (for the driver's events). */
  takeAnswered(): FamilyKey[] {
    const a = this.answered;
    if (a.length === 0) return a;
    this.answered = [];
    return a;
  }

  /** Begin a session (on Established): everything desired becomes pending. */
  start(ctx: CodecContext, peer: PeerExportContext): void {
    if (this.ctx !== null) this.reset();
    this.ctx = ctx;
    this.peerCtx = peer;
    this.exporter = new Exporter({
      ...peer,
      extendedNextHopV4overV6: peer.extendedNextHopV4overV6 ?? ctx.extendedNextHop.has(IPV4_UNICAST),
    });
    this.sets = [];
    this.room = [];
    this.exported = [];
    this.maxLen = maxMessageLen(ctx);
    this.addPath4 = ctx.addPathSend.has(familyKey(Afi.IPv4, 1));
    this.addPath6 = ctx.addPathSend.has(familyKey(Afi.IPv6, 1));
    this.eorOwed = [...new Set(peer.families)].map((f) => {
      const [afi, safi] = f.split('/').map(Number) as [number, number];
      return { afi, safi };
    });
    this.counters.endOfRib = 0;
    const t = this.table;
    const spec = this.spec;
    for (let s = 0, top = t.top; s < top; s++) if (spec[s] !== NONE && t.used(s)) this.reexport(s);
  }

  /** End the session (on any transition out of Established): the peer has nothing now. */
  reset(): void {
    this.ctx = null;
    this.peerCtx = null;
    this.exporter = null;
    this.sets = [];
    this.room = [];
    this.exported = [];
    this.eorOwed = [];
    this.borrOwed = [];
    this.eorrOwed = [];
    this.answered = [];
    this.eorForRefresh.clear();
    this.resetQueues();
    this.pending = 0;
    this.nSent = 0;
    this.rejected.clear();
    const t = this.table;
    for (let s = 0, top = t.top; s < top; s++) {
      if (!t.used(s)) continue;
      if (this.spec[s] === NONE) t.remove(s);
      else {
        const spec = this.spec[s]!;
        this.clearSlot(s);
        this.spec[s] = spec;
      }
    }
  }

  /** True between start() and reset(). */
  get started(): boolean {
    return this.ctx !== null;
  }

  // ------------------------------------------------------------ output

  /** True when a pull would produce bytes (pending prefixes, an owed End-of-RIB, BoRR or EoRR). */
  get wantsToSend(): boolean {
    return (
      this.ctx !== null &&
      (this.pending > 0 || (this.eorOwed.length > 0 && !this.eorHeld) || this.borrOwed.length > 0 || this.eorrOwed.length > 0)
    );
  }

  /**
   * Keep owed End-of-RIB markers back (true) or let them go (false). Routes
   * are sent either way; releasing makes `wantsToSend` true again when a
   * marker is owed, so the driver must pull.
   */
  holdEndOfRib(hold: boolean): void {
    this.eorHeld = hold;
  }

  /** True while End-of-RIB markers are held back. */
  get endOfRibHeld(): boolean {
    return this.eorHeld;
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
    const feed = this.feed;
    if (this.borrOwed.length > 0) {
      // BoRR goes before any route of the re-advertisement: everything queued
      // for the family now was queued by or before the request.
      for (const f of this.borrOwed) {
        starts?.push(w.pos);
        w.bytes(encodeMessage({ type: 'route-refresh', afi: f.afi, safi: f.safi, subtype: RefreshSubtype.BoRR }, ctx));
        c.borr++;
        this.eorrOwed.push(f);
      }
      this.borrOwed = [];
    }
    // At least one message per pull, whatever the budget.
    while (w.pos === 0 || w.pos < budget) {
      const at = w.pos;
      const w4 = this.queues[Q_WITHDRAW4]!;
      const w6 = this.queues[Q_WITHDRAW6]!;
      const q = w4.size > 0 ? w4 : w6.size > 0 ? w6 : null;
      if (q !== null) {
        const afi = q === w4 ? Afi.IPv4 : Afi.IPv6;
        feed.q = q;
        feed.setId = NONE;
        feed.addPath = afi === Afi.IPv4 ? this.addPath4 : this.addPath6;
        c.prefixesWithdrawn += writeWithdraw(w, afi, maxLen, feed);
      } else {
        const b = this.firstBucket();
        if (b !== null) {
          const set = b.set!;
          feed.q = b;
          feed.setId = set.id;
          feed.addPath = set.afi === Afi.IPv4 ? this.addPath4 : this.addPath6;
          c.prefixesAnnounced += writeAnnounce(w, set, this.blockOf(set), maxLen, feed);
        } else if ((this.eorOwed.length > 0 && !this.eorHeld) || this.eorrOwed.length > 0) {
          // RFC 4724 §4.1: "the speaker SHOULD send the End-of-RIB marker" for
          // each family once its initial update has been sent (and, here, once
          // a plain route refresh of the family has been answered).
          for (const f of this.eorHeld ? [] : this.eorOwed) {
            starts?.push(w.pos);
            writeEndOfRib(w, f.afi, f.safi);
            c.updates++;
            c.endOfRib++;
            const k = familyKey(f.afi, f.safi);
            if (this.eorForRefresh.delete(k)) this.refreshDone(k);
          }
          if (!this.eorHeld) this.eorOwed = [];
          // RFC 7313 §4: "After the speaker completes the re-advertisement of
          // the entire Adj-RIB-Out to the peer, it MUST send an EoRR message."
          for (const f of this.eorrOwed) {
            starts?.push(w.pos);
            w.bytes(encodeMessage({ type: 'route-refresh', afi: f.afi, safi: f.safi, subtype: RefreshSubtype.EoRR }, ctx));
            c.eorr++;
            this.refreshDone(familyKey(f.afi, f.safi));
          }
          this.eorrOwed = [];
          break;
        } else break;
      }
      starts?.push(at);
      c.updates++;
    }
    c.bytes += w.pos;
    return w.pos > 0 ? w : null;
  }

  private refreshDone(k: FamilyKey): void {
    this.counters.refreshesAnswered++;
    this.answered.push(k);
  }

  /**
   * Take a queued slot out of its queue as sent with `setId` (NONE: withdrawn).
   * @internal called by QueueFeed
   */
  markSent(slot: number, setId: number): void {
    this.unlink(slot, this.queueFor(slot, this.desired[slot]!));
    this.flags[slot]! &= ~RESEND;
    const was = this.sent[slot]!;
    this.sent[slot] = setId;
    if (was === NONE) {
      if (setId !== NONE) this.nSent++;
    } else if (setId === NONE) {
      this.nSent--;
      this.maybeForget(slot);
    }
  }

  /** Return the oldest non-empty announce bucket, dropping empty ones on the way. */
  private firstBucket(): Queue | null {
    for (const [id, q] of this.buckets) {
      if (q.size > 0) return q;
      this.buckets.delete(id);
      this.queues[id] = undefined;
    }
    return null;
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
    const t = this.table;
    for (let s = 0; s < t.top; s++) {
      const id = this.sent[s]!;
      if (id !== NONE && t.used(s)) yield { prefix: t.format(s), attrs: this.sets[id]! };
    }
  }

  /** Look up what the peer was sent for a prefix (any spelling), if anything. */
  advertisedFor(prefix: string): AttrSet | null {
    const s = this.lookup(prefix);
    return s < 0 ? null : (this.sets[this.sent[s]!] ?? null);
  }

  /** Number of prefixes the peer currently has from us. */
  get advertisedCount(): number {
    return this.nSent;
  }

  /** Routes of the latest snapshot that are not sent, with the reason (for `routes explain`). */
  unsendable(): UnsendableRoute[] {
    const out: UnsendableRoute[] = [];
    for (const [prefix, reason] of this.invalid) out.push({ prefix, reason });
    for (const [slot, reason] of this.rejected) out.push({ prefix: this.table.format(slot), reason });
    return out;
  }

  /** Explain one prefix: desired?, sent?, pending?, why not sendable. */
  explain(prefix: string): { desired: boolean; sent: AttrSet | null; pending: boolean; reason: string | null } {
    const inv = this.invalid.get(prefix);
    const s = this.lookup(prefix);
    const desired = s >= 0 && this.spec[s] !== NONE;
    return {
      desired,
      sent: s >= 0 ? (this.sets[this.sent[s]!] ?? null) : null,
      pending: s >= 0 && this.queueFor(s, this.desired[s]!) !== NONE,
      reason: inv ?? (s >= 0 ? this.rejected.get(s) : undefined) ?? (desired && this.ctx === null ? 'no established session' : null),
    };
  }

  /** Return the slot of a prefix (any spelling), or -1. */
  private lookup(prefix: string): number {
    return this.table.scan(prefix) ? this.table.find() : -1;
  }

  // ------------------------------------------------------------ internals

  /** Grow the per-slot columns to the table's capacity. */
  private syncColumns(): void {
    const cap = this.table.capacity;
    if (this.spec.length === cap) return;
    const grow32 = (a: Int32Array): Int32Array<ArrayBuffer> => {
      const b = new Int32Array(cap);
      b.set(a);
      return b;
    };
    this.spec = grow32(this.spec);
    this.desired = grow32(this.desired);
    this.sent = grow32(this.sent);
    this.prev = grow32(this.prev);
    this.next = grow32(this.next);
    const flags = new Uint8Array(cap);
    flags.set(this.flags);
    this.flags = flags;
  }

  /** Give a slot its empty state. */
  private clearSlot(s: number): void {
    this.spec[s] = NONE;
    this.desired[s] = NONE;
    this.sent[s] = NONE;
    this.prev[s] = NIL;
    this.next[s] = NIL;
    this.flags[s] = 0;
  }

  private resetQueues(): void {
    this.buckets.clear();
    this.queues = [undefined, new Queue(null), new Queue(null)];
  }

  /** Recompute what this session should have for slot `s` and queue the difference. */
  private reexport(s: number): void {
    let desired = NONE;
    let reason: string | null = null;
    const id = this.spec[s]!;
    const ex = this.exporter;
    if (id !== NONE && ex !== null) {
      const v6 = this.table.kind[s]! >= KIND_V6;
      const k = id * 2 + (v6 ? 1 : 0);
      let r = this.exported[k];
      if (r === undefined) {
        r = ex.export(this.specs[id]!, v6 ? Afi.IPv6 : Afi.IPv4);
        this.exported[k] = r;
      }
      if (r.ok) {
        const set = r.value;
        desired = set.id;
        let room = this.room[desired];
        if (room === undefined) {
          this.sets[desired] = set;
          room = this.maxLen - announceOverhead(set, this.blockOf(set));
          this.room[desired] = room;
        }
        // Refuse an attribute set too large to carry even this one prefix.
        const need = nlriBytes(this.table.len(s), true);
        if (need > room) {
          reason = `path attributes too large: an UPDATE would need ${this.maxLen - room + need} octets, the limit is ${this.maxLen}`;
          desired = NONE;
        }
      } else reason = r.reason;
    }
    if (reason !== null || (this.flags[s]! & REJECTED) !== 0) {
      if (reason === null) {
        this.flags[s]! &= ~REJECTED;
        this.rejected.delete(s);
      } else {
        this.flags[s]! |= REJECTED;
        this.rejected.set(s, reason);
      }
    }
    this.requeue(s, desired);
  }

  /**
   * The queue slot `s` belongs in when `d` is desired: NONE when the peer has
   * `d` already and no route refresh asked for it again.
   */
  private queueFor(s: number, d: number): number {
    if (d === this.sent[s] && (d === NONE || (this.flags[s]! & RESEND) === 0)) return NONE;
    return d !== NONE ? d + BUCKET_BASE : this.table.kind[s]! >= KIND_V6 ? Q_WITHDRAW6 : Q_WITHDRAW4;
  }

  /** Make `d` slot `s`'s desired AttrSet id, moving the slot to the matching queue (or out of all). */
  private requeue(s: number, d: number): void {
    const from = this.queueFor(s, this.desired[s]!);
    const target = this.queueFor(s, d);
    this.desired[s] = d;
    if (from === target) return;
    if (from !== NONE) this.unlink(s, from);
    if (target !== NONE) this.enqueue(s, target, d);
  }

  /** Append slot `s` (in no queue) to queue `target`, creating the bucket of AttrSet `d` if needed. */
  private enqueue(s: number, target: number, d: number): void {
    let q = this.queues[target];
    if (q === undefined) {
      q = new Queue(this.sets[d]!);
      this.queues[target] = q;
      this.buckets.set(target, q);
    }
    this.prev[s] = q.tail;
    this.next[s] = NIL;
    if (q.tail !== NIL) this.next[q.tail] = s;
    else q.head = s;
    q.tail = s;
    q.size++;
    this.pending++;
  }

  /** Take slot `s` out of queue `qid`, which it is in. */
  private unlink(s: number, qid: number): void {
    const q = this.queues[qid]!;
    const p = this.prev[s]!;
    const n = this.next[s]!;
    if (p !== NIL) this.next[p] = n;
    else q.head = n;
    if (n !== NIL) this.prev[n] = p;
    else q.tail = p;
    this.prev[s] = this.next[s] = NIL;
    q.size--;
    this.pending--;
  }

  /** Drop a slot nobody needs any more: not desired, not sent, not queued. */
  private maybeForget(s: number): void {
    if (this.spec[s] === NONE && this.sent[s] === NONE && this.desired[s] === NONE) {
      if ((this.flags[s]! & REJECTED) !== 0) this.rejected.delete(s);
      this.flags[s] = 0;
      this.table.remove(s);
    }
  }
}

/** Format a RIB prefix's address (for logs). */
export function formatRoutePrefix(p: RoutePrefix): string {
  if (p.v6 !== null) return `${formatIPv6(p.v6)}/${p.len}`;
  const a = p.v4;
  return `${formatIPv4(Uint8Array.of(a >>> 24, (a >>> 16) & 0xff, (a >>> 8) & 0xff, a & 0xff))}/${p.len}`;
}

