/**
 * The Adj-RIB-Out of one peer: it owns the diff (STYLE.md §9; RFC 4271 §3.2,
 * §9.2; RFC 4724 §4.1 End-of-RIB; RFC 7606 §5.1; RFC 8654).
 *
 * What this peer should have arrives as route groups: `setGroup(id, attrs,
 * prefixes)` makes group `id` exactly that list of prefixes (a PrefixList of
 * binary keys, prefix-list.ts) with those attributes, and `removeGroup(id)`
 * drops it — level-triggered per group, so the reconciler hands over only
 * the groups that changed and a million unchanged routes cost nothing. Each
 * prefix is owned by the group that named it last. The whole-snapshot calls
 * `setDesired` (one RouteSpec per prefix) and `setDesiredGroups` (prefix
 * texts by attribute set) are the same path: they build lists and set one
 * group each.
 *
 * Applying a group is a job walked a bounded number of prefixes at a time by
 * `work(maxRecords)` (the session engine yields between slices, decision
 * 0020): first every prefix of the new list is taken, then every prefix of
 * the list it replaces that the group still owns and did not name again is
 * released. Per prefix the RIB keeps what is desired and what the peer was
 * last sent; a prefix whose two differ is *pending* and sits in exactly one
 * queue:
 *
 *   withdraw queue per family      prefixes the peer has but should not
 *   one bucket per AttrSet          prefixes to announce with that attribute set
 *
 * A later change simply moves a prefix to another queue (or out of all of
 * them when desired and sent agree again), so a change supersedes a pending
 * one and an announce-then-withdraw before sending sends nothing at all.
 *
 * The driver pulls bytes with `nextBytes(budget)` while `socket.write()`
 * returns true and resumes on 'drain' (backpressure): each pull packs
 * withdrawals first, then one bucket after another into as few UPDATEs as the
 * negotiated maximum allows. Nothing bigger than the queues themselves is ever
 * materialised, and group changes may be applied between any two pulls.
 *
 * Storage (sized for a million routes per peer): a prefix is a slot of a
 * PrefixTable (prefix-table.ts: numbers in typed arrays, no key strings), and
 * its state is one row of typed-array columns — spec id (which group owns it,
 * and with what attributes), desired and sent AttrSet ids, prev/next links in
 * its queue, the stamp of the job that last named it, a flag byte — so a
 * route costs 39 octets (IPv4 table) or 51 (a table holding IPv6) and no JS
 * objects. The queue a slot is in is not stored: it follows from desired vs
 * sent. Each group has its own spec id (reference-counted, recycled), so a
 * group's prefixes are told apart from another group's with equal
 * attributes; the exporter interns equal attribute sets into one AttrSet, so
 * they still share one bucket and one encoded attribute block.
 *
 * Session lifecycle: `start(ctx, peer)` on Established makes everything
 * desired pending; once the first full sync has drained and no group change
 * is left to apply, End-of-RIB is sent once per negotiated family (RFC 4724
 * §4.1). `reset()` on session down forgets what the peer had, keeping what
 * is desired. `holdEndOfRib(true)` keeps the End-of-RIB back while routes
 * still flow, until the caller knows its desired set is complete (after a
 * graceful restart, when every service has had its first health check: a
 * peer keeping our stale routes flushes the ones we did not re-announce at
 * our End-of-RIB, RFC 4724 §4.2).
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
import { RouteParser, type Checked, type ParsedAttrs, type RouteAttrs, type RouteGroup, type RoutePrefix, type RouteSpec } from './route.js';
import { EMPTY_PREFIX_LIST, familyCounts, nextRecord, PrefixListBuilder, prefixTexts, type PrefixList } from './prefix-list.js';
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
 * Slot flags: has a reason in `rejected`; queued for re-advertisement by a
 * route refresh although the peer has what is desired (cleared when sent).
 */
const REJECTED = 2;
const RESEND = 4;
/** A sent id that names no attribute set: the peer has a route exported before a reexportAll(). */
const STALE = -2;
/** Group ids from here up are the whole-snapshot calls' (setDesired, setDesiredGroups). */
const SNAPSHOT_GROUP_BASE = 0x40000000;
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

/** A group change waiting to be applied. */
interface QueuedGroup {
  id: number;
  attrs: RouteAttrs | null;
  list: PrefixList;
  remove: boolean;
}

/** A group as applied: its spec id (NONE when its attributes are invalid), attributes and list. */
interface GroupRecord {
  specId: number;
  parsed: ParsedAttrs | null;
  list: PrefixList;
  /** Why the attributes are invalid; null when valid. */
  invalid: string | null;
}

/** A group change being applied: take the new list, then release what the old one had. */
interface GroupJob {
  id: number;
  /** Stamp of the prefixes the new list names. */
  gen: number;
  specId: number;
  list: PrefixList;
  old: GroupRecord | null;
  phase: 'take' | 'release' | 'done';
  /** Word index into the list being walked. */
  at: number;
}

/** How one prefix of a group stands with this peer (`groupStanding`). */
export const STANDING = {
  /** Sent as desired. */
  ANNOUNCED: 0,
  /** Queued, not written yet. */
  PENDING: 1,
  /** Refused for this peer (a reason goes with it). */
  NOT_SENDABLE: 2,
  /** Desired, but there is no session to send it on. */
  NO_SESSION: 3,
  /** Another group owns the prefix. */
  ELSEWHERE: 4,
  /** The peer does not carry the prefix's family. */
  FAMILY: 5,
} as const;

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
  /** REJECTED | RESEND bits. */
  private flags = new Uint8Array(0);
  /** The job generation that last named the slot (tells a list's prefixes apart from the replaced list's). */
  private stamp = new Int32Array(0);

  /** Interned spec attributes, by small id (0 unused), with reference counts. */
  private readonly specs: (ParsedAttrs | undefined)[] = [undefined];
  private readonly specRefs: number[] = [0];
  private readonly freeSpecIds: number[] = [];

  /** The caller's groups as applied (or being applied), by id. */
  private readonly groups = new Map<number, GroupRecord>();
  private readonly jobs: QueuedGroup[] = [];
  private job: GroupJob | null = null;
  private jobsRecords = 0;
  private gen = 0;
  /** The families whose prefixes are kept (setFamilies). */
  private keep4 = true;
  private keep6 = true;

  /** Prefix texts of the latest whole-snapshot call that did not scan: text → reason. */
  private readonly invalid = new Map<string, string>();
  /** Slots whose desired route this peer cannot be sent (export refused): slot → reason. */
  private readonly rejected = new Map<number, string>();
  /** Queues by id: [1] and [2] withdraw IPv4 / IPv6, then buckets. */
  private queues: (Queue | undefined)[] = [];
  /** Non-empty-or-recent buckets in creation order (the order they are sent in). */
  private readonly buckets = new Map<number, Queue>();
  private readonly feed = new QueueFeed(this);
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

  // ------------------------------------------------------------ route groups

  /**
   * Make group `id` this peer's set of `prefixes` with `attrs` (level-
   * triggered per group): prefixes of the group's previous list that are not
   * in this one stop being desired. Each prefix is owned by the group that
   * named it last; the caller (the reconciler) names every prefix in one
   * group only. The work is queued and done by `work()`, a bounded slice at
   * a time; `setDesired`/`setDesiredGroups` do it at once.
   */
  setGroup(id: number, attrs: RouteAttrs, prefixes: PrefixList): void {
    this.jobs.push({ id, attrs, list: prefixes, remove: false });
    this.jobsRecords += prefixes.count;
  }

  /**
   * Keep only these families' prefixes (the families the peer is configured
   * for; others are not stored). Re-set the groups after a change: taking a
   * list again adds a family's prefixes, and releases the ones now left out.
   */
  setFamilies(ipv4: boolean, ipv6: boolean): void {
    this.keep4 = ipv4;
    this.keep6 = ipv6;
  }

  /** Drop group `id`: its prefixes stop being desired (those another group took over stay). */
  removeGroup(id: number): void {
    const g = this.groups.get(id);
    this.jobs.push({ id, attrs: null, list: EMPTY_PREFIX_LIST, remove: true });
    this.jobsRecords += g?.list.count ?? 0;
  }

  /** True while queued group changes are not fully applied. */
  get working(): boolean {
    return this.jobs.length > 0 || this.job !== null;
  }

  /** Prefix records still to walk for queued group changes (a measure of the work left). */
  get workLeft(): number {
    return this.jobsRecords;
  }

  /**
   * Apply queued group changes, walking at most `maxRecords` prefix records
   * (Infinity: all). Returns true when work is left. Between two calls the
   * state is consistent prefix by prefix, and the driver may pull UPDATEs;
   * End-of-RIB waits until no work is left.
   */
  work(maxRecords = Infinity): boolean {
    let budget = maxRecords;
    while (budget > 0) {
      let j = this.job;
      if (j === null) {
        const next = this.jobs.shift();
        if (next === undefined) break;
        j = this.startJob(next);
        this.job = j;
      }
      const before = budget;
      budget = j.phase === 'take' ? this.take(j, budget) : this.release(j, budget);
      this.jobsRecords = Math.max(0, this.jobsRecords - (before - budget));
      if (j.phase === 'done') {
        this.finishJob(j);
        this.job = null;
      }
    }
    return this.working;
  }

  /**
   * Replace the whole desired set (level-triggered): one RouteSpec per
   * prefix. A Map is read by its values. When a prefix appears twice, the
   * last valid one wins. Applied at once.
   */
  setDesired(routes: Iterable<RouteSpec> | ReadonlyMap<string, RouteSpec>): void {
    const it: Iterable<RouteSpec> = routes instanceof Map ? (routes as ReadonlyMap<string, RouteSpec>).values() : (routes as Iterable<RouteSpec>);
    // Runs of routes with the same attribute fields become one group.
    const groups: { attrs: RouteAttrs; texts: string[] }[] = [];
    let cur: { attrs: RouteAttrs; texts: string[] } | null = null;
    let curAttrs: Checked<ParsedAttrs> | null = null;
    for (const r of it) {
      const a = this.parser.attrs(r);
      if (cur === null || a !== curAttrs) {
        cur = { attrs: r, texts: [] };
        curAttrs = a;
        groups.push(cur);
      }
      cur.texts.push(r.prefix);
    }
    this.setDesiredGroups(groups.map((g) => ({ attrs: g.attrs, prefixes: g.texts })));
  }

  /**
   * Replace the whole desired set with groups of prefix texts sharing
   * attribute fields (the same result as `setDesired` with one RouteSpec per
   * prefix). A prefix named twice follows the `setDesired` rule: the last
   * valid occurrence wins; an occurrence in a group with invalid attributes
   * is reported by `unsendable()` and does not remove an earlier valid one.
   * Applied at once.
   */
  setDesiredGroups(groups: readonly RouteGroup[]): void {
    this.invalid.clear();
    const n = groups.length;
    for (let i = 0; i < n; i++) {
      const g = groups[i]!;
      const b = new PrefixListBuilder(g.prefixes.length);
      for (let k = 0; k < g.prefixes.length; k++) b.add(g.prefixes[k]!);
      for (const r of b.rejected) this.invalid.set(r.text, r.reason);
      this.setGroup(SNAPSHOT_GROUP_BASE + i, g.attrs, b.finish());
    }
    for (const id of this.groups.keys()) if (id >= SNAPSHOT_GROUP_BASE + n) this.removeGroup(id);
    this.work();
  }

  /** Begin a queued group change: decide its spec id, remember the list it replaces. */
  private startJob(q: QueuedGroup): GroupJob {
    const old = this.groups.get(q.id) ?? null;
    let specId = NONE;
    let parsed: ParsedAttrs | null = null;
    let invalidReason: string | null = null;
    if (!q.remove) {
      const a = this.parser.attrs(q.attrs!);
      if (a.ok) {
        parsed = a.value;
        // Same attributes: keep the spec id (its export results stay valid).
        specId = old !== null && old.parsed === parsed && old.specId !== NONE ? old.specId : this.allocSpec(parsed);
      } else invalidReason = a.reason;
    }
    if (q.remove) this.groups.delete(q.id);
    else this.groups.set(q.id, { specId, parsed, list: q.list, invalid: invalidReason });
    // A big list grows the table once rather than by doubling (the list may
    // overlap what is there); only the families this peer keeps count.
    if (specId !== NONE && q.list.count > this.table.capacity - this.table.size) {
      let kept = q.list.count;
      if (!this.keep4 || !this.keep6) {
        const f = familyCounts(q.list);
        kept = (this.keep4 ? f.v4 : 0) + (this.keep6 ? f.v6 : 0);
      }
      if (kept > this.table.capacity - this.table.size) this.reserve(Math.max(this.table.size, kept));
    }
    this.gen = (this.gen + 1) | 0 || 1;
    return { id: q.id, gen: this.gen, specId, list: q.list, old, phase: specId === NONE ? 'release' : 'take', at: 0 };
  }

  /** Take phase: every prefix of the new list becomes owned by the group's spec. */
  private take(j: GroupJob, budget: number): number {
    const t = this.table;
    const w = j.list.words;
    let at = j.at;
    while (at < w.length && budget > 0) {
      at = t.load(w, at);
      budget--;
      if (!(t.sk < KIND_V6 ? this.keep4 : this.keep6)) continue;
      let slot = t.find();
      if (slot < 0) {
        slot = t.insert();
        if (t.capacity !== this.spec.length) this.syncColumns();
        this.clearSlot(slot);
      }
      this.stamp[slot] = j.gen;
      if (this.spec[slot] !== j.specId) {
        this.setSpec(slot, j.specId);
        this.reexport(slot);
      }
    }
    j.at = at;
    if (at >= w.length) {
      j.phase = 'release';
      j.at = 0;
    }
    return budget;
  }

  /** Release phase: prefixes of the replaced list that the group still owns and did not name again stop being desired. */
  private release(j: GroupJob, budget: number): number {
    const old = j.old;
    if (old === null || old.specId === NONE) {
      j.phase = 'done';
      return budget;
    }
    const t = this.table;
    const w = old.list.words;
    let at = j.at;
    while (at < w.length && budget > 0) {
      at = t.load(w, at);
      budget--;
      const slot = t.find();
      if (slot < 0 || this.spec[slot] !== old.specId || this.stamp[slot] === j.gen) continue;
      this.setSpec(slot, NONE);
      this.reexport(slot);
      this.maybeForget(slot);
    }
    j.at = at;
    if (at >= w.length) j.phase = 'done';
    return budget;
  }

  /** End a group change: free the old spec id when the group moved to a new one. */
  private finishJob(j: GroupJob): void {
    const old = j.old;
    if (old !== null && old.specId !== NONE && old.specId !== j.specId) this.freeSpec(old.specId);
  }

  /** Make room for `n` prefixes in one step rather than by doubling. */
  private reserve(n: number): void {
    this.table.reserve(n);
    this.syncColumns();
  }

  /** Give a parsed attribute set a fresh spec id (one per group: a group's slots are told apart by it). */
  private allocSpec(pa: ParsedAttrs): number {
    const id = this.freeSpecIds.pop() ?? this.specs.length;
    this.specs[id] = pa;
    this.specRefs[id] = 0;
    this.exported[id * 2] = this.exported[id * 2 + 1] = undefined;
    return id;
  }

  /** Free a spec id no slot uses any more (a group dropped or moved to other attributes). */
  private freeSpec(id: number): void {
    if (this.specRefs[id] !== 0) return; // still owned somewhere: keep it (cannot happen while groups name each prefix once)
    this.specs[id] = undefined;
    this.exported[id * 2] = this.exported[id * 2 + 1] = undefined;
    this.freeSpecIds.push(id);
  }

  /** Point a slot at another spec id, keeping counts and reference counts. */
  private setSpec(slot: number, id: number): void {
    const old = this.spec[slot]!;
    if (old !== NONE) {
      this.specRefs[old]!--;
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

  /**
   * Export everything again with new session facts (e.g. a changed
   * next-hop-self address) without a new session: every route the peer has
   * is queued again with its newly exported attributes, and routes no longer
   * exportable are withdrawn. The peer replaces each route implicitly
   * (RFC 4271 §3.1); nothing is withdrawn that stays announced.
   */
  reexportAll(peer: PeerExportContext): void {
    const ctx = this.ctx;
    if (ctx === null) {
      this.peerCtx = peer;
      return;
    }
    this.peerCtx = peer;
    this.exporter = new Exporter({ ...peer, extendedNextHopV4overV6: peer.extendedNextHopV4overV6 ?? ctx.extendedNextHop.has(IPV4_UNICAST) });
    this.sets = [];
    this.room = [];
    this.exported = [];
    // Sent ids belong to the old exporter: mark what the peer has as STALE, an
    // id no new set has, so every such route differs from its desired set.
    this.resetQueues();
    this.pending = 0;
    const t = this.table;
    for (let s = 0, top = t.top; s < top; s++) {
      if (!t.used(s)) continue;
      this.prev[s] = this.next[s] = NIL;
      this.flags[s]! &= ~RESEND;
      if (this.sent[s] !== NONE) this.sent[s] = STALE;
      // In sync for the moment (no queue); reexport() then queues the difference.
      this.desired[s] = this.sent[s]!;
    }
    for (let s = 0, top = t.top; s < top; s++) {
      if (!t.used(s)) continue;
      if (this.spec[s] !== NONE) this.reexport(s);
      else if (this.sent[s] === STALE) this.requeue(s, NONE);
    }
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
    if (this.ctx === null) return false;
    if (this.pending > 0 || this.borrOwed.length > 0) return true;
    // End-of-RIB and EoRR wait until queued group changes are applied (and End-of-RIB while held).
    return ((this.eorOwed.length > 0 && !this.eorHeld) || this.eorrOwed.length > 0) && !this.working;
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
        } else if (((this.eorOwed.length > 0 && !this.eorHeld) || this.eorrOwed.length > 0) && !this.working) {
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

  /** UPDATE messages pulled since construction (End-of-RIB included): the driver counts from this, not from the bytes. */
  get updatesPulled(): number {
    return this.counters.updates;
  }

  /** ROUTE-REFRESH messages (RFC 7313 BoRR and EoRR) pulled since construction. */
  get refreshMessagesPulled(): number {
    return this.counters.borr + this.counters.eorr;
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
    for (const g of this.groups.values()) if (g.invalid !== null) for (const prefix of prefixTexts(g.list)) out.push({ prefix, reason: g.invalid });
    for (const [slot, reason] of this.rejected) out.push({ prefix: this.table.format(slot), reason });
    return out;
  }

  /** Explain one prefix: desired?, sent?, pending?, why not sendable. */
  explain(prefix: string): { desired: boolean; sent: AttrSet | null; pending: boolean; reason: string | null } {
    const s = this.lookup(prefix);
    const inv = this.invalid.get(prefix) ?? (s < 0 || this.spec[s] === NONE ? this.invalidGroupReason(prefix) : undefined);
    const desired = s >= 0 && this.spec[s] !== NONE;
    return {
      desired,
      sent: s >= 0 ? (this.sets[this.sent[s]!] ?? null) : null,
      pending: s >= 0 && this.queueFor(s, this.desired[s]!) !== NONE,
      reason: inv ?? (s >= 0 ? this.rejected.get(s) : undefined) ?? (desired && this.ctx === null ? 'no established session' : null),
    };
  }

  /** The reason of an invalid-attribute group that names `prefix`, if any. */
  private invalidGroupReason(prefix: string): string | undefined {
    const b = new PrefixListBuilder(1);
    if (!b.add(prefix)) return undefined;
    const key = b.finish().words;
    for (const g of this.groups.values()) {
      if (g.invalid === null) continue;
      const w = g.list.words;
      for (let at = 0; at < w.length; at = nextRecord(w, at)) {
        if (w[at] !== key[0] || w[at + 1] !== key[1]) continue;
        if (key[0]! < KIND_V6 || (w[at + 2] === key[2] && w[at + 3] === key[3] && w[at + 4] === key[4])) return g.invalid;
      }
    }
    return undefined;
  }

  /**
   * How each prefix of a group's list stands, in list order (for `routes
   * list`): a STANDING code per prefix, and what was sent (an index into
   * `sets`, -1 for nothing). Reasons are given for not-sendable prefixes.
   */
  groupStanding(id: number): { codes: Uint8Array; sent: Int32Array; sets: AttrSet[]; reasons: [number, string][] } | null {
    // A change still queued (or being applied) is what the caller handed last: report its list, not yet owned prefixes as pending.
    let queued: QueuedGroup | null = null;
    for (let i = this.jobs.length - 1; i >= 0 && queued === null; i--) if (this.jobs[i]!.id === id) queued = this.jobs[i]!;
    const running = queued === null && this.job !== null && this.job.id === id && this.job.phase === 'take';
    if (queued?.remove) return null;
    const applied = this.groups.get(id);
    if (applied === undefined && queued === null) return null;
    const g: GroupRecord = queued !== null ? { specId: applied?.specId ?? NONE, parsed: null, list: queued.list, invalid: null } : applied!;
    const inFlight = queued !== null || running;
    const t = this.table;
    const w = g.list.words;
    const codes = new Uint8Array(g.list.count);
    const sent = new Int32Array(g.list.count).fill(-1);
    const sets: AttrSet[] = [];
    const setIndex = new Map<number, number>();
    const reasons: [number, string][] = [];
    for (let at = 0, i = 0; at < w.length; i++) {
      at = t.load(w, at);
      const slot = t.find();
      if (g.invalid !== null) {
        codes[i] = STANDING.NOT_SENDABLE;
        reasons.push([i, g.invalid]);
        continue;
      }
      const kept = t.sk < KIND_V6 ? this.keep4 : this.keep6;
      if (!kept) {
        codes[i] = STANDING.FAMILY;
        continue;
      }
      if (slot < 0 || this.spec[slot] !== g.specId) {
        codes[i] = inFlight ? STANDING.PENDING : STANDING.ELSEWHERE;
        continue;
      }
      const s = this.sent[slot]!;
      if (s !== NONE) {
        let k = setIndex.get(s);
        if (k === undefined) {
          k = sets.length;
          sets.push(this.sets[s]!);
          setIndex.set(s, k);
        }
        sent[i] = k;
      }
      const pending = inFlight || this.queueFor(slot, this.desired[slot]!) !== NONE;
      const why = this.rejected.get(slot);
      if (why !== undefined) {
        codes[i] = STANDING.NOT_SENDABLE;
        reasons.push([i, why]);
      } else if (this.ctx === null) codes[i] = STANDING.NO_SESSION;
      else codes[i] = pending ? STANDING.PENDING : STANDING.ANNOUNCED;
    }
    return { codes, sent, sets, reasons };
  }

  /** The group that owns a prefix in this RIB (any spelling), or null. */
  ownerOf(prefix: string): number | null {
    const s = this.lookup(prefix);
    if (s < 0 || this.spec[s] === NONE) return null;
    const spec = this.spec[s]!;
    for (const [id, g] of this.groups) if (g.specId === spec) return id;
    return null;
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
    this.stamp = grow32(this.stamp);
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
    this.stamp[s] = 0;
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

