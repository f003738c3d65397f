// The dns check's pure half: the query it sends (annotated bytes), how a
// response decoded by dns-packet is reduced (full rcode, record data as
// presentation text), malformed input, and judgeResponse. The sockets are
// tested in checks-loopback.test.ts and against nsd in real-servers.test.ts.
import { describe, expect, it } from 'vitest';
import { encodeQuery, judgeResponse, queryLabels, rcodeName, readResponse } from '../../../../src/sources/health/checks/dns.js';

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

// example.org SOA, with more records in the additional section, names
// compressed against the question (offset 12 = example.org).
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

// One answer of each type the check renders, for the question WWW.example.org
// A (mixed case: names are compared and printed in lower case).
// Offsets: 12 = WWW.example.org, 16 = example.org.
const RECORDS = hex(`
  0001 8180 0001 0008 0000 0001       # QR RD RA, NOERROR; QD=1 AN=8 NS=0 AR=1
  03 575757 07 6578616d706c65 03 6f7267 00 0001 0001
  c00c 0001 0001 0000003c 0004 c0000250                          # A 192.0.2.80
  c00c 001c 0001 0000003c 0010 20010db8000000000000000000000050  # AAAA 2001:db8::50
  c010 000f 0001 0000003c 0004 000a c00c                         # MX 10 www.example.org.
  c010 0010 0001 0000003c 000d 05 68656c6c6f 04 7722226f 01 09   # TXT "hello" "w\\"\\"o" "\\009"
  c010 0021 0001 0000003c 0008 0001 0002 0035 c00c               # SRV 1 2 53 www.example.org.
  c010 0101 0001 0000003c 0016 00 05 6973737565 6c657473656e63727970742e6f7267  # CAA 0 issue "letsencrypt.org"
  c00c 0005 0001 0000003c 0002 c010                              # CNAME example.org.
  c00c 0041 0001 0000003c 0003 000102                            # TYPE65 (RFC 3597 §5)
  00 0029 04d0 00000000 0000                                     # OPT
`);

describe('DNS query and response', () => {
  it('encodes the query exactly as annotated: RD, class IN, EDNS(0) advertising 1232 octets', () => {
    expect(toHex(encodeQuery(0x1234, 'example.org', 'SOA'))).toBe(toHex(QUERY));
    expect(toHex(encodeQuery(0x1234, 'example.org.', 'SOA'))).toBe(toHex(QUERY));
  });

  it('reads a compressed response; the rcode, the question and the answer section', () => {
    expect(readResponse(RESPONSE)).toEqual({
      id: 0x1234,
      response: true,
      truncated: false,
      rcode: 0,
      questions: [{ name: 'example.org', type: 'SOA', class: 'IN' }],
      answers: [{ name: 'example.org', type: 'SOA', data: 'ns1.example.org. hostmaster.example.org. 1 3600 900 604800 300' }],
    });
    expect(readResponse(QUERY)).toMatchObject({ id: 0x1234, response: false, questions: [{ name: 'example.org', type: 'SOA' }] });
  });

  it('renders each record type in presentation form, names in lower case', () => {
    const m = readResponse(RECORDS);
    expect(m.questions).toEqual([{ name: 'www.example.org', type: 'A', class: 'IN' }]);
    expect(m.answers.map((a) => [a.name, a.type, a.data])).toEqual([
      ['www.example.org', 'A', '192.0.2.80'],
      ['www.example.org', 'AAAA', '2001:db8::50'],
      ['example.org', 'MX', '10 www.example.org.'],
      ['example.org', 'TXT', '"hello" "w\\"\\"o" "\\009"'],
      ['example.org', 'SRV', '1 2 53 www.example.org.'],
      ['example.org', 'CAA', '0 issue "letsencrypt.org"'],
      ['www.example.org', 'CNAME', 'example.org.'],
      ['www.example.org', 'TYPE65', '\\# 3 000102'],
    ]);
  });

  it('takes the upper rcode bits from the OPT record (RFC 6891 §6.1.3)', () => {
    const badvers = readResponse(hex(`0001 8000 0000 0000 0000 0001  00 0029 0200 01000000 0000`));
    expect([badvers.rcode, rcodeName(badvers.rcode)]).toEqual([16, 'BADVERS']);
    const nx = readResponse(hex(`0001 8003 0000 0000 0000 0000`));
    expect([nx.rcode, rcodeName(nx.rcode)]).toEqual([3, 'NXDOMAIN']);
    expect(rcodeName(11)).toBe('RCODE11');
  });

  it('rejects a message cut anywhere with an Error saying why', () => {
    for (const msg of [RESPONSE, RECORDS]) {
      for (let n = 0; n < msg.length; n++) {
        expect(() => readResponse(msg.subarray(0, n)), `cut at ${n} of ${msg.length}`).toThrow(Error);
      }
    }
    expect(() => readResponse(hex(`0001 8000 0001 0000 0000 0000  07 65786170`))).toThrow('Cannot decode name (buffer overflow)');
    expect(() => readResponse(hex(`0001 8000 0000`))).toThrow('the message has 6 octets, less than a header (12)');
    expect(() => readResponse(hex(`0001 8000 ffff ffff ffff ffff`))).toThrow("the header's counts need at least 2490342 octets, the message has 12");
    expect(() => readResponse(hex(`0001 8000 0001 0000 0000 0000  03 777777 00 0001`))).toThrow('the message ends before its last field');
    // A TXT string running past the end: dns-packet's own walk does not notice, the length check does.
    expect(() => readResponse(hex(`0001 8000 0000 0001 0000 0000  00 0010 0001 00000000 0010 02 6869`))).toThrow('the message ends before its last field');
  });

  it('rejects a compression pointer that does not point backwards (a loop)', () => {
    expect(() => readResponse(hex(`0001 8000 0001 0000 0000 0000  c00c 0001 0001`))).toThrow(/bad pointer/);
  });

  it('random bytes only ever raise an Error', () => {
    let seed = 7;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed & 0xff);
    let decoded = 0;
    for (let i = 0; i < 3000; i++) {
      const b = Uint8Array.from({ length: 12 + (rnd() % 80) }, rnd);
      if (i % 2 === 0) b.set(RESPONSE.subarray(0, 12));
      try {
        const m = readResponse(b);
        decoded++;
        for (const a of m.answers) expect(typeof a.data).toBe('string');
      } catch (e) {
        expect(e).toBeInstanceOf(Error);
      }
    }
    console.log(`random bytes: ${decoded} of 3000 decoded, the rest raised an Error`);
  });

  it('checks name limits before encoding (RFC 1035 §2.3.4)', () => {
    expect(queryLabels('.')).toEqual([]);
    expect(queryLabels('Example.ORG.')).toEqual(['Example', 'ORG']);
    expect(() => encodeQuery(1, `${'a'.repeat(64)}.org`, 'A')).toThrow(/longer than 63/);
    expect(() => queryLabels(Array(130).fill('ab').join('.'))).toThrow(/longer than 255/);
    expect(() => queryLabels('a..org')).toThrow(/empty label/);
  });
});

describe('judging a response', () => {
  const spec = { query: 'Example.ORG.', type: 'SOA', rcode: 'NOERROR' } as const;
  const label = 'DNS example.org SOA @127.0.0.1:53/udp';
  const m = readResponse(RESPONSE);

  it('accepts the matching response, with the answer in the detail', () => {
    expect(judgeResponse(spec, 0x1234, m, label, true)).toEqual({
      kind: 'done',
      ok: true,
      detail: `${label}: NOERROR, 1 answer: ns1.example.org. hostmaster.example.org. 1 3600 900 604800 300`,
    });
    const www = { query: 'www.example.org', type: 'A', rcode: 'NOERROR' } as const;
    expect(judgeResponse(www, 1, readResponse(RECORDS), label, true)).toMatchObject({ ok: true, detail: `${label}: NOERROR, 8 answers: 192.0.2.80 …` });
  });

  it('ignores a wrong ID, a query, or a different question (RFC 5452 §4.3)', () => {
    expect(judgeResponse(spec, 0x4321, m, label, true)).toMatchObject({ kind: 'ignore', why: 'a response with ID 4660, not our 17185' });
    expect(judgeResponse({ ...spec, type: 'A' }, 0x1234, m, label, true)).toMatchObject({ kind: 'ignore', why: 'a response to another question (example.org SOA)' });
    expect(judgeResponse({ ...spec, query: 'example.com' }, 0x1234, m, label, true)).toMatchObject({ kind: 'ignore' });
    expect(judgeResponse(spec, 0x1234, readResponse(QUERY), label, true)).toMatchObject({ kind: 'ignore', why: 'a message without the QR (response) bit' });
    expect(judgeResponse(spec, 0x1234, { ...m, questions: [] }, label, true)).toMatchObject({ kind: 'ignore', why: 'a response to another question (no question)' });
  });

  it('matches the answer text in any record, without regard to case, and checks the rcode', () => {
    expect(judgeResponse({ ...spec, answer: 'HOSTMASTER.example' }, 0x1234, m, label, true)).toMatchObject({ ok: true });
    expect(judgeResponse({ ...spec, answer: 'ns2.' }, 0x1234, m, label, true)).toMatchObject({ ok: false, detail: expect.stringContaining('no answer contains "ns2."') });
    expect(judgeResponse({ ...spec, rcode: 'NXDOMAIN' }, 0x1234, m, label, true)).toMatchObject({ ok: false, detail: expect.stringContaining('NOERROR (expected NXDOMAIN)') });
    const www = { query: 'www.example.org', type: 'A', rcode: 'NOERROR' } as const;
    expect(judgeResponse({ ...www, answer: '2001:DB8::50' }, 1, readResponse(RECORDS), label, true)).toMatchObject({ ok: true, detail: `${label}: NOERROR, answer 2001:db8::50` });
    expect(judgeResponse({ ...www, answer: 'issue "letsencrypt' }, 1, readResponse(RECORDS), label, true)).toMatchObject({ ok: true });
  });

  it('asks for TCP on a truncated UDP response; over TCP the TC bit is not looked at', () => {
    const tc = Uint8Array.from(RESPONSE);
    tc[2] = tc[2]! | 0x02;
    expect(judgeResponse(spec, 0x1234, readResponse(tc), label, true)).toEqual({ kind: 'truncated' });
    expect(judgeResponse(spec, 0x1234, readResponse(tc), label, false)).toMatchObject({ kind: 'done', ok: true });
  });

  it('fails NOERROR with no answer records (NODATA); an expected NXDOMAIN needs none', () => {
    const nodata = hex(`1234 8180 0001 0000 0000 0000  07 6578616d706c65 03 6f7267 00 0006 0001`);
    expect(judgeResponse(spec, 0x1234, readResponse(nodata), label, true)).toMatchObject({ ok: false, detail: `${label}: NOERROR but no answer records` });
    const nx = Uint8Array.from(nodata);
    nx[3] = 0x83;
    expect(judgeResponse({ ...spec, rcode: 'NXDOMAIN' }, 0x1234, readResponse(nx), label, true)).toMatchObject({ ok: true, detail: `${label}: NXDOMAIN, no answer records` });
  });
});
