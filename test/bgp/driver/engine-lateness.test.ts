// The engine thread's timer lateness (decisions 0020, 0034) through the
// EngineClient: the worker pushes its figures with the peer snapshots, and a
// main thread held busy does not make the engine's timers late. A peer that
// dials a closed port on 127.0.0.1 keeps its ConnectRetry timer firing every
// ~50 ms in the engine while this thread spins. The bound is generous (the
// worker shares two cores with the rest of the suite); the figure is printed.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { testNetns } from '../../support/netns-enter.js';
import { createServer } from 'node:net';
import { EngineClient } from '../../../bgp/index.js';

/** A TCP port on 127.0.0.1 that refuses connections (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const BUSY_MS = 1_500;

// Speakers listen and dial on 127.0.0.x of a network namespace of this file's own: a routing daemon never runs in the host's.
const netns = testNetns({ file: 'test/bgp/driver/engine-lateness.test.ts', tag: 'lateness' });

describe.skipIf(!netns.canRun)('in a network namespace', () => {
  beforeAll(() => netns.setUp());
  afterAll(() => netns.cleanUp());

  describe('EngineClient: timer lateness', () => {
    let engine: EngineClient | null = null;
    afterEach(async () => {
      await engine?.stop();
      engine = null;
    });

    it('is reported with the snapshots, and a busy main thread does not delay the engine timers', async () => {
      engine = new EngineClient({ asn: 65000, routerId: '192.0.2.1', listen: false, onFatal: (e) => { throw e; } });
      expect(engine.lateness()).toBeNull();
      engine.addPeer({ name: 'closed', address: '127.0.0.1', port: await closedPort(), asn: 65001, connectRetryMs: 50, connectRetryMaxMs: 50 });
      await engine.start();
      const spinUntil = performance.now() + BUSY_MS;
      while (performance.now() < spinUntil) {
        /* the daemon's main thread, stalled (a big reconcile, a GC, a config parse) */
      }
      // Let the pushes that queued while this thread was busy arrive, then one more.
      const before = engine.lateness()?.count ?? 0;
      const t0 = Date.now();
      while ((engine.lateness()?.count ?? 0) <= before && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 1_100));
      const l = engine.lateness();
      const peer = engine.snapshot().find((p) => p.name === 'closed');
      console.log(`engine lateness after a ${BUSY_MS} ms stall of the main thread: ${JSON.stringify({ ...l, buckets: undefined })}; connect failures ${peer?.counters.connectFailures}`);
      expect(l).not.toBeNull();
      expect(l!.count).toBeGreaterThanOrEqual(5);
      expect(peer!.counters.connectFailures).toBeGreaterThanOrEqual(5);
      // The engine thread kept its timers while this one was stalled: the worst is well under the stall.
      expect(l!.maxMs).toBeLessThan(BUSY_MS / 2);
      expect(l!.buckets.at(-1)!.count).toBeLessThanOrEqual(l!.count);
    });
  });
});
