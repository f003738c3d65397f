/**
 * Corpus test: every BGP message in the RIS/LINX update dumps decoded by
 * herald's message codec and printed in `bgpdump -m` format must equal the
 * line bgpdump printed for it (../shared/data/mrt, produced by bgpdump -vm).
 *
 * MESSAGE records are decoded with 2-octet AS numbers, so RFC 6793 AS4_PATH /
 * AS4_AGGREGATOR reconstruction is exercised on real data; MESSAGE_AS4
 * records with 4-octet AS numbers.
 */
import { describe, expect, it } from 'vitest';
import { decodeMessage } from '../../bgp/wire/messages/index.js';
import { BgpError } from '../../bgp/wire/errors.js';
import { mrtRecords, readDump, readLines, type Bgp4mpMessage } from './mrt.js';
import { bgpdumpUpdateLines, type LineHead } from './bgpdump.js';
import { corpusFile, diffLines, recordContext } from './corpus-support.js';

/** Decode every BGP4MP message of a dump and render it as bgpdump -m would. */
function renderUpdates(file: string): { lines: string[]; messages: number; updates: number; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  let messages = 0;
  let updates = 0;
  for (const rec of mrtRecords(readDump(file))) {
    if (rec.kind !== 'bgp4mp-message') continue;
    messages++;
    const m = rec satisfies Bgp4mpMessage;
    const label = `${m.type === 17 ? 'BGP4MP_ET' : 'BGP4MP'}${m.local ? '_LOCAL' : ''}${m.addPath ? '_AP' : ''}`;
    const head: LineHead = { label, time: m.time, peerIp: m.local ? m.localIp : m.peerIp, peerAs: m.local ? m.localAs : m.peerAs };
    if (m.micros !== undefined) head.micros = m.micros;
    try {
      const msg = decodeMessage(m.message, recordContext(m.as4, m.addPath));
      if (msg.type !== 'update') continue;
      updates++;
      lines.push(...bgpdumpUpdateLines(head, msg, m.addPath));
    } catch (e) {
      if (!(e instanceof BgpError)) throw e;
      errors.push(`${m.time} ${m.peerIp}: ${e.message}`);
      lines.push(`<decode error: ${e.message}>`);
    }
  }
  return { lines, messages, updates, errors };
}

describe('corpus: BGP4MP update dumps against bgpdump -m', () => {
  let total = 0;

  const cases: [string, number, number][] = [
    // file, expected bgpdump lines, BGP4MP message records
    ['updates.20070211.0141.gz', 53_657, 23_394],
    ['updates.20071015.1505.gz', 10_496, 4_297],
  ];

  for (const [name, lineCount, recordCount] of cases) {
    it(`${name}: every line equals bgpdump's`, () => {
      const expected = readLines(corpusFile(`${name}.bgpdump.gz`));
      const got = renderUpdates(corpusFile(name));
      const d = diffLines(got.lines, expected);
      expect(got.errors, got.errors.slice(0, 5).join('\n')).toEqual([]);
      expect(d.mismatches, d.report.join('\n')).toBe(0);
      expect(expected.length).toBe(lineCount);
      expect(got.messages).toBe(recordCount);
      expect(d.compared).toBe(lineCount);
      total += d.compared;
    });
  }

  it('compared more than 60,000 lines in all', () => {
    expect(total).toBe(53_657 + 10_496);
    expect(total).toBeGreaterThan(60_000);
  });

  it('updates.nlri_mask_trailing_bits.gz: host bits past the length are masked (11.8.0.0/13)', () => {
    // The one UPDATE's NLRI field is 0d 0b 0d | 0b: 11.13.0.0/13 with host
    // bits set, then a 1-octet stub (length 11, no address octets). bgpdump
    // prints the first prefix masked and silently drops the stub. herald
    // must not: RFC 7606 §5.3 makes an NLRI overrun a session reset.
    const expected = readLines(corpusFile('updates.nlri_mask_trailing_bits.gz.bgpdump.gz'));
    const recs = [...mrtRecords(readDump(corpusFile('updates.nlri_mask_trailing_bits.gz')))];
    expect(recs).toHaveLength(1);
    const m = recs[0]!;
    if (m.kind !== 'bgp4mp-message') throw new Error(`unexpected record ${m.kind}`);
    const ctx = recordContext(m.as4, false);
    let err: unknown;
    try {
      decodeMessage(m.message, ctx);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BgpError);
    expect((err as BgpError).code).toBe(3);
    expect((err as BgpError).subcode).toBe(10); // Invalid Network Field
    expect((err as BgpError).action).toBe('session-reset');

    // Without the stub (what bgpdump effectively parses) the decode must
    // mask the host bits and print exactly bgpdump's line.
    const trimmed = m.message.slice(0, m.message.length - 1);
    trimmed[16] = (trimmed.length >>> 8) & 0xff;
    trimmed[17] = trimmed.length & 0xff;
    const msg = decodeMessage(trimmed, ctx);
    if (msg.type !== 'update') throw new Error(`decoded a ${msg.type}`);
    expect(msg.nlri).toHaveLength(1);
    expect(Array.from(msg.nlri[0]!.prefix.addr)).toEqual([11, 8, 0, 0]);
    const lines = bgpdumpUpdateLines({ label: 'BGP4MP', time: m.time, peerIp: m.peerIp, peerAs: m.peerAs }, msg);
    expect(lines).toEqual(expected);
    expect(lines[0]).toContain('|11.8.0.0/13|');
  });
});
