/**
 * A small DNS message codec for the `dns` health check: encode one query,
 * decode a response far enough to check it (header, question, answer records
 * rendered as presentation text). Pure: no sockets here (checks/dns.ts owns
 * the I/O).
 *
 * RFC 1035 §4.1 (message format), §4.1.4 (name compression), §3.3 (RDATA of
 * the classic types), RFC 3596 (AAAA), RFC 2782 (SRV), RFC 8659 (CAA),
 * RFC 6891 §6.1 (the EDNS(0) OPT pseudo-record), RFC 3597 §5 (unknown types
 * as \# hex).
 *
 * Every byte is read through the shared bounds-checked `Reader`; its short-read
 * error is turned into a `DnsFormatError` at the one decode entry point, so
 * a malformed answer is a failed check, never a crash.
 */
import { Reader, type ShortError } from '../../../bgp/wire/reader.js';
import { Writer } from '../../../bgp/wire/writer.js';
import { BgpError } from '../../../bgp/wire/errors.js';
import { formatIPv4, formatIPv6 } from '../../../bgp/wire/prefix.js';

/** Resource record types herald can ask for and render (RFC 1035 §3.2.2 and later RFCs). */
export const RrType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  CAA: 257,
} as const;
export type RrTypeName = keyof typeof RrType;

/** Response codes (RFC 1035 §4.1.1, RFC 6895 §2.3). */
export const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  YXDOMAIN: 6,
  YXRRSET: 7,
  NXRRSET: 8,
  NOTAUTH: 9,
  NOTZONE: 10,
  BADVERS: 16,
} as const;
export type RcodeName = keyof typeof Rcode;

const TYPE_NAMES = new Map<number, string>(Object.entries(RrType).map(([k, v]) => [v, k]));
const RCODE_NAMES = new Map<number, string>(Object.entries(Rcode).map(([k, v]) => [v, k]));

/** Name of a type code ("SOA"), or "TYPE65" (RFC 3597 §5). */
export function typeName(t: number): string {
  return TYPE_NAMES.get(t) ?? `TYPE${t}`;
}

/** Name of an rcode ("NXDOMAIN"), or "RCODE11". */
export function rcodeName(r: number): string {
  return RCODE_NAMES.get(r) ?? `RCODE${r}`;
}

const CLASS_IN = 1;
/** UDP payload size we advertise in EDNS(0): the DNS flag day 2020 value. */
export const EDNS_UDP_SIZE = 1232;

/** A malformed DNS message or an unencodable name. */
export class DnsFormatError extends Error {
  override readonly name = 'DnsFormatError';
}

export interface DnsQuestion {
  /** Lower-case, no trailing dot ("" for the root). */
  name: string;
  type: number;
  class: number;
}

export interface DnsRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  /** RDATA in presentation form, e.g. "192.0.2.1" or "ns1.example.org. hostmaster.example.org. 1 3600 ...". */
  data: string;
}

export interface DnsMessage {
  id: number;
  /** QR bit: a response. */
  response: boolean;
  opcode: number;
  authoritative: boolean;
  truncated: boolean;
  recursionDesired: boolean;
  recursionAvailable: boolean;
  /** Full rcode: header 4 bits plus the OPT record's extended bits (RFC 6891 §6.1.3). */
  rcode: number;
  questions: DnsQuestion[];
  answers: DnsRecord[];
  authority: DnsRecord[];
  additional: DnsRecord[];
}

export interface QueryOptions {
  id: number;
  name: string;
  type: number;
  /** Set RD so a recursive resolver answers too (default true). */
  recursionDesired?: boolean;
  /** Add an EDNS(0) OPT record advertising EDNS_UDP_SIZE (default true). */
  edns?: boolean;
}

/*
 * Header, RFC 1035 §4.1.1:
 *
 *   0  1  2  3  4  5  6  7  8  9 10 11 12 13 14 15
 *  +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
 *  |                      ID                       |
 *  |QR|   Opcode  |AA|TC|RD|RA|   Z    |   RCODE   |
 *  |                    QDCOUNT                    |
 *  |                    ANCOUNT                    |
 *  |                    NSCOUNT                    |
 *  |                    ARCOUNT                    |
 *  +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
 * then QDCOUNT questions (QNAME QTYPE QCLASS) and the three record sections
 * (NAME TYPE CLASS TTL RDLENGTH RDATA).
 */

/** Encode a standard query for one name and type (class IN). */
export function encodeQuery(q: QueryOptions): Uint8Array {
  const w = new Writer(64);
  const edns = q.edns ?? true;
  w.u16(q.id & 0xffff);
  w.u16(q.recursionDesired ?? true ? 0x0100 : 0);
  w.u16(1).u16(0).u16(0).u16(edns ? 1 : 0);
  encodeName(w, q.name);
  w.u16(q.type).u16(CLASS_IN);
  if (edns) {
    // RFC 6891 §6.1.2: OPT owner is the root, CLASS carries the UDP payload size.
    w.u8(0).u16(RrType.OPT).u16(EDNS_UDP_SIZE).u32(0).u16(0);
  }
  return w.finish();
}

/** Split a name into labels, checking RFC 1035 §2.3.4 limits (63 per label, 255 in all). */
export function nameLabels(name: string): string[] {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  if (trimmed === '') return [];
  const labels = trimmed.split('.');
  let wire = 1;
  for (const l of labels) {
    const n = Buffer.byteLength(l, 'utf8');
    if (n === 0) throw new DnsFormatError(`empty label in ${JSON.stringify(name)}`);
    if (n > 63) throw new DnsFormatError(`label ${JSON.stringify(l)} is longer than 63 octets (RFC 1035 §2.3.4)`);
    wire += n + 1;
  }
  if (wire > 255) throw new DnsFormatError(`name ${JSON.stringify(name)} is longer than 255 octets (RFC 1035 §2.3.4)`);
  return labels;
}

function encodeName(w: Writer, name: string): void {
  for (const l of nameLabels(name)) {
    const at = w.reserve8();
    w.bytes(Buffer.from(l, 'utf8'));
    w.fill8(at);
  }
  w.u8(0);
}

const SHORT: ShortError = { code: 0, subcode: 0, what: 'DNS field' };

/** Decode a DNS message; a malformed one raises DnsFormatError. */
export function decodeMessage(buf: Uint8Array): DnsMessage {
  try {
    return decodeUnchecked(buf);
  } catch (e) {
    if (e instanceof BgpError) throw new DnsFormatError(`truncated DNS message: ${e.message.replace(/^[^:]*: /, '')}`);
    throw e;
  }
}

function decodeUnchecked(buf: Uint8Array): DnsMessage {
  const r = new Reader(buf, SHORT);
  const id = r.u16('ID');
  const flags = r.u16('flags');
  const qd = r.u16('QDCOUNT');
  const an = r.u16('ANCOUNT');
  const ns = r.u16('NSCOUNT');
  const ar = r.u16('ARCOUNT');
  const questions: DnsQuestion[] = [];
  for (let i = 0; i < qd; i++) {
    const name = readName(r, buf);
    questions.push({ name, type: r.u16('QTYPE'), class: r.u16('QCLASS') });
  }
  const section = (n: number): DnsRecord[] => {
    const out: DnsRecord[] = [];
    for (let i = 0; i < n; i++) out.push(readRecord(r, buf));
    return out;
  };
  const answers = section(an);
  const authority = section(ns);
  const additional = section(ar);
  let rcode = flags & 0x000f;
  const opt = additional.find((rr) => rr.type === RrType.OPT);
  // RFC 6891 §6.1.3: the OPT TTL's top octet holds the upper 8 bits of a 12-bit rcode.
  if (opt) rcode |= ((opt.ttl >>> 24) & 0xff) << 4;
  return {
    id,
    response: (flags & 0x8000) !== 0,
    opcode: (flags >>> 11) & 0x0f,
    authoritative: (flags & 0x0400) !== 0,
    truncated: (flags & 0x0200) !== 0,
    recursionDesired: (flags & 0x0100) !== 0,
    recursionAvailable: (flags & 0x0080) !== 0,
    rcode,
    questions,
    answers,
    authority,
    additional,
  };
}

/**
 * Read a possibly compressed name (RFC 1035 §4.1.4). A pointer must point
 * before the place it was read from, so a loop of pointers cannot spin.
 */
function readName(r: Reader, msg: Uint8Array): string {
  const labels: string[] = [];
  let cur = r;
  let limit = r.pos;
  let total = 1;
  for (;;) {
    const start = cur.pos;
    const len = cur.u8('label length');
    if (len === 0) break;
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      const ptr = ((len & 0x3f) << 8) | cur.u8('compression pointer');
      if (ptr >= Math.min(start, limit)) throw new DnsFormatError(`compression pointer to ${ptr} does not point backwards (from ${start})`);
      limit = ptr;
      cur = new Reader(msg, SHORT, ptr);
      continue;
    }
    if (kind !== 0) throw new DnsFormatError(`unsupported label type 0x${kind.toString(16)} at offset ${start}`);
    total += len + 1;
    if (total > 255) throw new DnsFormatError('name longer than 255 octets');
    labels.push(escapeLabel(cur.bytes(len, 'label')));
  }
  return labels.join('.').toLowerCase();
}

/** Render a label's bytes as text, escaping dots, backslashes and non-printables (RFC 4343 §2.1). */
function escapeLabel(b: Uint8Array): string {
  let s = '';
  for (const c of b) {
    if (c === 0x2e || c === 0x5c) s += `\\${String.fromCharCode(c)}`;
    else if (c > 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else s += `\\${c.toString().padStart(3, '0')}`;
  }
  return s;
}

function readRecord(r: Reader, msg: Uint8Array): DnsRecord {
  const name = readName(r, msg);
  const type = r.u16('TYPE');
  const cls = r.u16('CLASS');
  const ttl = r.u32('TTL');
  const rdlen = r.u16('RDLENGTH');
  const rd = r.sub(rdlen, SHORT, 'RDATA');
  return { name, type, class: cls, ttl, data: renderRdata(type, rd, msg) };
}

const fqdn = (n: string): string => `${n}.`.replace(/^\.$/, '.');

/** Render RDATA in presentation form (RFC 1035 §5.1 and each type's RFC). */
function renderRdata(type: number, rd: Reader, msg: Uint8Array): string {
  switch (type) {
    case RrType.A:
      if (rd.remaining !== 4) return unknownRdata(rd);
      return formatIPv4(rd.bytes(4));
    case RrType.AAAA:
      if (rd.remaining !== 16) return unknownRdata(rd);
      return formatIPv6(rd.bytes(16));
    case RrType.NS:
    case RrType.CNAME:
    case RrType.PTR:
      return fqdn(readName(rd, msg));
    case RrType.MX: {
      const pref = rd.u16('MX preference');
      return `${pref} ${fqdn(readName(rd, msg))}`;
    }
    case RrType.SOA: {
      const mname = fqdn(readName(rd, msg));
      const rname = fqdn(readName(rd, msg));
      const nums = [rd.u32('SERIAL'), rd.u32('REFRESH'), rd.u32('RETRY'), rd.u32('EXPIRE'), rd.u32('MINIMUM')];
      return `${mname} ${rname} ${nums.join(' ')}`;
    }
    case RrType.TXT: {
      const parts: string[] = [];
      while (!rd.atEnd) parts.push(quoted(rd.bytes(rd.u8('TXT length'), 'TXT string')));
      return parts.join(' ');
    }
    case RrType.SRV: {
      const prio = rd.u16('SRV priority');
      const weight = rd.u16('SRV weight');
      const port = rd.u16('SRV port');
      return `${prio} ${weight} ${port} ${fqdn(readName(rd, msg))}`;
    }
    case RrType.CAA: {
      const flags = rd.u8('CAA flags');
      const tag = Buffer.from(rd.bytes(rd.u8('CAA tag length'), 'CAA tag')).toString('latin1');
      return `${flags} ${tag} ${quoted(rd.rest())}`;
    }
    default:
      return unknownRdata(rd);
  }
}

/** RFC 3597 §5: "\# <length> <hex>". */
function unknownRdata(rd: Reader): string {
  const b = rd.rest();
  return b.length === 0 ? '\\# 0' : `\\# ${b.length} ${Buffer.from(b).toString('hex')}`;
}

function quoted(b: Uint8Array): string {
  let s = '"';
  for (const c of b) {
    if (c === 0x22 || c === 0x5c) s += `\\${String.fromCharCode(c)}`;
    else if (c >= 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else s += `\\${c.toString().padStart(3, '0')}`;
  }
  return `${s}"`;
}
