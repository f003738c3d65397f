// The dns check's message codec: an annotated query both ways, a response
// with name compression and the classic record types, malformed input.
import { describe, expect, it } from 'vitest';
import { decodeMessage, DnsFormatError, encodeQuery, nameLabels, RrType } from '../../../../src/sources/health/dns-message.js';
import { judgeResponse } from '../../../../src/sources/health/checks/dns.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/#.*$/gm, '').replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

const QUERY = hex(`
  1234            # ID
  0100            # QR=0 opcode=0 RD=1
  0001 0000 0000 0001   # QD=1 AN=0 NS=0 AR=1
  07 6578616d706c65 03 6f7267 00   # example.org.
  0006 0001       # SOA IN
  00 0029 04d0 00000000 0000       # OPT: root, UDP 1232, ext-rcode/version/flags 0, no options
`);

// A response: example.org SOA, plus A/AAAA/MX/TXT in authority/additional,
// names compressed against the question (offset 12 = example.org).
const RESPONSE = hex(`
  1234 8580 0001 0001 0000 0004       # QR AA RD, NOERROR; QD=1 AN=1 NS=0 AR=4
  07 6578616d706c65 03 6f7267 00 0006 0001
  c00c 0006 0001 00000e10 0027        # example.org SOA IN ttl 3600 rdlen 39
     03 6e7331 c00c                   # ns1.example.org.
     0a 686f73746d6173746572 c00c     # hostmaster.example.org.
     00000001 00000e10 00000384 00093a80 0000012c
  03 777777 c00c 0001 0001 0000003c 0004 c0000250   # www A 192.0.2.80
  c050 001c 0001 0000003c 0010 20010db8000000000000000000000050  # www AAAA 2001:db8::50
  c00c 000f 0001 0000003c 0004 000a c029              # MX 10 ns1.example.org.
  c00c 0010 0001 0000003c 000b 05 68656c6c6f 04 7722226f   # TXT "hello" "w\\"\\"o"
`);

describe('DNS message codec', () => {
  it('encodes a query exactly as annotated', () => {
    expect(toHex(encodeQuery({ id: 0x1234, name: 'example.org', type: RrType.SOA }))).toBe(toHex(QUERY));
    expect(toHex(encodeQuery({ id: 0x1234, name: 'example.org.', type: RrType.SOA }))).toBe(toHex(QUERY));
  });

  it('decodes its own query back', () => {
    const m = decodeMessage(QUERY);
    expect(m).toMatchObject({ id: 0x1234, response: false, recursionDesired: true, rcode: 0, questions: [{ name: 'example.org', type: 6, class: 1 }] });
    expect(m.additional[0]).toMatchObject({ name: '', type: RrType.OPT, class: 1232 });
  });

  it('decodes a compressed response and renders each type in presentation form', () => {
    const m = decodeMessage(RESPONSE);
    expect(m.response && m.authoritative && !m.truncated).toBe(true);
    expect(m.answers).toEqual([
      { name: 'example.org', type: 6, class: 1, ttl: 3600, data: 'ns1.example.org. hostmaster.example.org. 1 3600 900 604800 300' },
    ]);
    expect(m.additional.map((r) => [r.name, r.data])).toEqual([
      ['www.example.org', '192.0.2.80'],
      ['www.example.org', '2001:db8::50'],
      ['example.org', '10 ns1.example.org.'],
      ['example.org', '"hello" "w\\"\\"o"'],
    ]);
  });

  it('takes the upper rcode bits from the OPT record (RFC 6891 §6.1.3)', () => {
    const b = hex(`0001 8000 0000 0000 0000 0001  00 0029 0200 01000000 0000`);
    expect(decodeMessage(b).rcode).toBe(16); // BADVERS
  });

  it('rejects truncation anywhere with DnsFormatError, never another error', () => {
    for (let n = 0; n < RESPONSE.length; n++) {
      let err: unknown;
      try {
        decodeMessage(RESPONSE.subarray(0, n));
      } catch (e) {
        err = e;
      }
      expect(err, `cut at ${n}`).toBeInstanceOf(DnsFormatError);
    }
  });

  it('rejects a compression pointer that does not point backwards (a loop)', () => {
    const loop = hex(`0001 8000 0001 0000 0000 0000  c00c 0001 0001`);
    expect(() => decodeMessage(loop)).toThrow(/does not point backwards/);
    expect(() => decodeMessage(RESPONSE.subarray(0, 17))).toThrow("truncated DNS message: label needs 7 bytes, 4 left");
  });

  it('random bytes only ever raise DnsFormatError', () => {
    let seed = 7;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed & 0xff);
    for (let i = 0; i < 3000; i++) {
      const b = Uint8Array.from({ length: 12 + (rnd() % 80) }, rnd);
      if (i % 2 === 0) b.set(RESPONSE.subarray(0, 12));
      try {
        decodeMessage(b);
      } catch (e) {
        expect(e).toBeInstanceOf(DnsFormatError);
      }
    }
  });

  it('checks name limits when encoding (RFC 1035 §2.3.4)', () => {
    expect(nameLabels('.')).toEqual([]);
    expect(() => nameLabels(`${'a'.repeat(64)}.org`)).toThrow(/longer than 63/);
    expect(() => nameLabels(Array(130).fill('ab').join('.'))).toThrow(/longer than 255/);
    expect(() => nameLabels('a..org')).toThrow(/empty label/);
  });
});

describe('judging a response', () => {
  const spec = { query: 'Example.ORG.', type: 'SOA', rcode: 'NOERROR' } as const;
  const label = 'DNS example.org SOA @127.0.0.1:53/udp';
  const m = decodeMessage(RESPONSE);

  it('accepts the matching response, with the answer in the detail', () => {
    expect(judgeResponse(spec, 0x1234, m, label, true)).toEqual({
      kind: 'done',
      ok: true,
      detail: `${label}: NOERROR, 1 answer: ns1.example.org. hostmaster.example.org. 1 3600 900 604800 300`,
    });
  });

  it('ignores a wrong ID or a different question (RFC 5452)', () => {
    expect(judgeResponse(spec, 0x4321, m, label, true)).toMatchObject({ kind: 'ignore', why: 'a response with ID 4660, not our 17185' });
    expect(judgeResponse({ ...spec, type: 'A' }, 0x1234, m, label, true)).toMatchObject({ kind: 'ignore', why: 'a response to another question (example.org SOA)' });
    expect(judgeResponse(spec, 0x1234, decodeMessage(QUERY), label, true)).toMatchObject({ kind: 'ignore' });
  });

  it('checks the expected answer text and rcode', () => {
    expect(judgeResponse({ ...spec, answer: 'HOSTMASTER.example' }, 0x1234, m, label, true)).toMatchObject({ ok: true });
    expect(judgeResponse({ ...spec, answer: 'ns2.' }, 0x1234, m, label, true)).toMatchObject({ ok: false, detail: expect.stringContaining('no answer contains "ns2."') });
    expect(judgeResponse({ ...spec, rcode: 'NXDOMAIN' }, 0x1234, m, label, true)).toMatchObject({ ok: false, detail: expect.stringContaining('NOERROR (expected NXDOMAIN)') });
  });

  it('asks for TCP on a truncated UDP response', () => {
    const tc = Uint8Array.from(RESPONSE);
    tc[2] = tc[2]! | 0x02;
    expect(judgeResponse(spec, 0x1234, decodeMessage(tc), label, true)).toEqual({ kind: 'truncated' });
  });

  it('fails NOERROR with no answer records (NODATA)', () => {
    const nodata = hex(`1234 8180 0001 0000 0000 0000  07 6578616d706c65 03 6f7267 00 0006 0001`);
    expect(judgeResponse(spec, 0x1234, decodeMessage(nodata), label, true)).toMatchObject({ ok: false, detail: `${label}: NOERROR but no answer records` });
  });
});
