/**
 * A reader for MRT routing dumps (RFC 6396, with RFC 8050 ADD-PATH subtypes),
 * test support for the corpus tests: it cuts records out of a dump and hands
 * back the raw BGP bytes inside them for the real codecs to decode.
 *
 * Owns: the MRT common header (§2, §3), BGP4MP / BGP4MP_ET MESSAGE,
 * MESSAGE_AS4, MESSAGE_LOCAL, MESSAGE_AS4_LOCAL, STATE_CHANGE and
 * STATE_CHANGE_AS4 (§4.4, §4.5; ADD-PATH variants RFC 8050 §3), TABLE_DUMP
 * (§4.2) and TABLE_DUMP_V2 PEER_INDEX_TABLE and RIB_* (§4.3; RFC 8050 §4),
 * and the rewriting of a RIB entry into an UPDATE message so that the message
 * codec can decode it.
 *
 *  MRT common header (§2):
 *   +---------------------------------------------------------------+
 *   |                           Timestamp                           |
 *   +-------------------------------+-------------------------------+
 *   |             Type              |            Subtype            |
 *   +-------------------------------+-------------------------------+
 *   |                             Length                            |
 *   +---------------------------------------------------------------+
 *   |             Microsecond Timestamp (only _ET types)            |
 *   +---------------------------------------------------------------+
 *   |                      Message... (variable)                    |
 *
 * Every byte is read through the wire Reader; a dump that runs short throws
 * a BgpError (Message Header / Bad Message Length) naming the MRT field.
 */
import { gunzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { Reader, type ShortError } from '../../bgp/wire/reader.js';
import { Writer } from '../../bgp/wire/writer.js';
import { AttrFlag, AttrType, ErrCode, HeaderSub, MsgType, Afi } from '../../bgp/wire/iana.js';
import { formatAddress, decodeNlriEntry, encodeNlri, type Prefix } from '../../bgp/wire/prefix.js';

/** RFC 6396 §4: MRT record types this reader understands. */
export const MrtType = {
  TABLE_DUMP: 12,
  TABLE_DUMP_V2: 13,
  BGP4MP: 16,
  BGP4MP_ET: 17,
} as const;

/** RFC 6396 §4.4.1 and RFC 8050 §3: BGP4MP subtypes. */
export const Bgp4mpSub = {
  STATE_CHANGE: 0,
  MESSAGE: 1,
  MESSAGE_AS4: 4,
  STATE_CHANGE_AS4: 5,
  MESSAGE_LOCAL: 6,
  MESSAGE_AS4_LOCAL: 7,
  MESSAGE_ADDPATH: 8,
  MESSAGE_AS4_ADDPATH: 9,
  MESSAGE_LOCAL_ADDPATH: 10,
  MESSAGE_AS4_LOCAL_ADDPATH: 11,
} as const;

/** RFC 6396 §4.3 and RFC 8050 §4: TABLE_DUMP_V2 subtypes. */
export const TdV2Sub = {
  PEER_INDEX_TABLE: 1,
  RIB_IPV4_UNICAST: 2,
  RIB_IPV4_MULTICAST: 3,
  RIB_IPV6_UNICAST: 4,
  RIB_IPV6_MULTICAST: 5,
  RIB_GENERIC: 6,
  RIB_IPV4_UNICAST_ADDPATH: 8,
  RIB_IPV4_MULTICAST_ADDPATH: 9,
  RIB_IPV6_UNICAST_ADDPATH: 10,
  RIB_IPV6_MULTICAST_ADDPATH: 11,
  RIB_GENERIC_ADDPATH: 12,
} as const;

const MRT_SHORT: ShortError = { code: ErrCode.MessageHeader, subcode: HeaderSub.BadMessageLength, what: 'MRT field' };

interface RecordHead {
  /** Seconds since the epoch (MRT header). */
  time: number;
  /** Microseconds, for the _ET types only. */
  micros?: number;
  type: number;
  subtype: number;
}

/** A BGP4MP(_ET) MESSAGE* record: one whole BGP message as sent or received. */
export interface Bgp4mpMessage extends RecordHead {
  kind: 'bgp4mp-message';
  /** The AS numbers in the record (and the AS_PATH inside the message) are 4 octets. */
  as4: boolean;
  /** MESSAGE_LOCAL*: a message the collector sent rather than received. */
  local: boolean;
  /** RFC 8050: NLRI in the message carry path identifiers. */
  addPath: boolean;
  peerAs: number;
  localAs: number;
  ifIndex: number;
  afi: number;
  peerIp: string;
  localIp: string;
  /** The BGP message, marker included. */
  message: Uint8Array;
}

/** A BGP4MP(_ET) STATE_CHANGE* record. */
export interface Bgp4mpStateChange extends RecordHead {
  kind: 'bgp4mp-state';
  as4: boolean;
  peerAs: number;
  localAs: number;
  ifIndex: number;
  afi: number;
  peerIp: string;
  localIp: string;
  oldState: number;
  newState: number;
}

/** A TABLE_DUMP (v1) record: one route of one peer, attributes with 2-octet ASNs. */
export interface TableDumpRoute extends RecordHead {
  kind: 'table-dump';
  afi: Afi;
  view: number;
  seq: number;
  prefix: Prefix;
  status: number;
  originated: number;
  peerIp: string;
  peerAs: number;
  /** Path attributes as on the wire (without the 2-octet total length). */
  attributes: Uint8Array;
}

export interface PeerEntry {
  bgpId: string;
  ip: string;
  afi: Afi;
  asn: number;
}

/** TABLE_DUMP_V2 PEER_INDEX_TABLE. */
export interface PeerIndexTable extends RecordHead {
  kind: 'peer-index';
  collectorId: string;
  viewName: string;
  peers: PeerEntry[];
}

export interface RibEntry {
  peerIndex: number;
  originated: number;
  /** RFC 8050 §4: present in the *_ADDPATH subtypes. */
  pathId?: number;
  /** Path attributes as on the wire; MP_REACH_NLRI abbreviated per RFC 6396 §4.3.4. */
  attributes: Uint8Array;
}

/** TABLE_DUMP_V2 RIB_{IPV4,IPV6}_{UNICAST,MULTICAST}[_ADDPATH]. */
export interface RibRecord extends RecordHead {
  kind: 'rib';
  afi: Afi;
  safi: number;
  addPath: boolean;
  seq: number;
  prefix: Prefix;
  entries: RibEntry[];
}

/** Anything else, kept raw. */
export interface OtherRecord extends RecordHead {
  kind: 'other';
  body: Uint8Array;
}

export type MrtRecord = Bgp4mpMessage | Bgp4mpStateChange | TableDumpRoute | PeerIndexTable | RibRecord | OtherRecord;

/** Read a whole (gzip-compressed if it ends in .gz) file into memory. */
export function readDump(path: string): Uint8Array {
  const raw = readFileSync(path);
  const bytes = path.endsWith('.gz') ? gunzipSync(raw) : raw;
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Read the lines of a (gzip-compressed) text file, without the trailing empty line. */
export function readLines(path: string): string[] {
  const text = new TextDecoder().decode(readDump(path));
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

const ip = (r: Reader, afi: number, what: string): string => {
  const n = afi === Afi.IPv6 ? 16 : 4;
  return formatAddress(afi === Afi.IPv6 ? Afi.IPv6 : Afi.IPv4, r.bytes(n, what));
};

const dotted = (r: Reader, what: string): string => formatAddress(Afi.IPv4, r.bytes(4, what));

/** Iterate over the records of an MRT dump. */
export function* mrtRecords(dump: Uint8Array): Generator<MrtRecord> {
  const r = new Reader(dump, MRT_SHORT);
  while (!r.atEnd) {
    const time = r.u32('MRT timestamp');
    const type = r.u16('MRT type');
    const subtype = r.u16('MRT subtype');
    const length = r.u32('MRT length');
    const body = r.sub(length, MRT_SHORT, 'MRT record');
    const head: RecordHead = { time, type, subtype };
    // RFC 6396 §3: "the Microsecond Timestamp is included in the computation
    // of the Length field value".
    if (type === MrtType.BGP4MP_ET) head.micros = body.u32('MRT microseconds');
    yield parseRecord(head, body);
  }
}

function parseRecord(head: RecordHead, r: Reader): MrtRecord {
  switch (head.type) {
    case MrtType.BGP4MP:
    case MrtType.BGP4MP_ET:
      return parseBgp4mp(head, r);
    case MrtType.TABLE_DUMP:
      return parseTableDump(head, r);
    case MrtType.TABLE_DUMP_V2:
      return parseTableDumpV2(head, r);
    default:
      return { ...head, kind: 'other', body: r.rest() };
  }
}

/**
 * RFC 6396 §4.4.2 (MESSAGE_AS4 shown; MESSAGE has 2-octet AS numbers):
 *   | Peer AS (4) | Local AS (4) | Interface Index (2) | Address Family (2) |
 *   | Peer IP (4/16) | Local IP (4/16) | BGP Message... |
 */
function parseBgp4mp(head: RecordHead, r: Reader): MrtRecord {
  const s = head.subtype;
  const as4 = s === Bgp4mpSub.MESSAGE_AS4 || s === Bgp4mpSub.STATE_CHANGE_AS4 || s === Bgp4mpSub.MESSAGE_AS4_LOCAL || s === Bgp4mpSub.MESSAGE_AS4_ADDPATH || s === Bgp4mpSub.MESSAGE_AS4_LOCAL_ADDPATH;
  const known = s <= Bgp4mpSub.MESSAGE_AS4_LOCAL_ADDPATH && s !== 2 && s !== 3;
  if (!known) return { ...head, kind: 'other', body: r.rest() };
  const asn = (what: string): number => (as4 ? r.u32(what) : r.u16(what));
  const peerAs = asn('peer AS');
  const localAs = asn('local AS');
  const ifIndex = r.u16('interface index');
  const afi = r.u16('address family');
  const peerIp = ip(r, afi, 'peer IP');
  const localIp = ip(r, afi, 'local IP');
  if (s === Bgp4mpSub.STATE_CHANGE || s === Bgp4mpSub.STATE_CHANGE_AS4) {
    const oldState = r.u16('old state');
    const newState = r.u16('new state');
    return { ...head, kind: 'bgp4mp-state', as4, peerAs, localAs, ifIndex, afi, peerIp, localIp, oldState, newState };
  }
  const local = s === Bgp4mpSub.MESSAGE_LOCAL || s === Bgp4mpSub.MESSAGE_AS4_LOCAL || s === Bgp4mpSub.MESSAGE_LOCAL_ADDPATH || s === Bgp4mpSub.MESSAGE_AS4_LOCAL_ADDPATH;
  const addPath = s >= Bgp4mpSub.MESSAGE_ADDPATH;
  return { ...head, kind: 'bgp4mp-message', as4, local, addPath, peerAs, localAs, ifIndex, afi, peerIp, localIp, message: r.rest() };
}

/**
 * RFC 6396 §4.2:
 *   | View # (2) | Sequence (2) | Prefix (4/16) | Prefix Length (1) | Status (1) |
 *   | Originated Time (4) | Peer IP (4/16) | Peer AS (2) | Attribute Length (2) |
 *   | BGP Attribute... |
 */
function parseTableDump(head: RecordHead, r: Reader): MrtRecord {
  const afi = head.subtype === 2 ? Afi.IPv6 : head.subtype === 1 ? Afi.IPv4 : null;
  if (afi === null) return { ...head, kind: 'other', body: r.rest() };
  const view = r.u16('view');
  const seq = r.u16('sequence');
  const addr = r.bytes(afi === Afi.IPv6 ? 16 : 4, 'prefix');
  const len = r.u8('prefix length');
  const status = r.u8('status');
  const originated = r.u32('originated time');
  const peerIp = ip(r, afi, 'peer IP');
  const peerAs = r.u16('peer AS');
  const attributes = r.bytes(r.u16('attribute length'), 'attributes');
  const full = new Uint8Array(addr);
  return { ...head, kind: 'table-dump', afi, view, seq, prefix: { afi, len, addr: full }, status, originated, peerIp, peerAs, attributes };
}

function parseTableDumpV2(head: RecordHead, r: Reader): MrtRecord {
  const s = head.subtype;
  if (s === TdV2Sub.PEER_INDEX_TABLE) {
    // RFC 6396 §4.3.1: | Collector BGP ID (4) | View Name Length (2) | View Name |
    // Peer Count (2) | Peer Entries |; each entry | Peer Type (1) | Peer BGP ID (4) |
    // Peer IP (4/16 by type bit 0) | Peer AS (2/4 by type bit 1) |
    const collectorId = dotted(r, 'collector BGP ID');
    const viewName = new TextDecoder().decode(r.bytes(r.u16('view name length'), 'view name'));
    const count = r.u16('peer count');
    const peers: PeerEntry[] = [];
    for (let i = 0; i < count; i++) {
      const t = r.u8('peer type');
      const bgpId = dotted(r, 'peer BGP ID');
      const afi = t & 1 ? Afi.IPv6 : Afi.IPv4;
      const pip = ip(r, afi, 'peer IP');
      const asn = t & 2 ? r.u32('peer AS') : r.u16('peer AS');
      peers.push({ bgpId, ip: pip, afi, asn });
    }
    return { ...head, kind: 'peer-index', collectorId, viewName, peers };
  }
  const fam: Record<number, [Afi, number, boolean]> = {
    [TdV2Sub.RIB_IPV4_UNICAST]: [Afi.IPv4, 1, false],
    [TdV2Sub.RIB_IPV4_MULTICAST]: [Afi.IPv4, 2, false],
    [TdV2Sub.RIB_IPV6_UNICAST]: [Afi.IPv6, 1, false],
    [TdV2Sub.RIB_IPV6_MULTICAST]: [Afi.IPv6, 2, false],
    [TdV2Sub.RIB_IPV4_UNICAST_ADDPATH]: [Afi.IPv4, 1, true],
    [TdV2Sub.RIB_IPV4_MULTICAST_ADDPATH]: [Afi.IPv4, 2, true],
    [TdV2Sub.RIB_IPV6_UNICAST_ADDPATH]: [Afi.IPv6, 1, true],
    [TdV2Sub.RIB_IPV6_MULTICAST_ADDPATH]: [Afi.IPv6, 2, true],
  };
  const f = fam[s];
  if (!f) return { ...head, kind: 'other', body: r.rest() };
  const [afi, safi, addPath] = f;
  // RFC 6396 §4.3.2: | Sequence (4) | Prefix Length (1) | Prefix (variable) |
  // Entry Count (2) | RIB Entries |; RFC 8050 §4 adds a Path Identifier to each entry.
  const seq = r.u32('sequence');
  const { prefix } = decodeNlriEntry(r, afi, false);
  const count = r.u16('entry count');
  const entries: RibEntry[] = [];
  for (let i = 0; i < count; i++) {
    const peerIndex = r.u16('peer index');
    const originated = r.u32('originated time');
    const pathId = addPath ? r.u32('path identifier') : undefined;
    const attributes = r.bytes(r.u16('attribute length'), 'attributes');
    entries.push(pathId === undefined ? { peerIndex, originated, attributes } : { peerIndex, originated, pathId, attributes });
  }
  return { ...head, kind: 'rib', afi, safi, addPath, seq, prefix, entries };
}

/** One raw path attribute as found in a dump. */
interface RawAttr {
  flags: number;
  type: number;
  value: Uint8Array;
}

/** Split an attribute block into its attributes, without interpreting them. */
function splitAttributes(attrs: Uint8Array): RawAttr[] {
  const r = new Reader(attrs, MRT_SHORT);
  const out: RawAttr[] = [];
  while (!r.atEnd) {
    const flags = r.u8('attribute flags');
    const type = r.u8('attribute type');
    const len = flags & AttrFlag.ExtendedLength ? r.u16('attribute length') : r.u8('attribute length');
    out.push({ flags, type, value: r.bytes(len, 'attribute value') });
  }
  return out;
}

function writeAttr(w: Writer, a: RawAttr): void {
  if (a.value.length > 0xff) {
    w.u8(a.flags | AttrFlag.ExtendedLength).u8(a.type).u16(a.value.length);
  } else {
    w.u8(a.flags & ~AttrFlag.ExtendedLength).u8(a.type).u8(a.value.length);
  }
  w.bytes(a.value);
}

/**
 * Build a whole UPDATE message: no withdrawn routes, the given path
 * attributes, and the given NLRI bytes (RFC 4271 §4.3).
 */
export function updateFrame(attributes: Uint8Array, nlri: Uint8Array = new Uint8Array(0)): Uint8Array {
  const w = new Writer(19 + 4 + attributes.length + nlri.length);
  for (let i = 0; i < 16; i++) w.u8(0xff);
  w.u16(19 + 2 + 2 + attributes.length + nlri.length);
  w.u8(MsgType.UPDATE);
  w.u16(0);
  w.u16(attributes.length);
  w.bytes(attributes);
  w.bytes(nlri);
  return w.finish();
}

/** Encode a prefix (and path id) as NLRI bytes. */
export function nlriBytes(prefix: Prefix, pathId?: number): Uint8Array {
  const w = new Writer(21);
  encodeNlri(w, prefix, pathId);
  return w.finish();
}

/**
 * Turn one TABLE_DUMP route into an UPDATE carrying its attributes and its
 * prefix: an IPv4 prefix as body NLRI, an IPv6 one inside its MP_REACH_NLRI.
 */
export function tableDumpUpdate(rt: TableDumpRoute): Uint8Array {
  if (rt.afi === Afi.IPv4) return updateFrame(rt.attributes, nlriBytes(rt.prefix));
  return updateFrame(expandMpReach(rt.attributes, rt.afi, 1, rt.prefix, undefined));
}

/**
 * Turn one TABLE_DUMP_V2 RIB entry into an UPDATE. RFC 6396 §4.3.4: in RIB
 * entries "only the Next Hop Address Length and Next Hop Address fields are
 * included" in MP_REACH_NLRI; that abbreviated value is expanded back to a
 * full one (AFI, SAFI, next hop, reserved octet, the RIB prefix as NLRI). An
 * IPv4 unicast prefix goes in the UPDATE body. A non-IPv4 entry without
 * MP_REACH_NLRI yields an attributes-only UPDATE (the prefix is the record's).
 */
export function ribEntryUpdate(rib: RibRecord, e: RibEntry): { frame: Uint8Array; prefixInMessage: boolean } {
  if (rib.afi === Afi.IPv4 && rib.safi === 1) {
    return { frame: updateFrame(e.attributes, nlriBytes(rib.prefix, e.pathId)), prefixInMessage: true };
  }
  const hasMp = splitAttributes(e.attributes).some((a) => a.type === AttrType.MP_REACH_NLRI);
  if (!hasMp) return { frame: updateFrame(e.attributes), prefixInMessage: false };
  return { frame: updateFrame(expandMpReach(e.attributes, rib.afi, rib.safi, rib.prefix, e.pathId)), prefixInMessage: true };
}

/**
 * Rewrite an abbreviated MP_REACH_NLRI (| NH length | NH |) into a full one
 * (| AFI | SAFI | NH length | NH | Reserved | NLRI |) holding `prefix`. A value
 * whose first octet is 0 is taken to be full already (an AFI's high octet is
 * 0, a next-hop length never is), the same test bgpdump applies.
 */
function expandMpReach(attrs: Uint8Array, afi: Afi, safi: number, prefix: Prefix, pathId: number | undefined): Uint8Array {
  const w = new Writer(attrs.length + 32);
  for (const a of splitAttributes(attrs)) {
    if (a.type !== AttrType.MP_REACH_NLRI || a.value.length === 0 || a.value[0] === 0) {
      writeAttr(w, a);
      continue;
    }
    const v = new Writer(a.value.length + 24);
    v.u16(afi).u8(safi).bytes(a.value).u8(0);
    encodeNlri(v, prefix, pathId);
    writeAttr(w, { flags: a.flags, type: a.type, value: v.finish() });
  }
  return w.finish();
}
