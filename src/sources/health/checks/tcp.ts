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
 * second, so a probe is its socket and nothing more: a net.Socket subclass
 * that carries the probe's fields and is the `ProbeRun` whose abort() the
 * state machine calls at the timeout, with module-level listeners (no
 * AbortController, no promise, no closure, no options object per probe:
 * `startTcp`; measured 7.5 → 3.3 KB allocated a probe, decision 0044). The
 * "host:port" text is worked out once per check. `checkTcp` is the promise
 * form, for `probe` and the CLI.
 */
import * as net from 'node:net';
import type { TcpCheck } from '../../../config/index.js';
import type { CheckResult, ProbeRun } from '../types.js';
import { errText, hostPort, since } from './common.js';

/** "host:port" of each check spec, made on its first probe. */
const whereOf = new WeakMap<TcpCheck, string>();

/**
 * One probe is its socket: a net.Socket that is also the probe's ProbeRun
 * and carries the probe's few fields, with module-level listeners (`this`
 * is the socket), so a probe allocates nothing beside the socket but its
 * result.
 */
class ProbeSocket extends net.Socket implements ProbeRun {
  readonly probeT0 = performance.now();
  probeSettled = false;

  constructor(
    readonly probeWhere: string,
    readonly probeDone: (r: CheckResult) => void,
  ) {
    super();
  }

  abort(): void {
    this.probeFinish(false, `TCP connect to ${this.probeWhere} timed out after ${Math.round(since(this.probeT0))}ms`);
  }

  probeFinish(ok: boolean, detail: string): void {
    if (this.probeSettled) return;
    this.probeSettled = true;
    // resetAndDestroy on a socket still connecting would wait for the
    // connect (and then reset): only an open connection is reset.
    if (ok) this.resetAndDestroy();
    else this.destroy();
    this.probeDone({ ok, detail, latencyMs: since(this.probeT0) });
  }
}

function connected(this: ProbeSocket): void {
  this.probeFinish(true, `TCP connect to ${this.probeWhere} ok in ${Math.round(performance.now() - this.probeT0)}ms`);
}

function failed(this: ProbeSocket, e: Error): void {
  this.probeFinish(false, `TCP connect to ${this.probeWhere} failed: ${errText(e)}`);
}

/** Start a probe: open a TCP connection to the check's address and port, then reset it; `done` gets the result. */
export function startTcp(spec: TcpCheck, done: (r: CheckResult) => void): ProbeRun {
  let where = whereOf.get(spec);
  if (where === undefined) whereOf.set(spec, (where = hostPort(spec.address, spec.port)));
  const sock = new ProbeSocket(where, done);
  // `on`, not `once`: the socket is destroyed at the first of them anyway.
  sock.on('connect', connected);
  sock.on('error', failed);
  try {
    sock.connect({ host: spec.address, port: spec.port });
  } catch (e) {
    sock.probeFinish(false, `TCP connect to ${where} failed: ${errText(e)}`);
  }
  return sock;
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
