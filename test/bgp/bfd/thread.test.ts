// BFD in its own thread (bgp/bfd/thread.ts, bfd-worker.ts; decision 0040),
// in a network namespace this file creates: a BfdThread brings a session Up
// with an in-process BfdDriver, its snapshots follow the negotiation, it
// keeps sending while the thread that owns it is blocked (the point of the
// thread), and its watchdog ends it when that thread stays blocked longer
// than watchdogMs.
import { mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BfdDriver, type BfdSessionSnapshot } from '../../../bgp/bfd/driver.js';
import { BfdThread } from '../../../bgp/bfd/thread.js';
import type { Logger } from '../../../bgp/driver/types.js';
import { testNetns } from '../../support/netns-enter.js';

const netns = testNetns({ file: 'test/bgp/bfd/thread.test.ts', tag: 'bfdt', scope: 'kernel tests in' });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(f: () => T | undefined, what: () => string, timeoutMs = 5_000): Promise<T> {
  const t0 = performance.now();
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out: ${what()}`);
    await sleep(5);
  }
}

describe.skipIf(!netns.canRun)('BfdThread: the BFD driver in a worker thread (network namespace)', () => {
  let url: URL;
  const logs: string[] = [];
  const logger: Logger = { debug: () => {}, info: (_o, m) => logs.push(m), warn: (_o, m) => logs.push(m), error: (_o, m) => logs.push(m) };

  beforeAll(async () => {
    netns.setUp(['192.0.2.1/32', '192.0.2.2/32', '192.0.2.3/32']);
    // The thread runs plain JavaScript: bundle its script as the build does.
    // (under node_modules, where its one external import, koffi, resolves)
    const dir = fileURLToPath(new URL('../../../node_modules/.cache/herald/', import.meta.url));
    mkdirSync(dir, { recursive: true });
    const out = join(mkdtempSync(join(dir, 'bfd-thread-test-')), 'bfd-worker.mjs');
    await build({ entryPoints: [fileURLToPath(new URL('../../../bgp/bfd/bfd-worker.ts', import.meta.url))], bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', outfile: out, logLevel: 'warning' });
    url = new URL(`file://${out}`);
  });
  afterAll(() => netns.cleanUp());

  it('a session Up with an in-process driver; snapshots follow; packets keep going while this thread is blocked', async () => {
    const here = new BfdDriver({ ports: { singleHop: 33784, multihop: 34784 } });
    const fatal: Error[] = [];
    const t = new BfdThread({ url, logger, ports: { singleHop: 35784, multihop: 36784 }, onFatal: (e) => fatal.push(e) });
    try {
      // The thread hears this side every 20 ms and waits 30 of them (600 ms)
      // before it declares it Down; this side waits 3 × 20 ms for the thread.
      await here.addSession({ name: 's', peer: '192.0.2.2', local: '192.0.2.1', port: 35784, desiredMinTxMs: 20, requiredMinRxMs: 20, detectMult: 30 });
      await t.addSession({ name: 's', peer: '192.0.2.1', local: '192.0.2.2', port: 33784, desiredMinTxMs: 20, requiredMinRxMs: 20, detectMult: 3 });
      const s = await until(
        () => {
          const x = t.session('s');
          return x?.state === 'Up' && x.txIntervalMs === 20 && x.remote?.desiredMinTxMs === 20 ? x : undefined;
        },
        () => JSON.stringify(t.session('s')),
      );
      expect(s).toMatchObject({ peer: '192.0.2.1', local: '192.0.2.2', detectMult: 3, detectionTimeMs: 600 });
      const events: string[] = [];
      t.on((e) => e.type === 'state' && events.push(`${e.from}->${e.to}`));
      // Block this thread for 400 ms: the in-process driver stalls (its
      // late expiry is judged after the waiting packets are read, so it stays Up), but the
      // thread's packets kept arriving: its largest gap stays near 20 ms.
      const before: BfdSessionSnapshot = here.session('s')!;
      const t0 = performance.now();
      while (performance.now() - t0 < 400) {
        /* blocked */
      }
      await sleep(100);
      const after = await until(
        () => {
          const x = t.session('s');
          return x && x.counters.packetsOut > s.counters.packetsOut + 15 ? x : undefined;
        },
        () => JSON.stringify(t.session('s')),
      );
      const mine = here.session('s')!;
      console.log(
        `bfd thread: 400 ms block of the owning thread: the thread sent ${after.counters.packetsOut - s.counters.packetsOut} packets, largest gap out ${after.counters.txGapMaxMs} ms; ` +
          `the in-process side received them (${mine.counters.packetsIn - before.counters.packetsIn} more), down transitions ${mine.counters.downTransitions}`,
      );
      expect(after.counters.txGapMaxMs).toBeLessThan(200);
      expect(mine.state).toBe('Up');
      expect(mine.counters.downTransitions).toBe(before.counters.downTransitions);
      expect(events).toEqual([]);
      expect(fatal).toEqual([]);
    } finally {
      await t.close();
      await here.close();
    }
  });

  it('the watchdog ends the thread when its owner is silent for longer than watchdogMs; its peer sees the session go Down', async () => {
    const here = new BfdDriver({ ports: { singleHop: 33784, multihop: 34784 } });
    let fatal: Error | null = null;
    const t = new BfdThread({ url, logger, ports: { singleHop: 35784, multihop: 36784 }, watchdogMs: 600, onFatal: (e) => (fatal = e) });
    try {
      // This side's own silence (the block) is 3 s from the thread's Detection Time.
      await here.addSession({ name: 'w', peer: '192.0.2.3', local: '192.0.2.1', port: 35784, desiredMinTxMs: 100, requiredMinRxMs: 20, detectMult: 30 });
      await t.addSession({ name: 'w', peer: '192.0.2.1', local: '192.0.2.3', port: 33784, desiredMinTxMs: 20, requiredMinRxMs: 20, detectMult: 3 });
      await until(() => (here.session('w')?.state === 'Up' ? true : undefined), () => JSON.stringify(here.session('w')));
      // Heartbeats stop for 1.5 s: more than the 600 ms watchdog.
      const t0 = performance.now();
      while (performance.now() - t0 < 1_500) {
        /* blocked */
      }
      const err = await until(() => fatal ?? undefined, () => 'no fatal report from the BFD thread');
      expect(err.message).toMatch(/BFD thread ended \(exit code 70\)/);
      expect(logs.some((l) => l.includes('has not answered the BFD thread'))).toBe(false); // written to fd 2, not through the owner
      const down = await until(() => (here.session('w')?.state === 'Down' ? here.session('w') : undefined), () => JSON.stringify(here.session('w')));
      console.log(`bfd thread: watchdog fired; the peer's session went Down with ${down!.localDiagName}`);
      expect(down!.localDiag).toBe(1);
    } finally {
      await t.close().catch(() => {});
      await here.close();
    }
  });
});
