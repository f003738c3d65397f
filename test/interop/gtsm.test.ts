// Issue 8 item 4: GTSM (RFC 5082) on accepted connections. FRR is configured
// with `neighbor X ttl-security hops 1`, so its kernel drops every segment from
// herald whose TTL is below 254 — the SYN-ACK included, since FRR sets the
// minimum TTL before it dials. herald is passive for that peer (FRR dials), so
// the SYN-ACK comes from herald's listening socket, which the kernel answers
// with before herald sees the connection. A capture (tcpdump -v) in herald's
// namespace shows the TTL of every segment herald sends: 255 on the SYN-ACK
// and on everything after it, and FRR reaches Established.
// RFC 5082 §3: "the sender sets the TTL to 255" on all packets of the session.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, labReady, pointToPoint, sleep, startRouter, type LabProcess, type PointToPoint, type Router } from './lab/index.js';
import { HeraldProcess } from './support/herald-process.js';

const ready = labReady(['frr'], 'GTSM on accepted connections');

interface Segment {
  ttl: number;
  src: string;
  dst: string;
  flags: string;
}

/** Parse `tcpdump -n -v` output: an "IP (... ttl N, ...)" line, then "src > dst: Flags [..]". */
function parseCapture(text: string): Segment[] {
  const out: Segment[] = [];
  const lines = text.split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    const ttl = /^\S+ IP \(.*\bttl (\d+),/.exec(lines[i]!);
    if (!ttl) continue;
    const m = /^\s+(\d+\.\d+\.\d+\.\d+)\.\d+ > (\d+\.\d+\.\d+\.\d+)\.\d+: Flags \[([^\]]*)\]/.exec(lines[i + 1]!);
    if (m) out.push({ ttl: Number(ttl[1]), src: m[1]!, dst: m[2]!, flags: m[3]! });
  }
  return out;
}

describe.skipIf(!ready)('GTSM: TTL 255 on every segment herald sends to a ttl_security peer, the SYN-ACK included', () => {
  const lab = new Lab();
  let p: PointToPoint;
  let herald: HeraldProcess;
  let frr: Router;
  let capture: LabProcess;
  let capFile = '';

  beforeAll(async () => {
    const hns = await lab.addNamespace('herald');
    const rns = await lab.addNamespace('frr');
    p = await pointToPoint(lab, hns, rns);
    const dir = await lab.tempDir('gtsm');
    capFile = join(dir, 'capture.txt');
    capture = lab.spawn(hns, 'tcpdump', '/usr/bin/tcpdump', ['-i', 'eth0', '-n', '-v', '-l', 'tcp port 179'], { logFile: capFile });
    await sleep(500); // let tcpdump open the interface before the first SYN
    herald = new HeraldProcess(hns, { asn: 65011, routerId: p.aV4, listen: { address: '::', port: 179 } }, [
      { name: 'frr', address: p.bV4, asn: 65000, families: ['ipv4'], passive: true, ttlSecurity: true, minTtl: 255, holdTime: 9 },
    ]);
    await herald.start();
    frr = await startRouter(lab, 'frr', {
      name: 'gtsm',
      ns: rns,
      asn: 65000,
      routerId: p.bV4,
      peers: [{ address: p.aV4, asn: 65011, families: ['ipv4'], ttlSecurityHops: 1, holdTime: 9 }],
    });
  });

  afterAll(async () => {
    herald?.kill();
    await lab.close();
  });

  it('FRR with ttl-security hops 1 dials herald and reaches Established; the capture shows TTL 255 on the SYN-ACK and every later segment', async () => {
    await herald.waitEstablished('frr', 30_000);
    await frr.waitEstablished(p.aV4, 10_000);
    await herald.setRoutes('frr', [{ prefix: '198.51.100.53/32' }]);
    await sleep(4_000); // an UPDATE, End-of-RIB and a few keepalives each way
    await capture.stop();
    const segs = parseCapture(readFileSync(capFile, 'utf8'));
    const fromHerald = segs.filter((s) => s.src === p.aV4);
    const fromFrr = segs.filter((s) => s.src === p.bV4);
    const synAck = fromHerald.filter((s) => s.flags === 'S.');
    console.log(
      `GTSM capture: ${segs.length} segments; herald sent ${fromHerald.length} with TTLs ${JSON.stringify([...new Set(fromHerald.map((s) => s.ttl))])} ` +
        `(SYN-ACK TTL ${synAck.map((s) => s.ttl).join(', ')}); FRR sent ${fromFrr.length} with TTLs ${JSON.stringify([...new Set(fromFrr.map((s) => s.ttl))])}`,
    );
    expect(synAck.length).toBeGreaterThanOrEqual(1);
    for (const s of synAck) expect(s.ttl).toBe(255);
    expect(fromHerald.length).toBeGreaterThan(5);
    expect(fromHerald.filter((s) => s.ttl !== 255)).toEqual([]);
    // FRR dialled (its SYN came first) and it too sends 255 (ttl-security).
    expect(fromFrr[0]?.flags).toBe('S');
    expect(new Set(fromFrr.map((s) => s.ttl))).toEqual(new Set([255]));
    const routes = await frr.routes();
    expect(routes.map((r) => r.prefix)).toContain('198.51.100.53/32');
  });
});
