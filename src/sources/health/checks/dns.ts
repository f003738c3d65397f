/**
 * The `dns` check: one query over UDP or TCP (RFC 1035 §4.2) to a given
 * server and port, healthy when the response carries the expected rcode
 * (default NOERROR; NOERROR also needs at least one answer record, so an
 * empty NODATA answer from a server that lost its zone does not pass) and,
 * if asked, an answer record whose data contains the given text.
 *
 * The query has a random ID. A UDP datagram whose ID or question does not
 * match ours, or that does not decode, is ignored and the wait goes on
 * (RFC 5452 §4.3: accept only a response matching the query's ID, question
 * and address); over TCP a mismatch or a malformed response is a failure. A
 * truncated (TC) UDP response is retried over TCP within the same timeout
 * (RFC 7766 §5).
 *
 * The wire codec is the dns-packet package (decisions/0022); this file builds
 * the query, reduces a decoded response to what the check judges (the full
 * RFC 6891 rcode, record data as presentation text) and owns the sockets.
 * `readResponse` and `judgeResponse` are pure.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { randomInt } from 'node:crypto';
import * as dnsPacket from 'dns-packet';
import type { Answer, OptAnswer } from 'dns-packet';
import type { DnsCheck } from '../../../config/index.js';
import type { CheckResult } from '../types.js';
import { errText, hostPort, settleOnce } from './common.js';

/** UDP payload size we advertise in EDNS(0): the DNS flag day 2020 value. */
export const EDNS_UDP_SIZE = 1232;

/** Response codes (RFC 1035 §4.1.1, RFC 6895 §2.3); the config names a subset of them. */
const RCODES = {
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
const RCODE_NAMES = new Map<number, string>(Object.entries(RCODES).map(([k, v]) => [v, k]));

/** Name of an rcode ("NXDOMAIN"), or "RCODE11". */
export function rcodeName(r: number): string {
  return RCODE_NAMES.get(r) ?? `RCODE${r}`;
}

/** A response reduced to what the check judges. Names are lower case, without the trailing dot ("." is the root). */
export interface DnsResponse {
  id: number;
  /** QR bit. */
  response: boolean;
  /** TC bit. */
  truncated: boolean;
  /** Full rcode: the header's 4 bits plus the OPT record's upper 8 (RFC 6891 §6.1.3). */
  rcode: number;
  questions: { name: string; type: string; class: string }[];
  /** Answer section without OPT pseudo-records; `data` in presentation form ("192.0.2.1", "10 mx.example.org."). */
  answers: { name: string; type: string; data: string }[];
}

/** Check a query name against RFC 1035 §2.3.4 (63 octets a label, 255 in all) and return its labels. */
export function queryLabels(name: string): string[] {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  if (trimmed === '') return [];
  const labels = trimmed.split('.');
  let wire = 1;
  for (const l of labels) {
    const n = Buffer.byteLength(l, 'utf8');
    if (n === 0) throw new Error(`empty label in ${JSON.stringify(name)}`);
    if (n > 63) throw new Error(`label ${JSON.stringify(l)} is longer than 63 octets (RFC 1035 §2.3.4)`);
    wire += n + 1;
  }
  if (wire > 255) throw new Error(`name ${JSON.stringify(name)} is longer than 255 octets (RFC 1035 §2.3.4)`);
  return labels;
}

/** Lower case, no trailing dot, "." for the root: the form questions are compared in. */
function canonical(name: string): string {
  const n = name.toLowerCase().replace(/\.$/, '');
  return n === '' ? '.' : n;
}

/** Encode a standard query (class IN, RD set) with an EDNS(0) OPT record advertising EDNS_UDP_SIZE. */
export function encodeQuery(id: number, name: string, type: DnsCheck['type']): Buffer {
  queryLabels(name); // dns-packet writes whatever it is given; a 64-octet label would become a bogus length byte
  return dnsPacket.encode({
    type: 'query',
    id: id & 0xffff,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type, class: 'IN' }],
    // RFC 6891 §6.1.2: the OPT owner is the root and its CLASS carries our UDP payload size.
    additionals: [{ name: '.', type: 'OPT', udpPayloadSize: EDNS_UDP_SIZE, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }],
  });
}

/**
 * Decode a response; a malformed one raises an Error saying why.
 *
 * dns-packet reads some record types by their fields rather than by
 * RDLENGTH and reads past the end of the buffer without complaint in places
 * (a short TXT string, a sliced RDATA), so a message whose decoding went
 * beyond its last byte is rejected here.
 */
export function readResponse(buf: Uint8Array): DnsResponse {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  // A question takes at least 5 octets (root name, QTYPE, QCLASS), a record
  // 11 (RFC 1035 §4.1.2, §4.1.3). dns-packet allocates arrays of the header's
  // counts before reading a record, so a 12-octet datagram claiming 4 × 65535
  // entries would cost tens of milliseconds; refuse it by arithmetic first.
  if (b.length < 12) throw new Error(`the message has ${b.length} octets, less than a header (12)`);
  const least = 12 + 5 * b.readUInt16BE(4) + 11 * (b.readUInt16BE(6) + b.readUInt16BE(8) + b.readUInt16BE(10));
  if (least > b.length) throw new Error(`the header's counts need at least ${least} octets, the message has ${b.length}`);
  let p: dnsPacket.DecodedPacket;
  try {
    p = dnsPacket.decode(b);
  } catch (e) {
    // Buffer's own bounds checks (readUInt16BE past the end) raise RangeError.
    throw new Error(e instanceof RangeError ? 'the message ends before its last field' : errText(e));
  }
  // `!(a <= b)`, not `a > b`: a length byte read past the end is undefined and the count becomes NaN.
  if (!(dnsPacket.decode.bytes <= b.length)) throw new Error('the message ends before its last field');
  const opt = p.additionals?.find((a): a is OptAnswer => a.type === 'OPT');
  const flags = p.flags ?? 0;
  return {
    id: p.id ?? 0,
    response: p.flag_qr,
    truncated: p.flag_tc,
    rcode: (flags & 0x000f) | ((opt?.extendedRcode ?? 0) << 4),
    questions: (p.questions ?? []).map((q) => ({ name: canonical(q.name), type: typeName(q.type), class: q.class ?? 'IN' })),
    answers: (p.answers ?? []).filter((a) => a.type !== 'OPT').map((a) => ({ name: canonical(a.name), type: typeName(a.type), data: recordText(a) })),
  };
}

/** dns-packet names an unknown type "UNKNOWN_65"; RFC 3597 §5 writes "TYPE65". */
function typeName(t: string): string {
  return t.startsWith('UNKNOWN_') ? `TYPE${t.slice(8)}` : t;
}

const fqdn = (n: string): string => (n === '.' ? '.' : `${n.toLowerCase()}.`);

/** Quote a character-string (RFC 1035 §5.1): `"`, `\` escaped, non-printables as \DDD. */
function quoted(b: Uint8Array): string {
  let s = '"';
  for (const c of b) {
    if (c === 0x22 || c === 0x5c) s += `\\${String.fromCharCode(c)}`;
    else if (c >= 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else s += `\\${c.toString().padStart(3, '0')}`;
  }
  return `${s}"`;
}

const bytesOf = (d: string | Buffer): Buffer => (typeof d === 'string' ? Buffer.from(d, 'utf8') : d);

/** RDATA in presentation form (RFC 1035 §5.1 and each type's RFC), as `dig +short` prints it. */
function recordText(a: Answer): string {
  switch (a.type) {
    case 'A':
    case 'AAAA':
      return a.data;
    case 'NS':
    case 'CNAME':
    case 'PTR':
    case 'DNAME':
      return fqdn(a.data);
    case 'MX':
      return `${a.data.preference ?? 0} ${fqdn(a.data.exchange)}`;
    case 'SOA': {
      const d = a.data;
      return `${fqdn(d.mname)} ${fqdn(d.rname)} ${[d.serial, d.refresh, d.retry, d.expire, d.minimum].map((n) => n ?? 0).join(' ')}`;
    }
    case 'SRV':
      return `${a.data.priority ?? 0} ${a.data.weight ?? 0} ${a.data.port} ${fqdn(a.data.target)}`;
    case 'TXT':
      return (Array.isArray(a.data) ? a.data : [a.data]).map((s) => quoted(bytesOf(s))).join(' ');
    case 'CAA':
      return `${a.data.flags ?? 0} ${a.data.tag} ${quoted(Buffer.from(a.data.value, 'utf8'))}`;
    default: {
      const d: unknown = 'data' in a ? a.data : undefined;
      // RFC 3597 §5: "\# <length> <hex>" for data dns-packet leaves as bytes.
      if (Buffer.isBuffer(d)) return d.length === 0 ? '\\# 0' : `\\# ${d.length} ${d.toString('hex')}`;
      // A type dns-packet decodes into fields that this check never asks for (RRSIG, HINFO, ...): its fields in order.
      return typeof d === 'object' && d !== null ? Object.values(d).map((v) => (Buffer.isBuffer(v) ? v.toString('hex') : String(v))).join(' ') : String(d);
    }
  }
}

type Verdict = { kind: 'ignore'; why: string } | { kind: 'done'; ok: boolean; detail: string } | { kind: 'truncated' };

/** Judge a decoded response against the query we sent and what the check expects. */
export function judgeResponse(spec: Pick<DnsCheck, 'query' | 'type' | 'rcode' | 'answer'>, id: number, msg: DnsResponse, label: string, udp: boolean): Verdict {
  if (!msg.response) return { kind: 'ignore', why: 'a message without the QR (response) bit' };
  if (msg.id !== id) return { kind: 'ignore', why: `a response with ID ${msg.id}, not our ${id}` };
  const q = msg.questions[0];
  if (msg.questions.length !== 1 || !q || q.name !== canonical(spec.query) || q.type !== spec.type || q.class !== 'IN') {
    const got = q ? `${q.name} ${q.type}` : 'no question';
    return { kind: 'ignore', why: `a response to another question (${got})` };
  }
  if (msg.truncated && udp) return { kind: 'truncated' };
  const want = RCODES[spec.rcode];
  const answers = msg.answers;
  const summary = answers.length === 0 ? 'no answer records' : `${answers.length} answer${answers.length === 1 ? '' : 's'}: ${answers[0]!.data}${answers.length > 1 ? ' …' : ''}`;
  const head = `${label}: ${rcodeName(msg.rcode)}`;
  if (msg.rcode !== want) return { kind: 'done', ok: false, detail: `${head} (expected ${spec.rcode}), ${summary}` };
  if (want === RCODES.NOERROR && answers.length === 0) return { kind: 'done', ok: false, detail: `${head} but no answer records` };
  if (spec.answer !== undefined) {
    const needle = spec.answer.toLowerCase();
    const hit = answers.find((a) => a.data.toLowerCase().includes(needle));
    if (!hit) return { kind: 'done', ok: false, detail: `${head} but no answer contains ${JSON.stringify(spec.answer)}; ${summary}` };
    return { kind: 'done', ok: true, detail: `${head}, answer ${hit.data}` };
  }
  return { kind: 'done', ok: true, detail: `${head}, ${summary}` };
}

/** Send one DNS query and judge the response. */
export function checkDns(spec: DnsCheck, signal: AbortSignal): Promise<CheckResult> {
  const id = randomInt(0, 0x10000);
  let query: Buffer;
  const label = (proto: string): string => `DNS ${spec.query} ${spec.type} @${hostPort(spec.server, spec.port)}/${proto}`;
  const ignored: string[] = [];
  let proto: 'udp' | 'tcp' = spec.protocol;
  let close: (() => void) | undefined;
  return settleOnce(
    signal,
    (ms) => {
      const extra = ignored.length ? `; ignored ${ignored.length} response(s): ${ignored[0]}` : '';
      return { ok: false, detail: `${label(proto)} timed out after ${Math.round(ms)}ms${extra}` };
    },
    (done) => {
      query = encodeQuery(id, spec.query, spec.type);
      const onMessage = (buf: Uint8Array, udp: boolean): void => {
        let msg: DnsResponse;
        try {
          msg = readResponse(buf);
        } catch (e) {
          if (udp) {
            ignored.push(`malformed: ${errText(e)}`);
            return;
          }
          done({ ok: false, detail: `${label(proto)}: malformed response: ${errText(e)}` });
          return;
        }
        const v = judgeResponse(spec, id, msg, label(proto), udp);
        if (v.kind === 'done') done({ ok: v.ok, detail: v.detail });
        else if (v.kind === 'ignore') {
          if (udp) ignored.push(v.why);
          else done({ ok: false, detail: `${label(proto)}: ${v.why}` });
        } else {
          close?.();
          proto = 'tcp';
          close = overTcp();
        }
      };
      const overUdp = (): (() => void) => {
        const sock = dgram.createSocket(net.isIPv6(spec.server) ? 'udp6' : 'udp4');
        sock.on('error', (e) => done({ ok: false, detail: `${label('udp')} failed: ${errText(e)}` }));
        sock.on('message', (m) => onMessage(m, true));
        sock.connect(spec.port, spec.server, () => sock.send(query));
        return () => {
          try {
            sock.close();
          } catch {
            // already closed
          }
        };
      };
      const overTcp = (): (() => void) => {
        const sock = net.connect({ host: spec.server, port: spec.port });
        let buf = Buffer.alloc(0);
        sock.on('error', (e) => done({ ok: false, detail: `${label('tcp')} failed: ${errText(e)}` }));
        sock.on('connect', () => {
          // RFC 1035 §4.2.2: over TCP each message is prefixed with a two byte length.
          const len = Buffer.alloc(2);
          len.writeUInt16BE(query.length);
          sock.write(Buffer.concat([len, query]));
        });
        sock.on('data', (chunk: Buffer) => {
          buf = Buffer.concat([buf, chunk]);
          if (buf.length < 2) return;
          const n = buf.readUInt16BE(0);
          if (buf.length < 2 + n) return;
          onMessage(buf.subarray(2, 2 + n), false);
        });
        sock.on('end', () => done({ ok: false, detail: `${label('tcp')}: connection closed before a full response` }));
        return () => sock.destroy();
      };
      close = proto === 'udp' ? overUdp() : overTcp();
      return () => close?.();
    },
  );
}
