/**
 * The `tcp` check: healthy when a TCP connection to address:port opens
 * within the timeout. The connection is closed at once (no data sent).
 *
 * A connection that opened is closed with a reset (RST, `resetAndDestroy`:
 * SO_LINGER 0), not a FIN, as HAProxy closes its own TCP checks: no FIN
 * exchange, and no TIME_WAIT entry left on this host for each probe (a
 * thousand services probed every second would otherwise keep about 60,000
 * of them, one per probe for 60 s, each holding a local port). The service
 * sees a client that connected and reset; nothing is lost, since nothing
 * was sent. A probe that failed or timed out is destroyed as before (its
 * connection never opened, or is still opening).
 *
 * This is the check a service has by the thousand, each probed every
 * second, so one probe is one small object: its methods are the socket's
 * listeners, it is the `ProbeRun` whose abort() the state machine calls at
 * the timeout (no AbortController, no promise: `startTcp`), and the
 * "host:port" text is worked out once per check. `checkTcp` is the promise
 * form, for `probe` and the CLI.
 */
import * as net from 'node:net';
import type { TcpCheck } from '../../../config/index.js';
import type { CheckResult, ProbeRun } from '../types.js';
import { errText, hostPort, since } from './common.js';

/** "host:port" of each check spec, made on its first probe. */
const whereOf = new WeakMap<TcpCheck, string>();

/** One probe, its own ProbeRun: reports exactly once, on connect, error or abort. */
class TcpProbe implements ProbeRun {
  private readonly t0 = performance.now();
  private sock: net.Socket | null = null;
  private settled = false;

  constructor(
    private readonly where: string,
    private readonly done: (r: CheckResult) => void,
  ) {}

  start(spec: TcpCheck): this {
    try {
      const sock = net.connect({ host: spec.address, port: spec.port });
      this.sock = sock;
      // `on`, not `once`: the socket is destroyed at the first of them anyway.
      sock.on('connect', this.connected);
      sock.on('error', this.failed);
    } catch (e) {
      this.finish(false, errText(e));
    }
    return this;
  }

  abort(): void {
    this.finish(false, `TCP connect to ${this.where} timed out after ${Math.round(since(this.t0))}ms`);
  }

  private readonly connected = (): void => {
    this.finish(true, `TCP connect to ${this.where} ok in ${Math.round(performance.now() - this.t0)}ms`);
  };

  private readonly failed = (e: Error): void => {
    this.finish(false, `TCP connect to ${this.where} failed: ${errText(e)}`);
  };

  private finish(ok: boolean, detail: string): void {
    if (this.settled) return;
    this.settled = true;
    // resetAndDestroy on a socket still connecting would wait for the
    // connect (and then reset): only an open connection is reset.
    if (ok) this.sock?.resetAndDestroy();
    else this.sock?.destroy();
    this.done({ ok, detail, latencyMs: since(this.t0) });
  }
}

/** Start a probe: open a TCP connection to the check's address and port, then reset it; `done` gets the result. */
export function startTcp(spec: TcpCheck, done: (r: CheckResult) => void): ProbeRun {
  let where = whereOf.get(spec);
  if (where === undefined) whereOf.set(spec, (where = hostPort(spec.address, spec.port)));
  return new TcpProbe(where, done).start(spec);
}

/** Open a TCP connection to the check's address and port, then close it (the promise form, for `probe` and the CLI). */
export function checkTcp(spec: TcpCheck, signal: AbortSignal): Promise<CheckResult> {
  return new Promise<CheckResult>((resolve) => {
    if (signal.aborted) {
      startTcp(spec, resolve).abort();
      return;
    }
    const abort = (): void => run.abort();
    const run = startTcp(spec, (r) => {
      signal.removeEventListener('abort', abort);
      resolve(r);
    });
    signal.addEventListener('abort', abort, { once: true });
  });
}
