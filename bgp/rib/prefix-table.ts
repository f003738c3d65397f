/**
 * A set of IP prefixes held in typed arrays: prefix text → small integer slot.
 *
 * The Adj-RIB-Out keys a million routes by prefix. A Map of canonical strings
 * costs a string, a Map entry and an object per route, and hashing a fresh
 * string on every snapshot; here a prefix is its address as four 32-bit words
 * plus a kind (length, and whether it is IPv6), stored column-wise, and found
 * through an open-addressing hash index (linear probing, tombstones for
 * deletion, used + dead buckets ≤ 1/2). Slots are reused through a free list
 * threaded through `w0`; the owner keeps its own per-slot columns and resizes
 * them when `capacity` grows.
 *
 *   slot  | kind (u16)          | w0[slot]
 *   ------+---------------------+------------------------------------------
 *   IPv4  | len (0..32)         | the address
 *   IPv6  | 256 + len (0..128)  | e: the address is v6[4e .. 4e+3]
 *   free  | 0xffff              | next free slot
 *
 * An IPv4 address is one word, kept in the slot; an IPv6 address is four,
 * kept in a dense side store `v6` that grows with the number of IPv6
 * prefixes only (its entries reused through their own free list). A table of
 * a million IPv4 routes costs 14 octets a route (kind, w0, two index
 * buckets), and holding a hundred thousand IPv6 routes beside them adds 16
 * octets for each of those, not 12 for every slot.
 *
 * A prefix reaches the table as a key in the scanner's encoding
 * (wire/prefix.ts `PrefixScanner`): `scan(text)` runs the one scanner, and
 * `load(words, at)` takes a key from a prefix list (rib/prefix-list.ts)
 * that src/ built at its edge, so text is parsed once and nowhere else.
 */
import { Afi } from '../wire/iana.js';
import { formatKey, KIND_V6, PrefixScanner } from '../wire/prefix.js';

/** The kind of a free slot. */
const FREE = 0xffff;
/** Index buckets: never used, and used once (a tombstone). */
const EMPTY = 0;
const DEAD = -1;
export { KIND_V6 };

const INITIAL = 1024;
/** End of the free list. */
const NIL = -1;

export class PrefixTable {
  /** Slots allocated (columns have this many rows). */
  capacity = 0;
  /** One past the highest slot ever used: iterate slots below it, skipping free ones. */
  top = 0;
  /** Slots in use. */
  size = 0;
  kind = new Uint16Array(0);
  /** IPv4: the address of a slot; IPv6: its entry in `v6`; a free slot: the next free one. */
  w0 = new Int32Array(0);
  /** IPv6 addresses, four words an entry (dense; entries reused through `v6Free`). */
  v6 = new Int32Array(0);
  /** Entries of `v6` in use or freed (the next new entry is this one). */
  private v6Top = 0;
  /** Freed `v6` entries: a stack linked through their first word. */
  private v6Free = NIL;
  /** Hash index: slot + 1, EMPTY, or DEAD (a removed entry; probing goes on past it). */
  private index = new Int32Array(0);
  private mask = 0;
  /** DEAD buckets in the index. */
  private dead = 0;
  /** Free slots: a stack linked through w0 (NIL-terminated). */
  private freeHead = NIL;

  // Result of the last scan(): the prefix in the same encoding as a slot.
  sk = 0;
  s0 = 0;
  s1 = 0;
  s2 = 0;
  s3 = 0;
  private readonly scanner = new PrefixScanner();

  constructor(capacity = INITIAL) {
    this.resize(Math.max(capacity, 16));
  }

  /** Make room for at least `n` slots without further growth. */
  reserve(n: number): void {
    if (n > this.capacity) this.resize(n);
  }

  /** True when `slot` holds a prefix. */
  used(slot: number): boolean {
    return this.kind[slot] !== FREE;
  }

  /** Return the slot of the scanned prefix, or -1. */
  find(): number {
    const kind = this.kind;
    const w0 = this.w0;
    const v6 = this.v6;
    const index = this.index;
    const mask = this.mask;
    const k = this.sk;
    const a0 = this.s0;
    const a1 = this.s1;
    const a2 = this.s2;
    const a3 = this.s3;
    for (let i = hash(k, a0, a1, a2, a3) & mask; ; i = (i + 1) & mask) {
      const v = index[i]!;
      if (v === EMPTY) return -1;
      if (v === DEAD) continue;
      const s = v - 1;
      if (kind[s] !== k) continue;
      if (k < KIND_V6) {
        if (w0[s] === a0) return s;
        continue;
      }
      const e = w0[s]! * 4;
      if (v6[e] === a0 && v6[e + 1] === a1 && v6[e + 2] === a2 && v6[e + 3] === a3) return s;
    }
  }

  /** Add the scanned prefix (which must not be present); returns its new slot. */
  insert(): number {
    if (this.size + 1 > this.capacity) this.resize(this.capacity * 2);
    let s = this.freeHead;
    if (s !== NIL) this.freeHead = this.w0[s]!;
    else s = this.top++;
    this.kind[s] = this.sk;
    if (this.sk < KIND_V6) this.w0[s] = this.s0;
    else {
      const e = this.v6Alloc();
      const v6 = this.v6;
      v6[e * 4] = this.s0;
      v6[e * 4 + 1] = this.s1;
      v6[e * 4 + 2] = this.s2;
      v6[e * 4 + 3] = this.s3;
      this.w0[s] = e;
    }
    this.place(s);
    this.size++;
    return s;
  }

  /** Remove a slot's prefix and free the slot. */
  remove(slot: number): void {
    const index = this.index;
    const mask = this.mask;
    let i = this.home(slot);
    while (index[i] !== slot + 1) i = (i + 1) & mask;
    index[i] = DEAD;
    this.dead++;
    if (this.kind[slot]! >= KIND_V6) this.v6Release(this.w0[slot]!);
    this.kind[slot] = FREE;
    this.w0[slot] = this.freeHead;
    this.freeHead = slot;
    // No rebuild here: a removal turns a used bucket into a dead one, so used +
    // dead stays ≤ 1/2 (place() keeps it there) and probes stay short. A
    // table emptied by a withdraw-all starts afresh at once.
    if (--this.size === 0) this.clear();
  }

  /** Forget every prefix. */
  clear(): void {
    this.kind.fill(FREE);
    this.index.fill(EMPTY);
    this.dead = 0;
    this.top = 0;
    this.size = 0;
    this.freeHead = NIL;
    this.v6Top = 0;
    this.v6Free = NIL;
  }

  /** Take a free `v6` entry, growing the store by doubling. */
  private v6Alloc(): number {
    const f = this.v6Free;
    if (f !== NIL) {
      this.v6Free = this.v6[f * 4]!;
      return f;
    }
    const e = this.v6Top++;
    if ((e + 1) * 4 > this.v6.length) {
      const grown = new Int32Array(Math.max(64, this.v6.length * 2));
      grown.set(this.v6);
      this.v6 = grown;
    }
    return e;
  }

  /** Give a `v6` entry back. */
  private v6Release(e: number): void {
    this.v6[e * 4] = this.v6Free;
    this.v6Free = e;
  }

  /** The address family of a slot. */
  afi(slot: number): Afi {
    return this.kind[slot]! >= KIND_V6 ? Afi.IPv6 : Afi.IPv4;
  }

  /** The prefix length of a slot. */
  len(slot: number): number {
    return this.kind[slot]! & 0xff;
  }

  /** Copy a slot's four address words into `out` (zeros past the first for IPv4). */
  wordsOf(slot: number, out: Int32Array): void {
    if (this.kind[slot]! < KIND_V6) {
      out[0] = this.w0[slot]!;
      out[1] = out[2] = out[3] = 0;
    } else {
      const e = this.w0[slot]! * 4;
      out[0] = this.v6[e]!;
      out[1] = this.v6[e + 1]!;
      out[2] = this.v6[e + 2]!;
      out[3] = this.v6[e + 3]!;
    }
  }

  /** Format a slot's prefix as canonical text ("198.51.100.0/24", RFC 5952 IPv6). */
  format(slot: number): string {
    const k = this.kind[slot]!;
    if (k < KIND_V6) return formatKey(k, this.w0[slot]!, 0, 0, 0);
    const e = this.w0[slot]! * 4;
    return formatKey(k, this.v6[e]!, this.v6[e + 1]!, this.v6[e + 2]!, this.v6[e + 3]!);
  }

  /**
   * Parse prefix text into the scratch fields; false when the text is not a
   * valid prefix with zero host bits (the same verdict as `parsePrefix`).
   */
  scan(text: string): boolean {
    const sc = this.scanner;
    if (!sc.scan(text)) return false;
    this.sk = sc.kind;
    this.s0 = sc.w0;
    this.s1 = sc.w1;
    this.s2 = sc.w2;
    this.s3 = sc.w3;
    return true;
  }

  /** Load the key at `at` of a prefix list's words into the scratch fields; returns the next record's index. */
  load(words: Int32Array, at: number): number {
    const k = words[at]!;
    this.sk = k;
    this.s0 = words[at + 1]!;
    if (k < KIND_V6) {
      this.s1 = this.s2 = this.s3 = 0;
      return at + 2;
    }
    this.s1 = words[at + 2]!;
    this.s2 = words[at + 3]!;
    this.s3 = words[at + 4]!;
    return at + 5;
  }

  // ------------------------------------------------------------ internals

  private home(slot: number): number {
    const k = this.kind[slot]!;
    if (k < KIND_V6) return hash(k, this.w0[slot]!, 0, 0, 0) & this.mask;
    const e = this.w0[slot]! * 4;
    const v6 = this.v6;
    return hash(k, v6[e]!, v6[e + 1]!, v6[e + 2]!, v6[e + 3]!) & this.mask;
  }

  /** Put a slot into the index, reusing the first dead bucket on its probe path. */
  private place(slot: number): void {
    const limit = this.index.length >> 1;
    if (this.size + 1 + this.dead > limit) {
      // Dropping dead buckets only pays when it frees many: with live entries
      // alone near the limit (a full table of power-of-two capacity has
      // used = 1/2 exactly) a same-size rebuild would free one or two buckets
      // and the next insert after a removal would rebuild again. Then double
      // the index, so the next rebuild is at least a quarter of it away.
      const grow = this.size + 1 > limit - (limit >> 2);
      // The rebuild indexes every used slot, this one included (insert() set its kind).
      this.rebuild(grow ? this.index.length * 2 : this.index.length);
      return;
    }
    const index = this.index;
    const mask = this.mask;
    let i = this.home(slot);
    while (index[i]! > 0) i = (i + 1) & mask;
    if (index[i] === DEAD) this.dead--;
    index[i] = slot + 1;
  }

  /** Rebuild the index with `buckets` buckets (dropping dead ones). */
  private rebuild(buckets: number): void {
    this.index = new Int32Array(buckets);
    this.mask = buckets - 1;
    this.dead = 0;
    const index = this.index;
    const mask = this.mask;
    const kind = this.kind;
    for (let s = 0; s < this.top; s++) {
      if (kind[s] === FREE) continue;
      let i = this.home(s);
      while (index[i] !== EMPTY) i = (i + 1) & mask;
      index[i] = s + 1;
    }
  }

  private resize(cap: number): void {
    // Only grows (reserve and insert ask for more than there is), so every used slot fits.
    const kind = new Uint16Array(cap).fill(FREE);
    kind.set(this.kind.subarray(0, this.top));
    const w0 = new Int32Array(cap);
    w0.set(this.w0.subarray(0, this.top));
    this.kind = kind;
    this.w0 = w0;
    this.capacity = cap;
    let buckets = 16;
    while (buckets < cap * 2) buckets *= 2;
    this.rebuild(buckets);
  }
}

/**
 * Hash a prefix to a bucket number (the caller masks it). The network number
 * (the address bits within the length) keeps its low 3 bits, and the rest
 * picks a pseudo-random run of 8 buckets: 8 consecutive networks share one
 * 32-byte run of the index and, inserted in order, neighbouring slots, so a
 * snapshot walked in address order stays in cache, while unrelated runs
 * still scatter (linear probing absorbs a run landing on another).
 */
function hash(k: number, a0: number, a1: number, a2: number, a3: number): number {
  const len = k & 0xff;
  let n: number;
  let hi = 0;
  if (k < KIND_V6 || len <= 32) n = len === 0 ? 0 : a0 >>> (32 - len);
  else if (len <= 64) {
    n = a1 >>> (64 - len);
    hi = a0;
  } else if (len <= 96) {
    n = a2 >>> (96 - len);
    hi = mix(a0, a1);
  } else {
    n = a3 >>> (128 - len);
    hi = mix(mix(a0, a1), a2);
  }
  let h = Math.imul(k, 0x9e3779b1) ^ (n >>> 3);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) ^ hi;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  return (h << 3) | (n & 7);
}

/** Combine two words into one (multiply-xorshift). */
function mix(a: number, b: number): number {
  const h = Math.imul(a ^ (a >>> 15), 0x2c1b3c6d) ^ b;
  return Math.imul(h ^ (h >>> 12), 0x297a2d39);
}
