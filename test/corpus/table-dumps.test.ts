/**
 * Corpus test: RIB snapshots. Each route's attributes and prefix are wrapped
 * in an UPDATE (test/corpus/mrt.ts), decoded by herald, re-encoded with
 * `encodeMessage`, decoded again and compared equal; the decoded route is
 * also printed in `bgpdump -m` format and compared with bgpdump's line.
 *
 * TABLE_DUMP (v1) attributes carry 2-octet AS numbers; TABLE_DUMP_V2 ones
 * 4-octet (RFC 6396 §4.3.4), and the *_ADDPATH subtypes a path id per entry
 * (RFC 8050 §4).
 */
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage } from '../../bgp/wire/messages/index.js';
import type { CodecContext } from '../../bgp/wire/context.js';
import type { UpdateMessage } from '../../bgp/wire/types.js';
import { mrtRecords, readDump, readLines, ribEntryUpdate, tableDumpUpdate, type PeerEntry } from './mrt.js';
import { bgpdumpRouteLine } from './bgpdump.js';
import { corpusFile, diffLines, recordContext } from './corpus-support.js';

function decodeUpdate(frame: Uint8Array, ctx: CodecContext): UpdateMessage {
  const msg = decodeMessage(frame, ctx);
  if (msg.type !== 'update') throw new Error(`decoded a ${msg.type}`);
  return msg;
}

/** The identity of an RFC 7606 error, for comparing two decodes. */
const errorIds = (m: UpdateMessage): string[] => (m.errors ?? []).map((e) => `${e.code}/${e.subcode}/${e.action}/${Array.from(e.data).join(',')}`);

/**
 * Encode and decode again; return a description of the difference, or null.
 * (node's isDeepStrictEqual: vitest's toEqual is too slow for 115,521 routes.)
 */
function roundTrip(msg: UpdateMessage, ctx: CodecContext): string | null {
  const again = decodeUpdate(encodeMessage(msg, ctx), ctx);
  const strip = (m: UpdateMessage): UpdateMessage => ({ type: m.type, withdrawn: m.withdrawn, attributes: m.attributes, nlri: m.nlri });
  if (isDeepStrictEqual(strip(again), strip(msg)) && isDeepStrictEqual(errorIds(again), errorIds(msg))) return null;
  return `first decode ${JSON.stringify(msg)}\nsecond decode ${JSON.stringify(again)}`.slice(0, 3000);
}

describe('corpus: TABLE_DUMP snapshot bview.20020722.2337.gz', () => {
  it('re-encodes all 115,521 routes identically and prints them as bgpdump does', () => {
    const expected = readLines(corpusFile('bview.20020722.2337.gz.bgpdump.gz'));
    const lines: string[] = [];
    const rtFailures: string[] = [];
    let routes = 0;
    let roundTripped = 0;
    let withErrors = 0;
    for (const rec of mrtRecords(readDump(corpusFile('bview.20020722.2337.gz')))) {
      if (rec.kind !== 'table-dump') continue;
      routes++;
      const ctx = recordContext(false, false);
      const msg = decodeUpdate(tableDumpUpdate(rec), ctx);
      if (msg.errors) withErrors++;
      const rt = roundTrip(msg, ctx);
      if (rt === null) roundTripped++;
      else if (rtFailures.length < 3) rtFailures.push(`route ${routes}: ${rt}`);
      const prefix = msg.nlri[0]?.prefix ?? msg.attributes.mpReach?.nlri[0]?.prefix ?? rec.prefix;
      lines.push(bgpdumpRouteLine({ label: 'TABLE_DUMP', time: rec.time, peerIp: rec.peerIp, peerAs: rec.peerAs }, prefix, msg.attributes));
    }
    expect(rtFailures, rtFailures.join('\n')).toEqual([]);
    expect(routes).toBe(115_521);
    expect(withErrors).toBe(0);
    expect(roundTripped).toBe(115_521);
    const d = diffLines(lines, expected);
    expect(d.mismatches, d.report.join('\n')).toBe(0);
    expect(d.compared).toBe(115_521);
  });
});

describe('corpus: TABLE_DUMP_V2 ADD-PATH snapshots', () => {
  const cases: [string, number][] = [
    ['bview.ipv4_unicast_add_path.gz', 62],
    ['bview.ipv6_unicast_add_path.gz', 62],
  ];
  for (const [name, count] of cases) {
    it(`${name}: ${count} RIB entries decode, round-trip and match bgpdump`, () => {
      const expected = readLines(corpusFile(`${name}.bgpdump.gz`));
      const lines: string[] = [];
      let peers: PeerEntry[] = [];
      let entries = 0;
      let withPathId = 0;
      let empty = 0;
      for (const rec of mrtRecords(readDump(corpusFile(name)))) {
        if (rec.kind === 'peer-index') peers = rec.peers;
        if (rec.kind !== 'rib') continue;
        expect(rec.addPath).toBe(true);
        const ctx = recordContext(true, rec.addPath);
        for (const e of rec.entries) {
          entries++;
          const peer = peers[e.peerIndex];
          if (!peer) throw new Error(`peer index ${e.peerIndex} not in the PEER_INDEX_TABLE`);
          const { frame, prefixInMessage } = ribEntryUpdate(rec, e);
          const msg = decodeUpdate(frame, ctx);
          if (e.attributes.length === 0 && prefixInMessage) {
            // A route with no attributes at all (the collector's own, peer
            // 0.0.0.0): as an UPDATE it lacks ORIGIN, AS_PATH and NEXT_HOP,
            // which RFC 7606 §3 (d) makes treat-as-withdraw.
            expect(errorIds(msg)).toEqual(['3/3/treat-as-withdraw/1', '3/3/treat-as-withdraw/2', '3/3/treat-as-withdraw/3']);
            empty++;
          } else {
            expect(msg.errors).toBeUndefined();
          }
          expect(roundTrip(msg, ctx)).toBeNull();
          if (prefixInMessage) {
            const n = msg.nlri[0] ?? msg.attributes.mpReach?.nlri[0];
            expect(n?.pathId).toBe(e.pathId);
            withPathId++;
          }
          const label = rec.addPath ? 'TABLE_DUMP2_AP' : 'TABLE_DUMP2';
          lines.push(bgpdumpRouteLine({ label, time: rec.time, peerIp: peer.ip, peerAs: peer.asn }, rec.prefix, msg.attributes, e.pathId));
        }
      }
      expect(entries).toBe(count);
      // The IPv4 file's path ids travel inside the UPDATE's NLRI; the IPv6
      // file's entries have no MP_REACH_NLRI, so their prefix stays outside.
      expect(withPathId).toBe(name.includes('ipv4') ? count : 0);
      expect(empty).toBe(name.includes('ipv4') ? 2 : 0);
      const d = diffLines(lines, expected);
      expect(d.mismatches, d.report.join('\n')).toBe(0);
      expect(d.compared).toBe(count);
    });
  }
});
