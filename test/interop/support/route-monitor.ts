/**
 * Follow one destination's kernel route in a namespace (what zebra installed
 * from BGP) and time its changes when the kernel reports them: `ip -n NS
 * monitor route` streams every route change; each one that names the
 * destination is stamped on arrival and the route is read again (`ip route
 * show DEST`), the result taking the stamp of the change that prompted it.
 * Polling `ip route show` every few ms costs tens of ms per sample on a
 * loaded machine, which is the size of the effect being measured; the
 * monitor is exact to the arrival of the kernel's notification.
 * No RFC: this is test infrastructure.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as readline from 'node:readline';
import { promisify } from 'node:util';

const run = promisify(execFile);
const HISTORY_MAX = 10_000;

/** The next hops of the kernel route for `dest` in namespace `ns` ([] when there is none). */
export async function kernelNextHops(ns: string, dest: string): Promise<string[]> {
  const r = await run('ip', ['-n', ns, dest.includes(':') ? '-6' : '-4', 'route', 'show', dest], { encoding: 'utf8' });
  return [...r.stdout.matchAll(/\bvia (\S+)/g)].map((m) => m[1]!).sort();
}

export class RouteMonitor {
  /** The next hops now, and when (Date.now()) the kernel reported the change that made them so. */
  hops: string[] = [];
  at = 0;
  /** Every change seen, oldest first (at most HISTORY_MAX, the oldest dropped). */
  readonly history: { at: number; hops: string[] }[] = [];
  private child: ChildProcess | null = null;
  private pendingAt: number | null = null;
  private reading = false;
  private waiters: { pred: (h: string[]) => boolean; resolve: () => void }[] = [];

  private constructor(
    readonly ns: string,
    readonly dest: string,
  ) {}

  /** Start following `dest` in `ns`; resolves once the monitor runs and the route was read once. */
  static async start(ns: string, dest: string): Promise<RouteMonitor> {
    const m = new RouteMonitor(ns, dest);
    const child = spawn('ip', ['-n', ns, dest.includes(':') ? '-6' : '-4', 'monitor', 'route'], { stdio: ['ignore', 'pipe', 'ignore'] });
    m.child = child;
    const head = new RegExp(`^(Deleted )?${dest.replace(/[.:]/g, (c) => `\\${c}`)}(/\\d+)?( |$)`);
    readline.createInterface({ input: child.stdout! }).on('line', (l) => {
      if (head.test(l)) m.changed(Date.now());
    });
    // Give the monitor a moment to subscribe before the first read, so no change falls between.
    await new Promise((r) => setTimeout(r, 100));
    m.hops = await kernelNextHops(ns, dest);
    m.at = Date.now();
    return m;
  }

  private changed(at: number): void {
    this.pendingAt = at;
    if (!this.reading) void this.read();
  }

  private async read(): Promise<void> {
    this.reading = true;
    while (this.pendingAt !== null) {
      const at = this.pendingAt;
      this.pendingAt = null;
      try {
        const hops = await kernelNextHops(this.ns, this.dest);
        if (hops.join(' ') !== this.hops.join(' ')) {
          this.history.push({ at, hops });
          if (this.history.length > HISTORY_MAX) this.history.shift();
        }
        this.hops = hops;
        this.at = at;
      } catch {
        /* the namespace went away */
      }
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(this.hops)) return true;
        w.resolve();
        return false;
      });
    }
    this.reading = false;
  }

  /**
   * Wait until pred holds for the next hops; resolve with the ms from t0
   * (Date.now()) to the kernel's report of the change (0 if it already
   * holds), or null after timeoutMs.
   */
  async until(pred: (hops: string[]) => boolean, t0: number, timeoutMs: number): Promise<number | null> {
    if (pred(this.hops)) return Math.max(0, this.at - t0);
    const ok = await new Promise<boolean>((resolve) => {
      const w = { pred, resolve: () => (clearTimeout(t), resolve(true)) };
      const t = setTimeout(
        () => {
          this.waiters = this.waiters.filter((x) => x !== w);
          resolve(false);
        },
        Math.max(0, t0 + timeoutMs - Date.now()),
      );
      this.waiters.push(w);
    });
    return ok ? this.at - t0 : null;
  }

  /** Stop the monitor (its own child only). */
  stop(): void {
    this.child?.kill('SIGTERM');
    this.child = null;
  }
}
