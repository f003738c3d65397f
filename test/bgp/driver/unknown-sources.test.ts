// Connections from addresses that are not configured peers (issue 12 item 4):
// 300k source addresses used to grow the heap 26 → 106 MB (a Set of every
// address, never pruned) and write 51 MB of WARN lines (one per address).
// Now the memory of logged addresses is an LRU of 1024 and new addresses get
// at most 10 lines a window, the rest one summary line per window.
//
// 1. The bookkeeping alone (UnknownSources with a ManualClock), 300k
//    addresses: the cap, the evictions, the exact number of log lines, the
//    counts, the heap growth printed.
// 2. Wired into a real Speaker: real TCP connections from 300 loopback
//    source addresses (127.1.x.y are all local on lo) to a listener on
//    127.0.0.1; every one is closed, the log has 10 lines plus the summary
//    the stop writes, the stats say 300.
import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testNetns } from '../../support/netns-enter.js';
import { ManualClock, Speaker, type Logger, type SpeakerEvent } from '../../../bgp/index.js';
import { UnknownSources } from '../../../bgp/driver/unknown-sources.js';

/** A logger that keeps every line. */
function recorder(): Logger & { lines: { level: string; obj: object; msg: string }[] } {
  const lines: { level: string; obj: object; msg: string }[] = [];
  const at = (level: string) => (obj: object, msg: string) => void lines.push({ level, obj, msg });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** 10.x.y.z for i, distinct for i < 2^24 (bookkeeping only: never dialled). */
const addr = (i: number): string => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

describe('UnknownSources: the bounded memory and log of refused addresses', () => {
  it('300k addresses: at most 1024 remembered, 10 lines and one summary per window, every connection counted', () => {
    const clock = new ManualClock(0);
    const log = recorder();
    const u = new UnknownSources({ clock, log });
    const N = 300_000;
    const WINDOW = 60_000;
    globalThis.gc?.();
    const heap0 = process.memoryUsage().heapUsed;
    // 300k addresses over 5 minutes: one every millisecond.
    let logged = 0;
    for (let i = 0; i < N; i++) {
      if (u.note(addr(i))) logged++;
      clock.advance(1);
    }
    const heapGrowth = process.memoryUsage().heapUsed - heap0;
    const st = u.stats();
    expect(st.connections).toBe(N);
    expect(st.addresses).toBeLessThanOrEqual(1024);
    // 5 windows of 60 s each log 10 addresses by name.
    const windows = Math.ceil(N / WINDOW);
    expect(logged).toBe(10 * windows);
    expect(st.suppressed).toBe(N - logged);
    // Each window that suppressed something wrote one summary line when it ended (the last one at close).
    u.close();
    const summaries = log.lines.filter((l) => l.msg.includes('not logged one by one'));
    expect(summaries.length).toBe(windows);
    expect(summaries[0]!.obj).toMatchObject({ connections: WINDOW - 10, addresses: '1024 or more' });
    expect(log.lines.length).toBe(summaries.length); // UnknownSources writes only summaries; the speaker writes the per-address lines
    console.log(
      `unknown sources: ${N} addresses → ${st.addresses} remembered, ${logged} logged by name, ${summaries.length} summary lines; heap growth ${(heapGrowth / 1024 / 1024).toFixed(1)} MiB (before: one Set entry and one line per address)`,
    );
    // Bounded memory: nothing here grows with N (generous: the loop's own garbage may still be on the heap).
    expect(heapGrowth).toBeLessThan(64 * 1024 * 1024);
  });

  it('without the rate limit the memory still stops at 1024 addresses, least recently seen evicted', () => {
    const u = new UnknownSources({ clock: new ManualClock(0), log: recorder(), maxLinesPerWindow: Number.POSITIVE_INFINITY });
    const N = 300_000;
    let logged = 0;
    for (let i = 0; i < N; i++) if (u.note(addr(i))) logged++;
    expect(logged).toBe(N);
    expect(u.stats()).toMatchObject({ connections: N, addresses: 1024, evicted: N - 1024, suppressed: 0 });
    // The most recent 1024 are the ones kept: the last address is known, the first is new again.
    expect(u.note(addr(N - 1))).toBe(false);
    expect(u.note(addr(0))).toBe(true);
  });

  it('a known address is not logged again; an evicted or forgotten one is', () => {
    const clock = new ManualClock(0);
    const log = recorder();
    const u = new UnknownSources({ clock, log, maxAddresses: 3, forgetMs: 10_000, windowMs: 1_000, maxLinesPerWindow: 100 });
    expect(u.note('192.0.2.1')).toBe(true);
    expect(u.note('192.0.2.1')).toBe(false);
    for (const a of ['192.0.2.2', '192.0.2.3']) expect(u.note(a)).toBe(true);
    // .1 was seen last, so .2 is the least recent; a fourth address evicts it.
    expect(u.note('192.0.2.1')).toBe(false);
    expect(u.note('192.0.2.4')).toBe(true);
    expect(u.stats()).toMatchObject({ addresses: 3, evicted: 1 });
    expect(u.note('192.0.2.2')).toBe(true); // evicted: new again
    clock.advance(10_000);
    expect(u.note('192.0.2.4')).toBe(true); // forgotten after forgetMs
  });

  it('the summary line comes at the end of the window, on the clock', () => {
    const clock = new ManualClock(0);
    const log = recorder();
    const u = new UnknownSources({ clock, log, windowMs: 1_000, maxLinesPerWindow: 2 });
    for (let i = 0; i < 5; i++) u.note(addr(i));
    expect(log.lines).toEqual([]);
    clock.advance(999);
    expect(log.lines).toEqual([]);
    clock.advance(1);
    expect(log.lines).toHaveLength(1);
    expect(log.lines[0]!.obj).toMatchObject({ connections: 3, addresses: '3' });
    expect(clock.pending).toBe(0);
  });
});

// Speakers listen and dial on 127.0.0.x of a network namespace of this file's own: a routing daemon never runs in the host's.
const netns = testNetns({ file: 'test/bgp/driver/unknown-sources.test.ts', tag: 'unknown' });

describe.skipIf(!netns.canRun)('in a network namespace', () => {
  beforeAll(() => netns.setUp());
  afterAll(() => netns.cleanUp());

  describe('Speaker: connections from unconfigured addresses', () => {
    it('closes each, logs 10 by name and summarises the rest, counts all 300', async () => {
      const log = recorder();
      const sp = new Speaker({ asn: 65011, routerId: '192.0.2.11', listen: { address: '127.0.0.1', port: 0 }, logger: log });
      const events: SpeakerEvent[] = [];
      sp.on((e) => events.push(e));
      await sp.start();
      const port = sp.listenAddress!.port;
      const N = 300;
      const t0 = performance.now();
      // A few at a time, each from its own loopback source address.
      for (let i = 0; i < N; i += 25) {
        await Promise.all(
          Array.from({ length: Math.min(25, N - i) }, (_, k) => {
            const n = i + k;
            return new Promise<void>((resolve, reject) => {
              const s = net.connect({ host: '127.0.0.1', port, localAddress: `127.1.${(n + 1) >> 8}.${(n + 1) & 255}` });
              s.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? resolve() : reject(e)));
              s.on('close', () => resolve());
            });
          }),
        );
      }
      const ms = performance.now() - t0;
      expect(sp.stats()).toEqual({ unknownConnections: N, unknownAddresses: 10, unknownSuppressed: N - 10 });
      const byName = log.lines.filter((l) => l.msg.startsWith('connection from an address that is no configured peer'));
      expect(byName).toHaveLength(10);
      expect(events.filter((e) => e.type === 'unknown-connection')).toHaveLength(10);
      await sp.stop('done', { timeoutMs: 200 });
      const summary = log.lines.filter((l) => l.msg.includes('not logged one by one'));
      expect(summary).toHaveLength(1);
      expect(summary[0]!.obj).toMatchObject({ connections: N - 10, addresses: String(N - 10) });
      console.log(`speaker: ${N} unknown connections closed in ${ms.toFixed(0)} ms; ${byName.length + summary.length} log lines`);
    });
  });
});
