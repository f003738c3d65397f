/**
 * The `dns` check: one query over UDP or TCP (RFC 1035 §4.2) to a given
 * server and port, healthy when the response carries the expected rcode
 * (default NOERROR; NOERROR also needs at least one answer record, so an
 * empty NODATA answer from a server that lost its zone does not pass) and,
 * if asked, an answer record whose data contains the given text.
 *
 * The query has a random ID. A UDP datagram whose ID or question does not
 * match ours is ignored and the wait goes on (RFC 5452 §4.3: accept only a
 * response matching the query's ID, question and address); over TCP a
 * mismatch is a failure. A truncated (TC) UDP response is retried over TCP
 * within the same timeout (RFC 7766 §5).
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { randomInt } from 'node:crypto';
import type { DnsCheck } from '../../../config/index.js';
import type { CheckResult } from '../types.js';
import { errText, hostPort, settleOnce } from './common.js';
import { decodeMessage, encodeQuery, nameLabels, Rcode, rcodeName, RrType, typeName, type DnsMessage } from '../dns-message.js';

type Verdict = { kind: 'ignore'; why: string } | { kind: 'done'; ok: boolean; detail: string } | { kind: 'truncated' };

/** Canonical query name: lower case, no trailing dot. */
function canonical(name: string): string {
  return nameLabels(name).join('.').toLowerCase();
}

/** Judge a decoded response against the query we sent and what the check expects. */
export function judgeResponse(spec: Pick<DnsCheck, 'query' | 'type' | 'rcode' | 'answer'>, id: number, msg: DnsMessage, label: string, udp: boolean): Verdict {
  const qname = canonical(spec.query);
  const qtype = RrType[spec.type];
  if (!msg.response) return { kind: 'ignore', why: 'a message without the QR (response) bit' };
  if (msg.id !== id) return { kind: 'ignore', why: `a response with ID ${msg.id}, not our ${id}` };
  const q = msg.questions[0];
  if (msg.questions.length !== 1 || !q || q.name !== qname || q.type !== qtype || q.class !== 1) {
    const got = q ? `${q.name || '.'} ${typeName(q.type)}` : 'no question';
    return { kind: 'ignore', why: `a response to another question (${got})` };
  }
  if (msg.truncated && udp) return { kind: 'truncated' };
  const want = Rcode[spec.rcode];
  const answers = msg.answers.filter((a) => a.type !== RrType.OPT);
  const summary = answers.length === 0 ? 'no answer records' : `${answers.length} answer${answers.length === 1 ? '' : 's'}: ${answers[0]!.data}${answers.length > 1 ? ' …' : ''}`;
  const head = `${label}: ${rcodeName(msg.rcode)}`;
  if (msg.rcode !== want) return { kind: 'done', ok: false, detail: `${head} (expected ${spec.rcode}), ${summary}` };
  if (want === Rcode.NOERROR && answers.length === 0) return { kind: 'done', ok: false, detail: `${head} but no answer records` };
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
  let query: Uint8Array;
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
      query = encodeQuery({ id, name: spec.query, type: RrType[spec.type] });
      const onMessage = (buf: Uint8Array, udp: boolean): void => {
        let msg: DnsMessage;
        try {
          msg = decodeMessage(buf);
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
