// A connection collision that the peer's connection wins (RFC 4271 §6.8: the
// connection opened by the higher BGP Identifier stays) must leave an active
// peer active. The speaker tracks the peer's connection as a passive session
// beside its own; when that one becomes the session, herald must still dial
// again after it ends. A router that dials rarely (FRR's ConnectRetry is
// 120 s by default) would otherwise wait that long after every session loss
// that began with its own connection: seen in the link-flap fault lab, where
// FRR dials the moment its link is up and wins the collision.
// On loopback: a Speaker, the peer's listener (never answers, so herald's
// own connection waits in OpenSent), and the peer's connection played by a
// raw BGP client (test/support/bgp-client.ts, not herald's codecs).
import * as net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { testNetns } from '../../support/netns-enter.js';
import { Speaker } from '../../../bgp/index.js';
import { openMessage, RawPeer } from '../../support/bgp-client.js';

async function waitFor(pred: () => boolean, ms: number, what: string): Promise<number> {
  const t0 = performance.now();
  while (!pred()) {
    if (performance.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return performance.now() - t0;
}

// Speakers listen and dial on 127.0.0.x of a network namespace of this file's own: a routing daemon never runs in the host's.
const netns = testNetns({ file: 'test/bgp/driver/collision-dial.test.ts', tag: 'collision' });

describe.skipIf(!netns.canRun)('in a network namespace', () => {
  beforeAll(() => netns.setUp());
  afterAll(() => netns.cleanUp());

  describe('a collision won by the peer leaves an active peer active', () => {
    const cleanups: (() => Promise<void> | void)[] = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c();
    });

    it.each([
      ['after an Established session ends', true],
      ['after the peer refuses before Established', false],
    ])('herald dials again %s', async (_what, establish) => {
      const accepted: net.Socket[] = [];
      const server = net.createServer((s) => {
        s.on('error', () => {});
        accepted.push(s);
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.2', r));
      cleanups.push(() => new Promise<void>((r) => server.close(() => r())), () => accepted.forEach((s) => s.destroy()));
      const sp = new Speaker({ asn: 65011, routerId: '192.0.2.11', listen: { address: '127.0.0.1', port: 0 } });
      sp.addPeer({ name: 'r', address: '127.0.0.2', port: (server.address() as net.AddressInfo).port, asn: 65020, holdTime: 90, connectRetryMs: 200, connectRetryMaxMs: 400 });
      await sp.start();
      cleanups.push(async () => void (await sp.stop('test done', { timeoutMs: 200 })));
      const state = (): string => sp.snapshot().find((p) => p.name === 'r')!.state;

      // herald dials; its connection waits in OpenSent (the listener never answers).
      await waitFor(() => accepted.length >= 1 && state() === 'OpenSent', 5_000, "herald's connection");
      // The peer dials too, with the higher BGP Identifier: its connection wins.
      const p = await RawPeer.connect('127.0.0.1', sp.listenAddress!.port, '127.0.0.2');
      cleanups.push(() => p.close());
      if (establish) {
        await p.establish(65020, '192.0.2.200');
        await waitFor(() => state() === 'Established', 5_000, 'Established on the peer connection');
      } else {
        // OPEN, then (as FRR does while its link-local address is tentative) an FSM Error.
        await p.send(openMessage(65020, '192.0.2.200'));
        await p.until(() => p.received.some((r) => r.type === 1), 5_000, "herald's OPEN");
        await p.send(Uint8Array.from([...new Array<number>(16).fill(0xff), 0, 21, 3, 5, 0]));
      }
      // herald's own connection lost the collision; the peer's connection now ends.
      const before = accepted.length;
      p.close();
      const ms = await waitFor(() => accepted.length > before, 5_000, 'herald dialling again');
      console.log(`collision won by the peer, ${establish ? 'Established then closed' : 'refused with an FSM Error'}: herald dialled again after ${ms.toFixed(0)} ms`);
      expect(ms).toBeLessThan(5_000);
    });
  });
});
