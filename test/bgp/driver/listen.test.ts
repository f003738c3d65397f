// The speaker's listeners (issue 10 item 4): one per configured address,
// "::" alongside an IPv4 address (IPv6-only then, or the two would collide),
// an MD5 key on each listener that can take it, and none at all with
// `listen: false`. In a network namespace this file creates and enters.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as net from 'node:net';
import { Speaker, type PeerConfig, type SpeakerEvent } from '../../../bgp/index.js';
import { testNetns } from '../../support/netns-enter.js';

const netns = testNetns({ file: 'test/bgp/driver/listen.test.ts', tag: 'listen' });

/** Resolve when `sp` reports `peer` Established. */
function established(sp: Speaker, peer: string, ms = 15_000): Promise<void> {
  if (sp.snapshot().some((p) => p.name === peer && p.state === 'Established')) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => (off(), reject(new Error(`${peer} not Established after ${ms} ms: ${JSON.stringify(sp.snapshot().map((p) => [p.name, p.state, p.lastConnectError]))}`))), ms);
    const off = sp.on((e: SpeakerEvent) => {
      if (e.type === 'established' && e.peer === peer) {
        clearTimeout(t);
        off();
        resolve();
      }
    });
  });
}

/** Whether a TCP connection to host:port opens. */
function opens(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

const dialer = (name: string, address: string, localAddress: string, password?: string): PeerConfig => ({
  name,
  address,
  localAddress,
  asn: 65011,
  holdTime: 9,
  connectRetryMs: 200,
  ...(password ? { password } : {}),
});

describe.skipIf(!netns.canRun)('speaker listeners (network namespace)', () => {
  beforeAll(() => netns.setUp(['192.0.2.11/32', '192.0.2.12/32', '192.0.2.13/32', '2001:db8::11/128', '2001:db8::12/128']));
  afterAll(() => netns.cleanUp());

  it('listens on exactly the listed addresses, one listener each, with the MD5 key where it fits', async () => {
    const a = new Speaker({ asn: 65011, routerId: '192.0.2.11', listen: { address: ['192.0.2.11', '2001:db8::11'], port: 179 } });
    a.addPeer({ name: 'b4', address: '192.0.2.12', asn: 65012, passive: true, holdTime: 9, password: 'listen-test-key' });
    a.addPeer({ name: 'b6', address: '2001:db8::12', asn: 65012, passive: true, holdTime: 9 });
    const b = new Speaker({ asn: 65012, routerId: '192.0.2.12', listen: false });
    b.addPeer(dialer('a4', '192.0.2.11', '192.0.2.12', 'listen-test-key'));
    b.addPeer(dialer('a6', '2001:db8::11', '2001:db8::12'));
    try {
      await a.start();
      await b.start();
      await Promise.all([established(a, 'b4'), established(a, 'b6')]);
      // Not bound to the wildcard: another local address finds no listener.
      expect(await opens('192.0.2.13', 179)).toBe(false);
      expect(await opens('192.0.2.11', 179)).toBe(true);
    } finally {
      await b.stop();
      await a.stop();
    }
    // stop() closes every listener.
    expect(await opens('192.0.2.11', 179)).toBe(false);
    expect(await opens('2001:db8::11', 179)).toBe(false);
  });

  it('"::" beside an IPv4 address takes IPv6 only, so both bind', async () => {
    const a = new Speaker({ asn: 65011, routerId: '192.0.2.11', listen: { address: ['::', '192.0.2.11'], port: 1179 } });
    try {
      await a.start();
      expect(await opens('192.0.2.11', 1179)).toBe(true);
      expect(await opens('2001:db8::11', 1179)).toBe(true);
      expect(await opens('192.0.2.13', 1179)).toBe(false); // "::" is IPv6-only here
    } finally {
      await a.stop();
    }
  });

  it('listen: false opens no socket; a port in use fails start() with EADDRINUSE and leaves nothing bound', async () => {
    const off = new Speaker({ asn: 65011, routerId: '192.0.2.11', listen: false });
    await off.start();
    expect(await opens('192.0.2.11', 179)).toBe(false);
    await off.stop();
    const holder = net.createServer().listen({ host: '2001:db8::11', port: 2179 });
    await new Promise((r) => holder.once('listening', r));
    const busy = new Speaker({ asn: 65011, routerId: '192.0.2.11', listen: { address: ['192.0.2.11', '2001:db8::11'], port: 2179 } });
    try {
      await expect(busy.start()).rejects.toMatchObject({ code: 'EADDRINUSE' });
      expect(await opens('192.0.2.11', 2179)).toBe(false); // the first listener was closed again
    } finally {
      holder.close();
      await busy.stop();
    }
  });
});
