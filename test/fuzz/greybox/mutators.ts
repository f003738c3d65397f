/**
 * Mutations for the greybox fuzzer: byte-level havoc (AFL's stacked bit
 * flips, interesting values, block insert/delete/clone, splicing) and
 * mutations that know BGP's layout, so that most mutants still get past the
 * header and the length fields and reach the decoders behind them:
 *
 *   message = marker(16) length(2) type(1) body
 *   UPDATE body = wlen(2) withdrawn  alen(2) attributes(TLV*)  NLRI
 *   attribute  = flags(1) type(1) len(1 or 2, flag 0x10) value
 *   OPEN body  = ver(1) as(2) hold(2) id(4) optlen(1) params(TLV*)
 *
 * A structural mutation splits the input into messages, takes one apart
 * into fields, changes one thing (an attribute's flags, type, length or
 * value; attributes deleted, repeated, reordered or taken from another
 * input; a huge AS_PATH; NLRI and MP_REACH/MP_UNREACH with odd families,
 * next-hop lengths and prefix lengths; OPEN capabilities) and puts it back
 * with the lengths recomputed, except when the mutation is about lengths.
 *
 * Inputs are `[flags octet][stream of messages]`; the flags octet belongs to
 * the target (codec context, import mode, chunking) and is mutated like any
 * other octet.
 */

/** Small fast PRNG (xorshift32); the fuzzer's only randomness, seeded. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  u32(): number {
    let x = this.s;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.s = x;
    return x;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return n <= 1 ? 0 : this.u32() % n;
  }
  chance(p: number): boolean {
    return this.u32() / 0x100000000 < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
}

const INTERESTING8 = [0, 1, 2, 3, 4, 7, 8, 15, 16, 17, 18, 19, 23, 24, 25, 31, 32, 33, 63, 64, 100, 127, 128, 129, 191, 192, 254, 255];
const INTERESTING16 = [0, 1, 2, 3, 4, 18, 19, 20, 23, 29, 37, 255, 256, 257, 4095, 4096, 4097, 0x7fff, 0x8000, 0xfffe, 0xffff];
/** Path attribute type codes worth trying: every known one, some unknown, some reserved. */
const ATTR_TYPES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 15, 16, 17, 18, 20, 22, 25, 26, 29, 32, 33, 35, 40, 128, 200, 255];
const AFIS = [0, 1, 2, 3, 25, 16388, 0xffff];
const SAFIS = [0, 1, 2, 4, 5, 64, 70, 71, 72, 128, 133, 255];
/** Capability codes: every known one and a few others. */
const CAP_CODES = [0, 1, 2, 3, 5, 6, 9, 64, 65, 67, 69, 70, 71, 72, 73, 128, 131, 255];

/** Where messages begin in a stream (walks the 2-octet length fields; the last may run past the end). */
export function splitMessages(b: Uint8Array, from: number): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  let p = from;
  while (p < b.length) {
    if (p + 19 > b.length) {
      out.push({ start: p, end: b.length });
      break;
    }
    let len = (b[p + 16]! << 8) | b[p + 17]!;
    if (len < 19) len = 19;
    const end = Math.min(b.length, p + len);
    out.push({ start: p, end });
    p = end;
  }
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function u16(n: number): Uint8Array {
  return Uint8Array.of((n >>> 8) & 0xff, n & 0xff);
}

/** Set a message's header length to its actual size (capped at 65535). */
function fixLength(m: Uint8Array): Uint8Array {
  if (m.length >= 18) {
    const n = Math.min(0xffff, m.length);
    m[16] = n >>> 8;
    m[17] = n & 0xff;
  }
  return m;
}

/** A message header (valid marker) around a body. */
export function frame(type: number, body: Uint8Array): Uint8Array {
  const m = new Uint8Array(19 + body.length);
  m.fill(0xff, 0, 16);
  m[18] = type;
  m.set(body, 19);
  return fixLength(m);
}

interface Attr {
  flags: number;
  type: number;
  value: Uint8Array;
}

interface UpdateParts {
  withdrawn: Uint8Array;
  attrs: Attr[];
  nlri: Uint8Array;
}

/** Take an UPDATE body apart; null when its lengths do not add up. */
function parseUpdate(body: Uint8Array): UpdateParts | null {
  if (body.length < 4) return null;
  const wlen = (body[0]! << 8) | body[1]!;
  if (2 + wlen + 2 > body.length) return null;
  const withdrawn = body.subarray(2, 2 + wlen);
  const alen = (body[2 + wlen]! << 8) | body[3 + wlen]!;
  const aStart = 4 + wlen;
  if (aStart + alen > body.length) return null;
  const attrs: Attr[] = [];
  let p = aStart;
  while (p < aStart + alen) {
    if (p + 3 > aStart + alen) return null;
    const flags = body[p]!;
    const type = body[p + 1]!;
    const ext = (flags & 0x10) !== 0;
    if (ext && p + 4 > aStart + alen) return null;
    const len = ext ? (body[p + 2]! << 8) | body[p + 3]! : body[p + 2]!;
    const v = p + (ext ? 4 : 3);
    if (v + len > aStart + alen) return null;
    attrs.push({ flags, type, value: body.subarray(v, v + len) });
    p = v + len;
  }
  return { withdrawn, attrs, nlri: body.subarray(aStart + alen) };
}

function encodeAttr(a: Attr): Uint8Array {
  const ext = a.value.length > 255 || (a.flags & 0x10) !== 0;
  const flags = ext ? a.flags | 0x10 : a.flags;
  return concat([Uint8Array.of(flags, a.type), ext ? u16(a.value.length) : Uint8Array.of(a.value.length), a.value]);
}

function encodeUpdate(u: UpdateParts): Uint8Array {
  const attrs = concat(u.attrs.map(encodeAttr));
  return concat([u16(u.withdrawn.length), u.withdrawn, u16(attrs.length), attrs, u.nlri]);
}

/** Things harvested from the seeds, to splice into other inputs. */
export class Dictionary {
  readonly attrs: Attr[] = [];
  readonly caps: Uint8Array[] = [];
  readonly messages: Uint8Array[] = [];
  private readonly seen = new Set<string>();

  /** Harvest attributes, capabilities and whole messages from one input's stream (from offset `from`). */
  add(input: Uint8Array, from: number): void {
    for (const { start, end } of splitMessages(input, from)) {
      const m = input.subarray(start, end);
      if (m.length < 19) continue;
      const key = `m${m.length}:${m[18]}`;
      if (this.messages.length < 400 && !this.seen.has(key)) {
        this.seen.add(key);
        this.messages.push(m.slice());
      }
      if (m[18] === 2) {
        const u = parseUpdate(m.subarray(19));
        for (const a of u?.attrs ?? []) {
          const k = `a${a.type}:${a.flags}:${a.value.length}`;
          if (this.attrs.length < 2000 && !this.seen.has(k)) {
            this.seen.add(k);
            this.attrs.push({ flags: a.flags, type: a.type, value: a.value.slice() });
          }
        }
      } else if (m[18] === 1 && m.length >= 29) {
        for (const c of openCaps(m.subarray(19))) {
          const k = `c${c[0]}:${c.length}`;
          if (this.caps.length < 300 && !this.seen.has(k)) {
            this.seen.add(k);
            this.caps.push(c.slice());
          }
        }
      }
    }
  }
}

/** The capability TLVs of an OPEN body (type-2 optional parameters, RFC 5492). */
function openCaps(body: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  if (body.length < 10) return out;
  const optLen = body[9]!;
  let p = 10;
  const end = Math.min(body.length, 10 + optLen);
  while (p + 2 <= end) {
    const t = body[p]!;
    const l = body[p + 1]!;
    if (p + 2 + l > end) break;
    if (t === 2) {
      let q = p + 2;
      while (q + 2 <= p + 2 + l) {
        const cl = body[q + 1]!;
        if (q + 2 + cl > p + 2 + l) break;
        out.push(body.subarray(q, q + 2 + cl));
        q += 2 + cl;
      }
    }
    p += 2 + l;
  }
  return out;
}

/** Random prefix NLRI (length octet + address octets), sometimes with a path id. */
function randomNlri(r: Rng, v6: boolean, pathId: boolean): Uint8Array {
  const max = v6 ? 128 : 32;
  const len = r.chance(0.1) ? r.pick([max + 1, 255, 0]) : r.int(max + 1);
  const octets = Math.min(Math.ceil(len / 8), v6 ? 16 : 4);
  const parts = [Uint8Array.of(len), r.bytes(r.chance(0.05) ? Math.max(0, octets - 1) : octets)];
  if (pathId) parts.unshift(r.bytes(4));
  return concat(parts);
}

function asPathValue(r: Rng, as4: boolean): Uint8Array {
  const segs: Uint8Array[] = [];
  const nsegs = r.chance(0.3) ? r.int(40) + 1 : r.int(3) + 1;
  for (let s = 0; s < nsegs; s++) {
    const n = r.chance(0.2) ? 255 : r.int(12);
    const type = r.chance(0.9) ? 2 : r.pick([0, 1, 3, 4, 5]);
    const seg = new Uint8Array(2 + n * (as4 ? 4 : 2));
    seg[0] = type;
    seg[1] = n;
    const asn = r.u32();
    for (let i = 0; i < n; i++) {
      if (as4) {
        seg[2 + i * 4] = asn >>> 24;
        seg[3 + i * 4] = (asn >>> 16) & 0xff;
        seg[4 + i * 4] = (asn >>> 8) & 0xff;
        seg[5 + i * 4] = (asn + i) & 0xff;
      } else {
        seg[2 + i * 2] = (asn >>> 8) & 0xff;
        seg[3 + i * 2] = (asn + i) & 0xff;
      }
    }
    segs.push(seg);
  }
  return concat(segs);
}

function mpReachValue(r: Rng): Uint8Array {
  const afi = r.chance(0.7) ? r.pick([1, 2]) : r.pick(AFIS);
  const safi = r.chance(0.7) ? 1 : r.pick(SAFIS);
  const nhLen = r.chance(0.8) ? r.pick([4, 16, 32, 12, 24, 48]) : r.int(40);
  const v6 = afi === 2;
  const nlri: Uint8Array[] = [];
  const n = r.int(6);
  for (let i = 0; i < n; i++) nlri.push(randomNlri(r, v6, r.chance(0.1)));
  return concat([u16(afi), Uint8Array.of(safi, nhLen), r.bytes(nhLen), Uint8Array.of(r.chance(0.9) ? 0 : r.int(256)), ...nlri]);
}

function mpUnreachValue(r: Rng): Uint8Array {
  const afi = r.chance(0.7) ? r.pick([1, 2]) : r.pick(AFIS);
  const safi = r.chance(0.7) ? 1 : r.pick(SAFIS);
  const nlri: Uint8Array[] = [];
  const n = r.int(6);
  for (let i = 0; i < n; i++) nlri.push(randomNlri(r, afi === 2, r.chance(0.1)));
  return concat([u16(afi), Uint8Array.of(safi), ...nlri]);
}

/** One structural change to an UPDATE's parts; returns false to fall back to havoc. */
function mutateUpdate(r: Rng, u: UpdateParts, dict: Dictionary): void {
  const a = u.attrs;
  switch (r.int(14)) {
    case 0: // flags
      if (a.length) r.pick(a).flags ^= r.pick([0x80, 0x40, 0x20, 0x10, 0x08, 0x01]);
      return;
    case 1: // type
      if (a.length) r.pick(a).type = r.pick(ATTR_TYPES);
      return;
    case 2: {
      // value havoc, lengths kept right
      if (!a.length) return;
      const x = r.pick(a);
      x.value = havoc(r, x.value, 1 + r.int(3), null);
      return;
    }
    case 3: // delete
      if (a.length) a.splice(r.int(a.length), 1);
      return;
    case 4: // repeat
      if (a.length) a.splice(r.int(a.length + 1), 0, { ...r.pick(a) });
      return;
    case 5: // reorder
      if (a.length > 1) {
        const i = r.int(a.length);
        const j = r.int(a.length);
        [a[i], a[j]] = [a[j]!, a[i]!];
      }
      return;
    case 6: // from the dictionary
      if (dict.attrs.length) {
        const d = r.pick(dict.attrs);
        a.splice(r.int(a.length + 1), 0, { flags: d.flags, type: d.type, value: d.value.slice() });
      }
      return;
    case 7: {
      // AS_PATH, sometimes huge, in either width
      const v = asPathValue(r, r.chance(0.5));
      const i = a.findIndex((x) => x.type === 2 || x.type === 17);
      if (i >= 0 && r.chance(0.7)) a[i]!.value = v;
      else a.push({ flags: 0x40, type: r.chance(0.8) ? 2 : 17, value: v });
      return;
    }
    case 8: {
      // MP_REACH_NLRI
      const v = mpReachValue(r);
      const i = a.findIndex((x) => x.type === 14);
      if (i >= 0 && r.chance(0.5)) a[i]!.value = v;
      else a.splice(r.int(a.length + 1), 0, { flags: 0x80, type: 14, value: v });
      return;
    }
    case 9: {
      const v = mpUnreachValue(r);
      const i = a.findIndex((x) => x.type === 15);
      if (i >= 0 && r.chance(0.5)) a[i]!.value = v;
      else a.splice(r.int(a.length + 1), 0, { flags: 0x80, type: 15, value: v });
      return;
    }
    case 10: {
      // more NLRI
      const n = 1 + r.int(r.chance(0.2) ? 200 : 8);
      const parts = [u.nlri];
      const pid = r.chance(0.1);
      for (let i = 0; i < n; i++) parts.push(randomNlri(r, false, pid));
      u.nlri = concat(parts);
      return;
    }
    case 11: {
      const n = 1 + r.int(8);
      const parts = [u.withdrawn];
      for (let i = 0; i < n; i++) parts.push(randomNlri(r, false, r.chance(0.1)));
      u.withdrawn = concat(parts);
      return;
    }
    case 12: // NLRI or withdrawn havoc
      if (r.chance(0.5)) u.nlri = havoc(r, u.nlri, 1 + r.int(3), null);
      else u.withdrawn = havoc(r, u.withdrawn, 1 + r.int(3), null);
      return;
    default: {
      // a value length that lies (the encoder follows value.length, so pad or cut)
      if (!a.length) return;
      const x = r.pick(a);
      x.value = r.chance(0.5) ? x.value.subarray(0, Math.max(0, x.value.length - 1 - r.int(4))) : concat([x.value, r.bytes(1 + r.int(4))]);
      return;
    }
  }
}

function mutateOpen(r: Rng, body: Uint8Array, dict: Dictionary): Uint8Array {
  if (body.length < 10) return havoc(r, body, 2, null);
  const head = body.slice(0, 9);
  const caps: Uint8Array[] = openCaps(body).map((c) => c.slice());
  switch (r.int(7)) {
    case 0:
      head[r.int(9)] = r.pick(INTERESTING8);
      break;
    case 1:
      if (caps.length) caps.splice(r.int(caps.length), 1);
      break;
    case 2:
      if (dict.caps.length) caps.splice(r.int(caps.length + 1), 0, r.pick(dict.caps).slice());
      break;
    case 3:
      if (caps.length) {
        const i = r.int(caps.length);
        const c = caps[i]!;
        c[0] = r.pick(CAP_CODES);
      }
      break;
    case 4:
      if (caps.length) {
        const i = r.int(caps.length);
        const c = caps[i]!;
        const v = havoc(r, c.subarray(2), 1 + r.int(3), null);
        caps[i] = concat([Uint8Array.of(c[0]!, Math.min(255, v.length)), v.subarray(0, 255)]);
      }
      break;
    case 5: {
      // a multiprotocol capability for an odd family
      const afi = r.pick(AFIS);
      caps.push(concat([Uint8Array.of(1, 4), u16(afi), Uint8Array.of(0, r.pick(SAFIS))]));
      break;
    }
    default:
      return havoc(r, body, 1 + r.int(4), null);
  }
  // One capabilities parameter, or one per capability (both are legal, RFC 5492 §4).
  const params: Uint8Array[] = [];
  if (r.chance(0.5)) {
    const all = concat(caps);
    if (all.length <= 253) params.push(concat([Uint8Array.of(2, all.length), all]));
    else for (const c of caps) params.push(concat([Uint8Array.of(2, c.length), c]));
  } else for (const c of caps) params.push(concat([Uint8Array.of(2, c.length), c]));
  const opt = concat(params);
  return concat([head, Uint8Array.of(Math.min(255, opt.length)), opt]);
}

/** Stacked byte-level mutations (AFL havoc); `other` is a splice partner. */
export function havoc(r: Rng, src: Uint8Array, rounds: number, other: Uint8Array | null): Uint8Array {
  let b: Uint8Array = src.slice();
  for (let k = 0; k < rounds; k++) {
    const n = b.length;
    switch (r.int(11)) {
      case 0:
        if (n) b[r.int(n)]! ^= 1 << r.int(8);
        break;
      case 1:
        if (n) b[r.int(n)] = r.pick(INTERESTING8);
        break;
      case 2:
        if (n >= 2) {
          const p = r.int(n - 1);
          const v = r.pick(INTERESTING16);
          b[p] = v >>> 8;
          b[p + 1] = v & 0xff;
        }
        break;
      case 3:
        if (n) {
          const p = r.int(n);
          b[p] = (b[p]! + (r.chance(0.5) ? 1 : -1) * (1 + r.int(16))) & 0xff;
        }
        break;
      case 4:
        if (n) b[r.int(n)] = r.u32() & 0xff;
        break;
      case 5: {
        // delete a block
        if (n < 2) break;
        const len = 1 + r.int(Math.min(16, n - 1));
        const p = r.int(n - len + 1);
        b = concat([b.subarray(0, p), b.subarray(p + len)]);
        break;
      }
      case 6: {
        // insert random or repeated bytes
        const p = r.int(n + 1);
        const ins = r.chance(0.5) ? r.bytes(1 + r.int(16)) : new Uint8Array(1 + r.int(32)).fill(r.pick(INTERESTING8));
        b = concat([b.subarray(0, p), ins, b.subarray(p)]);
        break;
      }
      case 7: {
        // clone a block of itself
        if (!n) break;
        const len = 1 + r.int(Math.min(64, n));
        const from = r.int(n - len + 1);
        const p = r.int(n + 1);
        b = concat([b.subarray(0, p), b.slice(from, from + len), b.subarray(p)]);
        break;
      }
      case 8: {
        // overwrite from the splice partner
        if (!other || !other.length || !n) break;
        const len = 1 + r.int(Math.min(32, other.length, n));
        const from = r.int(other.length - len + 1);
        const p = r.int(n - len + 1);
        b.set(other.subarray(from, from + len), p);
        break;
      }
      case 9:
        if (n > 1) b = b.slice(0, r.int(n));
        break;
      default: {
        // splice: our head, the partner's tail
        if (!other || !other.length) break;
        const p = r.int(n + 1);
        const q = r.int(other.length);
        b = concat([b.subarray(0, p), other.subarray(q)]);
        break;
      }
    }
  }
  return b;
}

/** Limit on mutant size: a stream of a few extended messages. */
export const MAX_INPUT = 256 * 1024;

/**
 * Make one mutant of `input` (`[flags][messages...]`): structural or message-level
 * changes most of the time, havoc otherwise, sometimes both.
 */
export function mutate(r: Rng, input: Uint8Array, other: Uint8Array | null, dict: Dictionary): Uint8Array {
  let out: Uint8Array;
  const roll = r.int(100);
  if (input.length < 2 || roll < 25) {
    out = havoc(r, input, 1 << r.int(4), other);
  } else {
    const flags = input[0]!;
    const msgs: Uint8Array[] = splitMessages(input, 1).map(({ start, end }) => input.slice(start, end));
    if (roll < 35 && r.chance(0.5)) {
      // the flags octet
      out = concat([Uint8Array.of(r.chance(0.5) ? flags ^ (1 << r.int(8)) : r.u32() & 0xff), ...msgs]);
    } else if (roll < 50 && msgs.length) {
      // message-level: delete, repeat, reorder, insert from another input or the dictionary
      switch (r.int(5)) {
        case 0:
          msgs.splice(r.int(msgs.length), 1);
          break;
        case 1: {
          const i = r.int(msgs.length);
          const times = r.chance(0.2) ? 1 + r.int(64) : 1;
          for (let t = 0; t < times; t++) msgs.splice(i, 0, msgs[i]!);
          break;
        }
        case 2: {
          const i = r.int(msgs.length);
          const j = r.int(msgs.length);
          [msgs[i], msgs[j]] = [msgs[j]!, msgs[i]!];
          break;
        }
        case 3:
          if (dict.messages.length) msgs.splice(r.int(msgs.length + 1), 0, r.pick(dict.messages));
          break;
        default:
          if (other && other.length > 1) {
            const om = splitMessages(other, 1);
            const pick = r.pick(om);
            msgs.splice(r.int(msgs.length + 1), 0, other.slice(pick.start, pick.end));
          }
      }
      out = concat([Uint8Array.of(flags), ...msgs]);
    } else if (msgs.length) {
      const i = r.int(msgs.length);
      const m = msgs[i]!;
      let next: Uint8Array;
      if (m.length >= 19 && m[18] === 2) {
        const u = parseUpdate(m.subarray(19));
        if (u) {
          const parts = { withdrawn: u.withdrawn, nlri: u.nlri, attrs: u.attrs.map((a) => ({ ...a })) };
          const steps = 1 + (r.chance(0.3) ? r.int(4) : 0);
          for (let s = 0; s < steps; s++) mutateUpdate(r, parts, dict);
          next = concat([m.subarray(0, 19), encodeUpdate(parts)]);
        } else next = concat([m.subarray(0, 19), havoc(r, m.subarray(19), 1 + r.int(4), null)]);
      } else if (m.length >= 19 && m[18] === 1) {
        next = concat([m.subarray(0, 19), mutateOpen(r, m.subarray(19), dict)]);
      } else {
        next = concat([m.subarray(0, 19), havoc(r, m.subarray(19), 1 + r.int(4), null)]);
        if (r.chance(0.2)) next[18] = r.int(8);
      }
      // Mostly keep the header honest so the body decoders see the damage.
      if (r.chance(0.9)) fixLength(next);
      msgs[i] = next;
      out = concat([Uint8Array.of(flags), ...msgs]);
    } else {
      out = havoc(r, input, 2, other);
    }
    if (r.chance(0.1)) out = havoc(r, out, 1 + r.int(3), other);
  }
  return out.length > MAX_INPUT ? out.subarray(0, MAX_INPUT) : out;
}
