/**
 * The reconciler: from route sources' snapshots to the groups each peer is
 * handed, doing work in proportion to what changed.
 *
 * Level-triggered (STYLE.md §9): a source hands over its whole snapshot —
 * a list of `SourceGroup`s, each one attribute set for a list of prefixes
 * (a PrefixList of binary keys, parsed once at the source's edge) under a
 * key that is stable across snapshots (a service's name, an LXD origin).
 * `setSnapshot` only records it; `reconcile()` then looks at the sources
 * that changed since the last run and, within them, at the groups whose
 * attributes or prefixes differ from last time (compared exactly, word by
 * word). A health check that keeps passing, or an LXD resync that finds
 * nothing new, hands nothing on.
 *
 * Each group is handed to the speaker as one output group (`GroupOp`, the
 * same id for its whole life), so the Adj-RIB-Out diffs only that group's
 * prefixes. Prefixes wanted by more than one group are the exception: an
 * index over every group's prefixes (a PrefixTable with a contributor count
 * per prefix) finds them, they leave their groups' output lists and go into
 * merged output groups, one per merged attribute set:
 *
 *   the least degraded intent wins (a healthy service beats one that stays
 *   announced as a backup path, rank 0 < rank 1); intents of the same rank
 *   merge their communities, large and extended communities (union) and
 *   take the lowest MED; next hop and prepend come from the first group in
 *   (source, key) order — fixed, so a restart merges the same way; the peer
 *   filter is the union (none if any has none).
 *
 * Peers: a group names the peers it is for (`peers`, null = every peer);
 * which address families a peer carries is the speaker's business (it keeps
 * a peer's RIB to its configured families). So the reconciler needs no peer
 * list, and adding a peer costs nothing here.
 */
import {
  PrefixListBuilder,
  PrefixTable,
  formatPrefixRecord,
  nextPrefixRecord,
  samePrefixList,
  type GroupOp,
  type PrefixList,
  type RouteAttrs,
} from '../../bgp/index.js';

/** One attribute set a source wants announced for a list of prefixes. */
export interface SourceGroup {
  /** Stable within the source: the same key in the next snapshot is the same group. */
  readonly key: string;
  /** Who wants it, e.g. "service:dns", "static", "lxd:default/c1/eth0:routes.external". */
  readonly source: string;
  /** 0 = normal; higher = announced only as a worse path (when_down: prepend). */
  readonly rank: number;
  readonly nextHop: string;
  readonly med?: number;
  readonly prepend?: number;
  readonly communities: readonly string[];
  readonly largeCommunities: readonly string[];
  readonly extendedCommunities: readonly string[];
  /** Restrict to these peer names; null = every peer. */
  readonly peers: readonly string[] | null;
  readonly prefixes: PrefixList;
}

/** One prefix a source wants, with its attributes (the flat form; see `groupIntents`). */
export interface Intent {
  prefix: string;
  source: string;
  rank: number;
  nextHop: string;
  med?: number;
  prepend?: number;
  communities: readonly string[];
  largeCommunities: readonly string[];
  extendedCommunities: readonly string[];
  peers: readonly string[] | null;
}

/** What the reconciler hands changed groups to (the session engine's `applyGroups`). */
export interface RouteSink {
  /** `moved`: the routes the groups held before these ops plus those they hold after (what memory they turn over). */
  applyGroups(ops: GroupOp[], moved: number): void;
}

/** A group as handed to the speaker (for the control API: `routes list`, explain). */
export interface OutputGroup {
  readonly id: number;
  readonly attrs: RouteAttrs;
  readonly prefixes: PrefixList;
  readonly peers: readonly string[] | null;
  /** Who wants these prefixes (one source, or for a merged group every contributor). */
  readonly sources: readonly string[];
  readonly rank: number;
  /** True for a group of prefixes several source groups want. */
  readonly merged: boolean;
}

/** A source group that wants one prefix (for `routes explain`). */
export interface Contribution {
  readonly source: string;
  readonly key: string;
  readonly rank: number;
  readonly attrs: RouteAttrs;
  readonly peers: readonly string[] | null;
}

/** Some groups of a source changed (`patchSnapshot`). */
interface Patch {
  readonly put: readonly SourceGroup[];
  readonly drop: readonly string[];
}

/** What a source handed since the last run: a whole snapshot, a removal (null), or a patch. */
type Pending = readonly SourceGroup[] | null | Patch;

const isSnapshot = (p: readonly SourceGroup[] | Patch): p is readonly SourceGroup[] => Array.isArray(p);

/** Merged output groups take ids from here up (source groups count from 1). */
const MERGED_BASE = 0x20000000;

/** A source group as the reconciler holds it. */
interface Sg {
  readonly id: number;
  group: SourceGroup;
  /** Exact text of the attributes and peer filter: equal text ⇔ equal output attributes. */
  attrsKey: string;
  attrs: RouteAttrs;
  /** Its prefixes other groups want too (they go to merged groups). */
  contested: number;
  /** What was handed for it last (null: nothing, or removed). */
  handed: { prefixes: PrefixList; attrsKey: string } | null;
}

/** A merged output group: the contested prefixes (index slots) that merge to one attribute set. */
interface Merged {
  readonly id: number;
  readonly key: string;
  readonly attrs: RouteAttrs;
  readonly peers: readonly string[] | null;
  readonly sources: readonly string[];
  readonly rank: number;
  readonly slots: Set<number>;
  handed: PrefixList | null;
}

/** Build the attrs and their exact key for a source group's fields. */
function attrsOf(g: {
  nextHop: string;
  med?: number | undefined;
  prepend?: number | undefined;
  communities: readonly string[];
  largeCommunities: readonly string[];
  extendedCommunities: readonly string[];
  peers: readonly string[] | null;
  rank: number;
}): { attrs: RouteAttrs; key: string } {
  const c = [...new Set(g.communities)].sort();
  const l = [...new Set(g.largeCommunities)].sort();
  const x = [...new Set(g.extendedCommunities)].sort();
  const attrs: RouteAttrs = {
    nextHop: g.nextHop,
    ...(g.med !== undefined ? { med: g.med } : {}),
    ...(g.prepend ? { prepend: g.prepend } : {}),
    ...(c.length ? { communities: c } : {}),
    ...(l.length ? { largeCommunities: l } : {}),
    ...(x.length ? { extendedCommunities: x } : {}),
  };
  const key = `${JSON.stringify(g.nextHop)} ${g.med ?? '-'} ${g.prepend || 0} ${JSON.stringify(c)} ${JSON.stringify(l)} ${JSON.stringify(x)} ${
    g.peers === null ? '*' : JSON.stringify(g.peers)
  } ${g.rank}`;
  return { attrs, key };
}

/** Holds every source's latest snapshot and hands the speaker what changed. */
export class Reconciler {
  private readonly sources = new Map<string, Map<string, Sg>>();
  /** Per source, what was handed since the last run, in order: a whole snapshot, a removal (null) or a patch. */
  private readonly dirty = new Map<string, Pending[]>();
  private readonly sgs = new Map<number, Sg>();
  private nextSgId = 1;
  private nextMergedId = MERGED_BASE;

  /** Every prefix any group wants: contributor count, and the contributor while there is one. */
  private readonly idx = new PrefixTable();
  private count = new Int32Array(0);
  private first = new Int32Array(0);
  /** Contributors (source group ids) of prefixes several groups want. */
  private readonly contested = new Map<number, number[]>();
  /** Contested prefixes' merged group, by index slot. */
  private readonly mergedOf = new Map<number, Merged>();
  private readonly merged = new Map<string, Merged>();
  /** Merged groups whose prefixes changed in the run under way. */
  private readonly dirtyMerged = new Set<Merged>();

  /** Reconcile runs, and runs that handed the speaker something. */
  runs = 0;
  changes = 0;
  lastDurationMs = 0;
  /** Group operations handed in the last run. */
  lastOps = 0;

  constructor(private readonly sink: RouteSink) {}

  /** Replace one source's whole snapshot (applied at the next reconcile). */
  setSnapshot(source: string, groups: readonly SourceGroup[]): void {
    this.dirty.set(source, [groups]);
  }

  /**
   * Change some groups of one source's snapshot (applied at the next
   * reconcile, after whatever else it was handed since the last run): `put`
   * replaces the groups with those keys (or adds them), `drop` removes keys.
   * The rest of the source's groups stay as they are: a source that knows
   * which of its groups changed (an LXD instance event) hands just those,
   * and the run costs their work alone, whatever the source's size.
   */
  patchSnapshot(source: string, put: readonly SourceGroup[], drop: readonly string[]): void {
    if (put.length === 0 && drop.length === 0) return;
    const q = this.dirty.get(source);
    if (q === undefined) this.dirty.set(source, [{ put, drop }]);
    else q.push({ put, drop });
  }

  /** Drop a source altogether (its routes are withdrawn at the next reconcile). */
  removeSource(source: string): void {
    this.dirty.set(source, [null]);
  }

  /** True when a snapshot waits to be reconciled. */
  get pending(): boolean {
    return this.dirty.size > 0;
  }

  /** Apply the snapshots set since the last run; returns the number of group operations handed on. */
  reconcile(): number {
    const t0 = performance.now();
    this.runs++;
    const affected = new Set<Sg>();
    const removed: Sg[] = [];
    const slotsChanged = new Set<number>();
    for (const [source, q] of this.dirty) {
      for (const p of q) {
        if (p === null || isSnapshot(p)) this.applySource(source, p, affected, removed, slotsChanged);
        else this.applyPatch(source, p, affected, removed, slotsChanged);
      }
    }
    this.dirty.clear();
    const dirtyMerged = this.remerge(slotsChanged);
    const ops: GroupOp[] = [];
    let moved = 0;
    for (const sg of removed) {
      if (sg.handed !== null) {
        ops.push({ id: sg.id, remove: true });
        moved += sg.handed.prefixes.count;
      }
      sg.handed = null;
    }
    for (const sg of affected) {
      if (!this.sgs.has(sg.id)) continue;
      const list = this.outputList(sg);
      const h = sg.handed;
      if (list.count === 0) {
        if (h !== null) {
          ops.push({ id: sg.id, remove: true });
          moved += h.prefixes.count;
        }
        sg.handed = null;
        continue;
      }
      if (h !== null && h.attrsKey === sg.attrsKey && samePrefixList(h.prefixes, list)) continue;
      ops.push({ id: sg.id, attrs: sg.attrs, prefixes: list, peers: sg.group.peers });
      moved += (h?.prefixes.count ?? 0) + list.count;
      sg.handed = { prefixes: list, attrsKey: sg.attrsKey };
    }
    for (const m of dirtyMerged) {
      const list = this.mergedList(m);
      if (list.count === 0) {
        if (m.handed !== null) {
          ops.push({ id: m.id, remove: true });
          moved += m.handed.count;
        }
        this.merged.delete(m.key);
        continue;
      }
      if (m.handed !== null && samePrefixList(m.handed, list)) continue;
      ops.push({ id: m.id, attrs: m.attrs, prefixes: list, peers: m.peers });
      moved += (m.handed?.count ?? 0) + list.count;
      m.handed = list;
    }
    if (ops.length > 0) {
      this.changes++;
      this.sink.applyGroups(ops, moved);
    }
    this.lastOps = ops.length;
    this.lastDurationMs = performance.now() - t0;
    return ops.length;
  }

  // ------------------------------------------------------------ queries

  /** Every group as handed to the speaker. */
  *outputGroups(): IterableIterator<OutputGroup> {
    for (const sg of this.sgs.values()) {
      if (sg.handed === null) continue;
      yield { id: sg.id, attrs: sg.attrs, prefixes: sg.handed.prefixes, peers: sg.group.peers, sources: [sg.group.source], rank: sg.group.rank, merged: false };
    }
    for (const m of this.merged.values()) {
      if (m.handed === null) continue;
      yield { id: m.id, attrs: m.attrs, prefixes: m.handed, peers: m.peers, sources: m.sources, rank: m.rank, merged: true };
    }
  }

  /** The output group that carries a prefix, or null when no source wants it. */
  outputFor(prefix: string): OutputGroup | null {
    const slot = this.idx.scan(prefix) ? this.idx.find() : -1;
    if (slot < 0) return null;
    const m = this.mergedOf.get(slot);
    if (m !== undefined) return { id: m.id, attrs: m.attrs, prefixes: m.handed ?? this.mergedList(m), peers: m.peers, sources: m.sources, rank: m.rank, merged: true };
    const sg = this.sgs.get(this.first[slot]!);
    if (sg === undefined) return null;
    return { id: sg.id, attrs: sg.attrs, prefixes: sg.handed?.prefixes ?? sg.group.prefixes, peers: sg.group.peers, sources: [sg.group.source], rank: sg.group.rank, merged: false };
  }

  /** The source groups that want a prefix (any spelling), oldest first. */
  contributions(prefix: string): Contribution[] {
    const slot = this.idx.scan(prefix) ? this.idx.find() : -1;
    if (slot < 0) return [];
    const ids = this.contested.get(slot) ?? [this.first[slot]!];
    return byName(ids.map((id) => this.sgs.get(id)!)).map((sg) => ({ source: sg.group.source, key: sg.group.key, rank: sg.group.rank, attrs: sg.attrs, peers: sg.group.peers }));
  }

  /** Prefixes wanted by at least one group. */
  get prefixCount(): number {
    return this.idx.size;
  }

  /** Source groups held. */
  get groupCount(): number {
    return this.sgs.size;
  }

  /** Every source group of a source (its latest reconciled snapshot). */
  groupsOf(source: string): SourceGroup[] {
    return [...(this.sources.get(source)?.values() ?? [])].map((sg) => sg.group);
  }

  // ------------------------------------------------------------ internals

  private applySource(source: string, groups: readonly SourceGroup[] | null, affected: Set<Sg>, removed: Sg[], slots: Set<number>): void {
    const before = this.sources.get(source) ?? new Map<string, Sg>();
    const after = new Map<string, Sg>();
    for (const g of groups ?? []) {
      const prev = before.get(g.key) ?? after.get(g.key);
      if (prev !== undefined && after.has(g.key)) {
        // The same key twice in one snapshot: one group, the first one's attributes, both lists.
        this.update(prev, { ...prev.group, prefixes: concat(prev.group.prefixes, g.prefixes) }, affected, slots);
        continue;
      }
      if (prev === undefined) {
        const a = attrsOf(g);
        const sg: Sg = { id: this.nextSgId++, group: { ...g, prefixes: { words: new Int32Array(0), count: 0 } }, attrsKey: a.key, attrs: a.attrs, contested: 0, handed: null };
        this.sgs.set(sg.id, sg);
        this.update(sg, g, affected, slots);
        after.set(g.key, sg);
        continue;
      }
      before.delete(g.key);
      after.set(g.key, prev);
      if (prev.group === g) continue;
      this.update(prev, g, affected, slots);
    }
    for (const sg of before.values()) {
      this.update(sg, { ...sg.group, prefixes: { words: new Int32Array(0), count: 0 } }, affected, slots);
      this.sgs.delete(sg.id);
      removed.push(sg);
    }
    if (groups === null || after.size === 0) this.sources.delete(source);
    else this.sources.set(source, after);
  }

  private applyPatch(source: string, p: Patch, affected: Set<Sg>, removed: Sg[], slots: Set<number>): void {
    let groups = this.sources.get(source);
    if (groups === undefined) this.sources.set(source, (groups = new Map()));
    for (const key of p.drop) {
      const sg = groups.get(key);
      if (sg === undefined) continue;
      this.update(sg, { ...sg.group, prefixes: { words: new Int32Array(0), count: 0 } }, affected, slots);
      this.sgs.delete(sg.id);
      groups.delete(key);
      removed.push(sg);
    }
    // Keys seen in this patch: the same key twice is one group with both lists, as in a whole snapshot.
    const seen = new Set<string>();
    for (const g of p.put) {
      const prev = groups.get(g.key);
      if (prev === undefined) {
        const a = attrsOf(g);
        const sg: Sg = { id: this.nextSgId++, group: { ...g, prefixes: { words: new Int32Array(0), count: 0 } }, attrsKey: a.key, attrs: a.attrs, contested: 0, handed: null };
        this.sgs.set(sg.id, sg);
        this.update(sg, g, affected, slots);
        groups.set(g.key, sg);
      } else if (seen.has(g.key)) {
        this.update(prev, { ...prev.group, prefixes: concat(prev.group.prefixes, g.prefixes) }, affected, slots);
      } else if (prev.group !== g) this.update(prev, g, affected, slots);
      seen.add(g.key);
    }
    if (groups.size === 0) this.sources.delete(source);
  }

  /** Move a source group to its new fields and prefixes, keeping the index and the contested set right. */
  private update(sg: Sg, g: SourceGroup, affected: Set<Sg>, slots: Set<number>): void {
    const old = sg.group;
    const sameAttrs =
      old.nextHop === g.nextHop &&
      old.med === g.med &&
      (old.prepend || 0) === (g.prepend || 0) &&
      old.rank === g.rank &&
      sameStrings(old.communities, g.communities) &&
      sameStrings(old.largeCommunities, g.largeCommunities) &&
      sameStrings(old.extendedCommunities, g.extendedCommunities) &&
      samePeers(old.peers, g.peers);
    const sameList = samePrefixList(old.prefixes, g.prefixes);
    if (!sameAttrs) {
      const a = attrsOf(g);
      sg.attrs = a.attrs;
      sg.attrsKey = a.key;
    }
    if (sameAttrs && sameList) {
      sg.group = g;
      return;
    }
    if (!sameList) {
      this.walk(old.prefixes, (slot) => this.release(slot, sg, affected, slots));
      sg.group = g;
      this.walkInsert(g.prefixes, (slot) => this.take(slot, sg, affected, slots));
    } else {
      sg.group = g;
      // Same prefixes, new attributes: its contested prefixes merge differently.
      if (sg.contested > 0) this.walk(g.prefixes, (slot) => void (this.count[slot]! >= 2 && slots.add(slot)));
    }
    affected.add(sg);
  }

  /** `sg` no longer wants the prefix at `slot`. */
  private release(slot: number, sg: Sg, affected: Set<Sg>, slots: Set<number>): void {
    const c = this.count[slot]!;
    if (c === 1) {
      if (this.first[slot] !== sg.id) return; // named twice in the old list: released already
      this.count[slot] = 0;
      // The slot may be reused for another prefix in this run: it leaves its merged group now.
      const m = this.mergedOf.get(slot);
      if (m !== undefined) {
        m.slots.delete(slot);
        this.mergedOf.delete(slot);
        this.dirtyMerged.add(m);
      }
      this.idx.remove(slot);
      return;
    }
    const list = this.contested.get(slot)!;
    const i = list.indexOf(sg.id);
    if (i < 0) return;
    list.splice(i, 1);
    sg.contested--;
    slots.add(slot);
    if (c === 2) {
      const rest = this.sgs.get(list[0]!)!;
      this.contested.delete(slot);
      this.first[slot] = rest.id;
      rest.contested--;
      affected.add(rest); // takes the prefix back into its own output list
    }
    this.count[slot] = c - 1;
  }

  /** `sg` wants the prefix at `slot` (0 = a fresh slot). */
  private take(slot: number, sg: Sg, affected: Set<Sg>, slots: Set<number>): void {
    const c = this.count[slot]!;
    if (c === 0) {
      this.count[slot] = 1;
      this.first[slot] = sg.id;
      return;
    }
    if (c === 1) {
      if (this.first[slot] === sg.id) return; // named twice in the list
      const other = this.sgs.get(this.first[slot]!)!;
      this.contested.set(slot, [other.id, sg.id]);
      other.contested++;
      sg.contested++;
      affected.add(other); // gives the prefix up to a merged group
    } else {
      const list = this.contested.get(slot)!;
      if (list.includes(sg.id)) return;
      list.push(sg.id);
      sg.contested++;
    }
    this.count[slot] = c + 1;
    slots.add(slot);
  }

  /** Re-merge the contested prefixes whose contributors changed; returns the merged groups that changed. */
  private remerge(slots: Set<number>): Set<Merged> {
    const dirty = new Set<Merged>(this.dirtyMerged);
    this.dirtyMerged.clear();
    for (const slot of slots) {
      const was = this.mergedOf.get(slot);
      const ids = this.count[slot]! >= 2 && this.idx.used(slot) ? this.contested.get(slot) : undefined;
      const now = ids === undefined ? undefined : this.mergedGroup(ids);
      if (was === now) continue;
      if (was !== undefined) {
        was.slots.delete(slot);
        dirty.add(was);
      }
      if (now !== undefined) {
        now.slots.add(slot);
        this.mergedOf.set(slot, now);
        dirty.add(now);
      } else this.mergedOf.delete(slot);
    }
    return dirty;
  }

  /** The merged group for a set of contributors (created on first use). */
  private mergedGroup(ids: readonly number[]): Merged {
    const sgs = byName(ids.map((id) => this.sgs.get(id)!));
    const best = Math.min(...sgs.map((s) => s.group.rank));
    const top = sgs.filter((s) => s.group.rank === best);
    const lead = top[0]!.group;
    let med: number | undefined;
    for (const s of top) if (s.group.med !== undefined && (med === undefined || s.group.med < med)) med = s.group.med;
    const peers = top.some((s) => s.group.peers === null) ? null : [...new Set(top.flatMap((s) => s.group.peers ?? []))];
    const a = attrsOf({
      nextHop: lead.nextHop,
      med,
      prepend: lead.prepend,
      communities: top.flatMap((s) => s.group.communities),
      largeCommunities: top.flatMap((s) => s.group.largeCommunities),
      extendedCommunities: top.flatMap((s) => s.group.extendedCommunities),
      peers,
      rank: best,
    });
    const sources = [...new Set(top.map((s) => s.group.source))];
    const key = `${a.key} ${JSON.stringify(sources)}`;
    let m = this.merged.get(key);
    if (m === undefined) {
      m = { id: this.nextMergedId++, key, attrs: a.attrs, peers, sources, rank: best, slots: new Set(), handed: null };
      this.merged.set(key, m);
    }
    return m;
  }

  /** A source group's output: its prefixes less the contested ones. */
  private outputList(sg: Sg): PrefixList {
    const list = sg.group.prefixes;
    if (sg.contested === 0) return list;
    const b = new PrefixListBuilder(list.count);
    const w = list.words;
    const t = this.idx;
    for (let at = 0; at < w.length; ) {
      const next = t.load(w, at);
      const slot = t.find();
      if (slot >= 0 && this.count[slot]! === 1) b.addFrom(w, at);
      at = next;
    }
    return b.finish();
  }

  /** A merged group's prefixes as a list (in index order, so equal sets give equal lists). */
  private mergedList(m: Merged): PrefixList {
    const b = new PrefixListBuilder(m.slots.size);
    const t = this.idx;
    const words = new Int32Array(4);
    for (const slot of [...m.slots].sort((x, y) => x - y)) {
      t.wordsOf(slot, words);
      b.addKey(t.kind[slot]!, words[0]!, words[1]!, words[2]!, words[3]!);
    }
    return b.finish();
  }

  /** Call `fn` with the index slot of each prefix of a list that is in the index. */
  private walk(list: PrefixList, fn: (slot: number) => void): void {
    const t = this.idx;
    const w = list.words;
    for (let at = 0; at < w.length; ) {
      at = t.load(w, at);
      const slot = t.find();
      if (slot >= 0) fn(slot);
    }
  }

  /** Call `fn` with the index slot of each prefix of a list, adding the ones not in the index yet. */
  private walkInsert(list: PrefixList, fn: (slot: number) => void): void {
    const t = this.idx;
    const w = list.words;
    // A big list grows the index once; small ones let insert() double it (growing by a few slots at a time would rebuild it each time).
    if (list.count > 1024 && list.count > t.capacity - t.size) {
      t.reserve(t.size + list.count);
      this.syncColumns();
    }
    for (let at = 0; at < w.length; ) {
      at = t.load(w, at);
      let slot = t.find();
      if (slot < 0) {
        slot = t.insert();
        if (t.capacity !== this.count.length) this.syncColumns();
        this.count[slot] = 0;
        this.first[slot] = 0;
      }
      fn(slot);
    }
  }

  private syncColumns(): void {
    const cap = this.idx.capacity;
    if (this.count.length === cap) return;
    const c = new Int32Array(cap);
    c.set(this.count.subarray(0, Math.min(cap, this.count.length)));
    const f = new Int32Array(cap);
    f.set(this.first.subarray(0, Math.min(cap, this.first.length)));
    this.count = c;
    this.first = f;
  }
}

/** Source groups in a fixed order (source, then key): the merge's "first" does not depend on history. */
function byName(sgs: Sg[]): Sg[] {
  return sgs.sort((x, y) => (x.group.source < y.group.source ? -1 : x.group.source > y.group.source ? 1 : x.group.key < y.group.key ? -1 : x.group.key > y.group.key ? 1 : 0));
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function samePeers(a: readonly string[] | null, b: readonly string[] | null): boolean {
  if (a === null || b === null) return a === b;
  return sameStrings(a, b);
}

/** Join two prefix lists. */
function concat(a: PrefixList, b: PrefixList): PrefixList {
  if (a.count === 0) return b;
  if (b.count === 0) return a;
  const words = new Int32Array(a.words.length + b.words.length);
  words.set(a.words);
  words.set(b.words, a.words.length);
  return { words, count: a.count + b.count };
}

/**
 * Group flat intents into source groups: one per source and attribute set,
 * keyed by both, prefixes in order. Invalid prefix text is left out and
 * returned with its reason.
 */
export function groupIntents(intents: readonly Intent[]): { groups: SourceGroup[]; rejected: { prefix: string; source: string; reason: string }[] } {
  const byKey = new Map<string, { base: Intent; b: PrefixListBuilder }>();
  const rejected: { prefix: string; source: string; reason: string }[] = [];
  let last: Intent | null = null;
  let lastEntry: { base: Intent; b: PrefixListBuilder } | null = null;
  for (const it of intents) {
    let e: { base: Intent; b: PrefixListBuilder } | null = lastEntry;
    if (last === null || !sameIntentFields(last, it)) {
      const k = `${it.source}\n${attrsOf(it).key}`;
      e = byKey.get(k) ?? null;
      if (e === null) {
        e = { base: it, b: new PrefixListBuilder() };
        byKey.set(k, e);
      }
      last = it;
      lastEntry = e;
    }
    if (!e!.b.add(it.prefix)) rejected.push({ prefix: it.prefix, source: it.source, reason: e!.b.rejected[e!.b.rejected.length - 1]?.reason ?? 'not a prefix' });
  }
  const groups: SourceGroup[] = [];
  for (const [key, { base, b }] of byKey) {
    groups.push({
      key,
      source: base.source,
      rank: base.rank,
      nextHop: base.nextHop,
      ...(base.med !== undefined ? { med: base.med } : {}),
      ...(base.prepend ? { prepend: base.prepend } : {}),
      communities: base.communities,
      largeCommunities: base.largeCommunities,
      extendedCommunities: base.extendedCommunities,
      peers: base.peers,
      prefixes: b.finish(),
    });
  }
  return { groups, rejected };
}

function sameIntentFields(a: Intent, b: Intent): boolean {
  return (
    a.source === b.source &&
    a.rank === b.rank &&
    a.nextHop === b.nextHop &&
    a.med === b.med &&
    (a.prepend || 0) === (b.prepend || 0) &&
    sameStrings(a.communities, b.communities) &&
    sameStrings(a.largeCommunities, b.largeCommunities) &&
    sameStrings(a.extendedCommunities, b.extendedCommunities) &&
    samePeers(a.peers, b.peers)
  );
}

/** Spell an output group's prefixes out (small lists: tests and display). */
export function groupPrefixes(list: PrefixList): string[] {
  const out: string[] = [];
  for (let at = 0; at < list.words.length; at = nextPrefixRecord(list.words, at)) out.push(formatPrefixRecord(list.words, at));
  return out;
}
