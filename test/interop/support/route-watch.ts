/**
 * Watch a destination in a router namespace's kernel table (what zebra
 * installed from BGP): its next hops now, how long until a condition holds,
 * and every stretch of time it was missing while a watch ran. Used by the
 * graceful-restart and reconnect interop tests to time routes leaving and
 * coming back. No RFC: this is test infrastructure.
 */
import { nsRun } from '../lab/index.js';

/** The next hops of the kernel route for `dest` in namespace `ns` ([] when there is none). */
export async function nextHops(ns: string, dest: string): Promise<string[]> {
  const res = await nsRun(ns, 'ip', [dest.includes(':') ? '-6' : '-4', 'route', 'show', dest]);
  return [...res.stdout.matchAll(/\bvia (\S+)/g)].map((m) => m[1]!).sort();
}

/**
 * Poll every `everyMs` until `pred(nextHops)` holds; resolve with the ms from
 * `t0` (Date.now() epoch) to the first sample that held, or reject after
 * `timeoutMs` with the last sample.
 */
export async function waitHops(ns: string, dest: string, pred: (hops: string[]) => boolean, t0: number, timeoutMs: number, everyMs = 10): Promise<number> {
  let last: string[] = [];
  for (;;) {
    last = await nextHops(ns, dest);
    const now = Date.now();
    if (pred(last)) return now - t0;
    if (now - t0 > timeoutMs) throw new Error(`${dest} in ${ns}: condition not met after ${now - t0} ms; next hops ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface RouteWatch {
  /** Stop polling; the stretches (epoch ms) during which the route had none of `want`'s next hops. */
  stop(): Promise<{ samples: number; gaps: { from: number; to: number }[] }>;
}

/** Sample the route every `everyMs` until stop(), recording when next hop `want` was missing. */
export function watchRoute(ns: string, dest: string, want: string, everyMs = 25): RouteWatch {
  let running = true;
  let samples = 0;
  const gaps: { from: number; to: number }[] = [];
  let open: number | null = null;
  const loop = (async (): Promise<void> => {
    while (running) {
      const hops = await nextHops(ns, dest);
      const now = Date.now();
      samples++;
      if (!hops.includes(want)) open ??= now;
      else if (open !== null) {
        gaps.push({ from: open, to: now });
        open = null;
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
    if (open !== null) gaps.push({ from: open, to: Date.now() });
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { samples, gaps };
    },
  };
}
