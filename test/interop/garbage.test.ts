// herald's listener fed garbage over live TCP sessions. herald runs in one
// namespace with passive peers; a raw client (support/raw-client.ts, which
// frames replies by the RFC 4271 header alone and builds nothing with
// herald's codecs) runs in another and, per case on a fresh connection from
// its own address (so IdleHold damping of one case never delays the next):
//   - header errors after Established: bad marker 1/1, bad length 1/2 with
//     the length as data, unknown type 1/3 with the type as data (RFC 4271 §6.1);
//   - OPEN errors: hold time 1 → 2/6, wrong peer AS → 2/2, version 3 → 2/1 (§6.2);
//   - UPDATE errors: unrecognized well-known attribute → 3/2, truncated
//     attribute list → 3/1 (§6.3, RFC 7606 §4);
//   - FSM errors: UPDATE in OpenSent → 5/1, OPEN in Established → 5/3 (RFC 6608);
//   - ROUTE-REFRESH BoRR of 6 octets → 7/1 with the message as data (RFC 7313 §5),
//     but in OpenSent → 5/1 (RFC 6608 §4);
//   - COMMUNITIES with a length not a multiple of 4 → treat-as-withdraw, the
//     session stays up (RFC 7606 §7.8).
// Then: 200 random-byte connections (seeded; HERALD_FUZZ_SEED replays) each
// end with a NOTIFICATION or a close; a non-peer address is closed before any
// BGP is spoken and logged once; and after all of it herald still runs, its
// counters show each case, and the first case's peer comes back to Established.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab, labReady, sleep, waitFor } from './lab/index.js';
import { HeraldProcess } from './support/herald-process.js';
import type { RandomPlan, RandomResult, ScriptPlan, ScriptResult, Step } from './support/raw-client.js';
import type { PeerConfig, PeerSnapshot } from '../../bgp/index.js';
import { prng } from '../support/prng.js';

const ready = labReady([], 'garbage interop');
const RAW_CLIENT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'support', 'raw-client.ts');

const HERALD_AS = 65011;
const CLIENT_AS = 65020;
const HERALD_V4 = '192.0.2.1';
const HERALD_V6 = '2001:db8:0:7::1';
const CLIENT_ID = '192.0.2.2';
const STRANGER = '192.0.2.99';
const RANDOM_CONNECTIONS = 200;

// ------------------------------------------------------------ hand-built messages (RFC 4271 §4)

const hex = (n: number, bytes: number): string => n.toString(16).padStart(bytes * 2, '0');
const MARKER = 'ff'.repeat(16);

/** A whole message: marker, length, type, body (hex). */
function msg(type: number, body = ''): string {
  return MARKER + hex(19 + body.length / 2, 2) + hex(type, 1) + body;
}

function ipv4Hex(a: string): string {
  return a
    .split('.')
    .map((o) => hex(Number(o), 1))
    .join('');
}

/** OPEN with Multiprotocol (IPv4, and IPv6 when asked) and 4-octet AS capabilities. */
function open(o: { version?: number; asn?: number; hold?: number; id?: string; v6?: boolean } = {}): string {
  const asn = o.asn ?? CLIENT_AS;
  let caps = '0104' + '00010001';
  if (o.v6) caps += '0104' + '00020001';
  caps += '4104' + hex(asn, 4);
  const param = '02' + hex(caps.length / 2, 1) + caps;
  const body =
    hex(o.version ?? 4, 1) + hex(asn > 0xffff ? 23456 : asn, 2) + hex(o.hold ?? 90, 2) + ipv4Hex(o.id ?? CLIENT_ID) + hex(param.length / 2, 1) + param;
  return msg(1, body);
}

const KEEPALIVE = msg(4);

/** One path attribute: flags, type, 1-octet length, value. */
function attr(flags: number, type: number, value: string): string {
  return hex(flags, 1) + hex(type, 1) + hex(value.length / 2, 1) + value;
}

const ORIGIN_IGP = attr(0x40, 1, '00');
const AS_PATH = attr(0x40, 2, '0201' + hex(CLIENT_AS, 4));
const NEXT_HOP = attr(0x40, 3, ipv4Hex(CLIENT_ID));
const NLRI_203 = '18' + 'cb0071'; // 203.0.113.0/24

/** UPDATE body: withdrawn routes length + routes, attribute length + attributes, NLRI. */
function update(attrs: string, nlri = NLRI_203, attrLen = attrs.length / 2): string {
  return msg(2, '0000' + hex(attrLen, 2) + attrs + nlri);
}

/** OPEN/OPEN, KEEPALIVE/KEEPALIVE: the client side of reaching Established. */
const ESTABLISH: Step[] = [{ send: open() }, { expect: 1 }, { send: KEEPALIVE }, { expect: 4 }];

interface Case {
  name: string;
  steps: Step[];
  /** Expected NOTIFICATION; data checked only when given (hex). */
  code: number;
  subcode: number;
  data?: string;
}

const CASES: Case[] = [
  { name: 'marker', steps: [...ESTABLISH, { send: 'ff'.repeat(15) + 'fe' + '0013' + '04' }], code: 1, subcode: 1, data: '' },
  { name: 'len18', steps: [...ESTABLISH, { send: MARKER + '0012' + '04' }], code: 1, subcode: 2, data: '0012' },
  { name: 'len4097', steps: [...ESTABLISH, { send: MARKER + '1001' + '02' + '00'.repeat(8) }], code: 1, subcode: 2, data: '1001' },
  { name: 'type9', steps: [...ESTABLISH, { send: MARKER + '0013' + '09' }], code: 1, subcode: 3, data: '09' },
  { name: 'hold1', steps: [{ send: open({ hold: 1 }) }], code: 2, subcode: 6 },
  { name: 'peeras', steps: [{ send: open({ asn: 65099 }) }], code: 2, subcode: 2 },
  { name: 'version3', steps: [{ send: open({ version: 3 }) }], code: 2, subcode: 1 },
  {
    name: 'wellknown',
    // Type 100 with the Optional bit clear: a well-known attribute nobody defined.
    steps: [...ESTABLISH, { send: update(ORIGIN_IGP + AS_PATH + NEXT_HOP + attr(0x40, 100, '00')) }],
    code: 3,
    subcode: 2,
    data: '40640100',
  },
  {
    name: 'truncated',
    // Total Path Attribute Length says 32; the message ends after 4 octets of attributes.
    steps: [...ESTABLISH, { send: msg(2, '0000' + '0020' + ORIGIN_IGP) }],
    code: 3,
    subcode: 1,
  },
  // RFC 6608 §3: the data is the type of the unexpected message.
  { name: 'opensent', steps: [{ expect: 1 }, { send: update(ORIGIN_IGP + AS_PATH + NEXT_HOP) }], code: 5, subcode: 1, data: '02' },
  { name: 'reopen', steps: [...ESTABLISH, { send: open() }], code: 5, subcode: 3, data: '01' },
  // RFC 7313 §5: a BoRR/EoRR body that is not 4 octets; "The Data field ... MUST contain the complete ROUTE-REFRESH message."
  { name: 'rrlen', steps: [...ESTABLISH, { send: msg(5, '000101010101') }], code: 7, subcode: 1, data: msg(5, '000101010101') },
  // The same message before the OPEN exchange is first of all unexpected (RFC 6608 §4).
  { name: 'rropensent', steps: [{ expect: 1 }, { send: msg(5, '000101010101') }], code: 5, subcode: 1, data: '05' },
];

// ------------------------------------------------------------ random bytes

function randomHex(rnd: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += hex(Math.floor(rnd() * 256), 1);
  return s;
}

/** Flip a few random bits of a hex string, never inside the first `keep` octets. */
function flipBits(rnd: () => number, h: string, keep: number): string {
  const b = Buffer.from(h, 'hex');
  const flips = 1 + Math.floor(rnd() * 4);
  for (let i = 0; i < flips && b.length > keep; i++) {
    const at = keep + Math.floor(rnd() * (b.length - keep));
    b[at]! ^= 1 << Math.floor(rnd() * 8);
  }
  return b.toString('hex');
}

/** Five shapes: raw noise, a framed header with noise, framed noise of a real type, and noise or mutation after Established. */
function randomConnection(rnd: () => number, kind: number): string {
  const body = randomHex(rnd, Math.floor(rnd() * 100));
  switch (kind) {
    case 0:
      return randomHex(rnd, 1 + Math.floor(rnd() * 120));
    case 1:
      return MARKER + hex(Math.floor(rnd() * 65536), 2) + hex(Math.floor(rnd() * 256), 1) + body;
    case 2:
      return msg(1 + Math.floor(rnd() * 5), body);
    case 3:
      return open({ v6: true }) + KEEPALIVE + msg(2, body);
    default: {
      const good = update(ORIGIN_IGP + AS_PATH + NEXT_HOP + attr(0xc0, 8, hex(CLIENT_AS, 2) + '0035'));
      return open({ v6: true }) + KEEPALIVE + MARKER + flipBits(rnd, good.slice(32), 3);
    }
  }
}

// ------------------------------------------------------------ the test

describe.skipIf(!ready)('herald fed garbage on live sessions', () => {
  const lab = new Lab();
  let hns: string;
  let cns: string;
  let herald: HeraldProcess;
  const caseAddr = (i: number): string => `192.0.2.${20 + i}`;
  const finalAddr = caseAddr(CASES.length);
  const fuzzAddr = (i: number): string => `2001:db8:0:7::1:${i.toString(16)}`;
  const results = new Map<string, ScriptResult>();

  async function client<T>(plan: ScriptPlan | RandomPlan, timeoutMs = 30_000): Promise<T> {
    const res = await lab.exec(cns, process.execPath, ['--import', 'tsx', RAW_CLIENT], { input: JSON.stringify(plan), timeoutMs });
    return JSON.parse(res.stdout.trim().split('\n').pop()!) as T;
  }

  const script = (localAddress: string, steps: Step[], waitCloseMs = 3_000): Promise<ScriptResult> =>
    client<ScriptResult>({ mode: 'script', host: HERALD_V4, port: 179, localAddress, steps, waitCloseMs });

  const snap = async (name: string): Promise<PeerSnapshot> => (await herald.snapshot()).find((s) => s.name === name)!;

  beforeAll(async () => {
    hns = await lab.addNamespace('herald');
    cns = await lab.addNamespace('client');
    await lab.veth(
      { ns: hns, ifname: 'eth0', addresses: [`${HERALD_V4}/24`, `${HERALD_V6}/64`] },
      { ns: cns, ifname: 'eth0', addresses: [`${CLIENT_ID}/24`, '2001:db8:0:7::2/64'] },
    );
    // One client address per case, one for the stranger, one per random connection.
    const batch: string[] = [];
    for (let i = 0; i <= CASES.length; i++) batch.push(`address add ${caseAddr(i)}/24 dev eth0`);
    batch.push(`address add ${STRANGER}/24 dev eth0`);
    for (let i = 0; i < RANDOM_CONNECTIONS; i++) batch.push(`address add ${fuzzAddr(i)}/64 dev eth0 nodad`);
    await lab.ip(cns, ['-batch', '-'], { input: batch.join('\n') + '\n' });

    const peers: PeerConfig[] = CASES.map((c, i) => ({ name: `c-${c.name}`, address: caseAddr(i), asn: CLIENT_AS, passive: true }));
    peers.push({ name: 'c-twa', address: finalAddr, asn: CLIENT_AS, passive: true });
    for (let i = 0; i < RANDOM_CONNECTIONS; i++) {
      peers.push({ name: `fz${i}`, address: fuzzAddr(i), asn: CLIENT_AS, passive: true, families: ['ipv4', 'ipv6'] });
    }
    herald = new HeraldProcess(hns, { asn: HERALD_AS, routerId: HERALD_V4, listen: { address: '::', port: 179 } }, peers);
    await herald.start();
  });

  afterAll(async () => {
    herald?.kill();
    await lab.close();
  });

  it.each(CASES.map((c, i) => [c.name, c, i] as const))('%s: herald answers with the RFC NOTIFICATION and closes', async (_n, c, i) => {
    const r = await script(caseAddr(i), c.steps);
    console.log(`garbage ${c.name}: ${JSON.stringify(r.received.filter((m) => m.type === 3))}`);
    expect(r.connected).toBe(true);
    expect(r.failed).toBeUndefined();
    const notes = r.received.filter((m) => m.type === 3);
    expect(notes).toHaveLength(1);
    const n = notes[0]!;
    expect([n.code, n.subcode], `${c.name} code/subcode`).toEqual([c.code, c.subcode]);
    if (c.data !== undefined) expect(n.data, `${c.name} data`).toBe(c.data);
    if (c.name === 'version3') expect(n.data).toBe('0004');
    // The NOTIFICATION is the last thing herald sends: the connection closes after it.
    expect(r.received.at(-1)!.type).toBe(3);
    expect(r.eof).toBe(true);
    results.set(c.name, r);
  });

  it('COMMUNITIES of length 5: treat-as-withdraw, no NOTIFICATION, the session stays up (RFC 7606 §7.8)', async () => {
    const good = update(ORIGIN_IGP + AS_PATH + NEXT_HOP + attr(0xc0, 8, hex(CLIENT_AS, 2) + '0035'));
    const bad = update(ORIGIN_IGP + AS_PATH + NEXT_HOP + attr(0xc0, 8, hex(CLIENT_AS, 2) + '003500'));
    const run = script(finalAddr, [...ESTABLISH, { send: good }, { sleep: 2_500 }, { send: bad }, { sleep: 4_000 }], 0);
    const received = (): Promise<{ prefix: string }[]> => herald.received('c-twa');
    await waitFor(async () => ((await received()).some((x) => x.prefix === '203.0.113.0/24') ? true : undefined), 2_400, () => 'valid UPDATE not in RIB-In', 50);
    await waitFor(
      async () => {
        const s = await snap('c-twa');
        return s.counters.updatesIn === 2 && (await received()).length === 0 ? s : undefined;
      },
      6_000,
      async () => `malformed UPDATE not treated as withdraw: ${JSON.stringify(await snap('c-twa'))}`,
      50,
    );
    expect((await snap('c-twa')).state).toBe('Established');
    const r = await run;
    expect(r.failed).toBeUndefined();
    expect(r.received.filter((m) => m.type === 3)).toEqual([]);
    expect(r.eof).toBe(false);
    expect(herald.stderr.some((l) => l.includes('c-twa') && l.includes('RFC 7606'))).toBe(true);
  });

  it(`survives ${RANDOM_CONNECTIONS} connections of random bytes; each ends with a NOTIFICATION or a close`, async () => {
    const seed = Number(process.env.HERALD_FUZZ_SEED ?? Date.now() % 2 ** 31);
    console.log(`garbage random: seed ${seed} (HERALD_FUZZ_SEED=${seed} replays it)`);
    const rnd = prng(seed);
    const connections = Array.from({ length: RANDOM_CONNECTIONS }, (_, i) => ({ localAddress: fuzzAddr(i), hex: randomConnection(rnd, i % 5) }));
    const t0 = Date.now();
    const res = await client<RandomResult>({ mode: 'random', host: HERALD_V6, port: 179, connections, concurrency: 20, replyMs: 1_500 }, 120_000);
    const tally: Record<string, number> = {};
    for (const o of res.outcomes) {
      const k = o.outcome === 'notification' ? `${o.code}/${o.subcode}` : o.outcome;
      tally[k] = (tally[k] ?? 0) + 1;
    }
    console.log(`garbage random: ${RANDOM_CONNECTIONS} connections in ${Date.now() - t0} ms: ${JSON.stringify(tally)}`);
    expect(res.outcomes).toHaveLength(RANDOM_CONNECTIONS);
    expect(res.outcomes.filter((o) => o.outcome === 'timeout' || o.outcome === 'connect-error')).toEqual([]);
    for (const o of res.outcomes.filter((x) => x.outcome === 'notification')) {
      expect(o.code).toBeGreaterThanOrEqual(1);
      // 1-6 (RFC 4271). No shape reaches Established with a ROUTE-REFRESH, so never 7
      // (RFC 7313 §5); before Established a malformed one is an FSM Error (RFC 6608).
      expect(o.code).toBeLessThanOrEqual(6);
      // Cease/Out of Resources is what herald sends when a codec threw something other than a BgpError.
      expect(`${o.code}/${o.subcode}`).not.toBe('6/8');
    }
    const byKind: Record<number, Record<string, number>> = {};
    res.outcomes.forEach((o, i) => {
      const k = o.outcome === 'notification' ? `${o.code}/${o.subcode}` : o.outcome;
      const t = (byKind[i % 5] ??= {});
      t[k] = (t[k] ?? 0) + 1;
    });
    console.log(`garbage random by shape (0 noise, 1 framed header, 2 framed type 1-5, 3 noise UPDATE, 4 mutated UPDATE): ${JSON.stringify(byKind)}`);
    res.outcomes.forEach((o, i) => {
      const bytes = Buffer.from(connections[i]!.hex, 'hex');
      // RFC 4271 §6.1: a marker octet that is not all ones is Connection Not Synchronized.
      const badMarker = bytes.subarray(0, 16).findIndex((b) => b !== 0xff) >= 0;
      if (badMarker) expect([o.outcome, o.code, o.subcode], `connection ${i}`).toEqual(['notification', 1, 1]);
      // A NOTIFICATION from the peer ends the session without one back (RFC 4271 §6.4 / §8.2.2),
      // unless it is shorter than its minimum of 21 octets: Bad Message Length (§6.1).
      const notif = i % 5 === 2 && bytes[18] === 3;
      if (notif && bytes.length >= 21) expect(o.outcome, `connection ${i}`).toBe('closed');
      if (notif && bytes.length < 21) expect([o.outcome, o.code, o.subcode], `connection ${i}`).toEqual(['notification', 1, 2]);
      if (i % 5 === 2 && !notif) expect(o.outcome, `connection ${i}`).toBe('notification');
    });
    // Most connections reach a decoder and are answered, not just dropped.
    expect(res.outcomes.filter((o) => o.outcome === 'notification').length).toBeGreaterThan(RANDOM_CONNECTIONS / 2);
    expect(herald.stderr.filter((l) => l.includes('internal decode failure'))).toEqual([]);
    const all = await herald.snapshot();
    expect(all.filter((s) => s.name.startsWith('fz') && s.counters.messagesIn + s.counters.notificationsOut > 0).length).toBeGreaterThan(RANDOM_CONNECTIONS / 2);
  });

  it('closes a connection from a non-peer address before any BGP, and logs it once', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await script(STRANGER, [], 3_000);
      expect(r.connected).toBe(true);
      expect(r.bytes).toBe(0);
      expect(r.eof).toBe(true);
    }
    const lines = herald.stderr.filter((l) => l.includes(STRANGER));
    expect(lines).toHaveLength(1);
    expect(herald.events.filter((e) => e.type === 'unknown-connection' && e.address === STRANGER)).toHaveLength(1);
    // herald is still answering after all of it.
    expect((await herald.snapshot()).length).toBe(CASES.length + 1 + RANDOM_CONNECTIONS);
  });

  it('after all of it: still running, counters show each case, the first case peer comes back to Established', async () => {
    expect(await Promise.race([herald.exited.then(() => 'exited'), sleep(50).then(() => 'running')])).toBe('running');
    const all = await herald.snapshot();
    for (const c of CASES) {
      const s = all.find((x) => x.name === `c-${c.name}`)!;
      expect(s.counters.notificationsOut, c.name).toBe(1);
      expect(s.counters.notificationsIn, c.name).toBe(0);
      expect(s.state, c.name).not.toBe('Established');
      // What herald read: the OPEN/KEEPALIVE exchange where there was one, plus the bad message.
      expect(s.counters.messagesIn, c.name).toBeGreaterThanOrEqual(c.steps.some((st) => 'send' in st && st.send === KEEPALIVE) ? 2 : 0);
      expect(s.lastDown, c.name).not.toBeNull();
    }
    const sent = herald.events.filter((e) => e.type === 'notification-sent');
    for (const c of CASES) {
      expect(sent.find((e) => e.peer === `c-${c.name}`), c.name).toMatchObject({ code: c.code, subcode: c.subcode });
    }
    // The bad-marker peer failed once: after its IdleHold (5 s) it accepts a fresh valid session.
    const name = 'c-marker';
    const before = herald.events.filter((e) => e.type === 'established' && e.peer === name).length;
    const r = await waitFor(
      async () => {
        const x = await script(caseAddr(0), [...ESTABLISH, { sleep: 300 }], 0);
        return x.failed === undefined ? x : (await sleep(500), undefined);
      },
      25_000,
      () => 'the bad-marker peer never came back to Established',
      0,
    );
    // OPEN, KEEPALIVE, then (maybe) herald's End-of-RIB UPDATE; never a NOTIFICATION.
    expect(r.received.map((m) => m.type).slice(0, 2)).toEqual([1, 4]);
    expect(r.received.filter((m) => m.type === 3)).toEqual([]);
    expect(herald.events.filter((e) => e.type === 'established' && e.peer === name).length).toBe(before + 1);
  });
});
