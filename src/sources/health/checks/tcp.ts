/**
 * The `tcp` check: healthy when a TCP connection to address:port opens
 * within the timeout. The connection is closed at once (no data sent).
 *
 * This is the check a service has by the thousand, each probed every
 * second, so one probe is one small object whose methods are the socket's
 * and the signal's listeners (not a closure per event and per step), and
 * the "host:port" text is worked out once per check.
 */
import * as net from 'node:net';
import type { TcpCheck } from '../../../config/index.js';
import type { CheckResult } from '../types.js';
import { errText, hostPort, since } from './common.js';

/** "host:port" of each check spec, made on its first probe. */
const whereOf = new WeakMap<TcpCheck, string>();
const ONCE = { once: true } as const;

/** One probe: settles its promise exactly once, on connect, error or abort. */
class TcpProbe {
  private readonly t0 = performance.now();
  private sock: net.Socket | null = null;
  private settled = false;

  constructor(
    private readonly where: string,
    private readonly signal: AbortSignal,
    private readonly resolve: (r: CheckResult) => void,
  ) {}

  start(spec: TcpCheck): void {
    if (this.signal.aborted) {
      this.abort();
      return;
    }
    this.signal.addEventListener('abort', this.abort, ONCE);
    try {
      const sock = net.connect({ host: spec.address, port: spec.port });
      this.sock = sock;
      // `on`, not `once`: the socket is destroyed at the first of them anyway.
      sock.on('connect', this.connected);
      sock.on('error', this.failed);
    } catch (e) {
      this.finish(false, errText(e));
    }
  }

  private readonly connected = (): void => {
    this.finish(true, `TCP connect to ${this.where} ok in ${Math.round(performance.now() - this.t0)}ms`);
  };

  private readonly failed = (e: Error): void => {
    this.finish(false, `TCP connect to ${this.where} failed: ${errText(e)}`);
  };

  private readonly abort = (): void => {
    this.finish(false, `TCP connect to ${this.where} timed out after ${Math.round(since(this.t0))}ms`);
  };

  private finish(ok: boolean, detail: string): void {
    if (this.settled) return;
    this.settled = true;
    this.signal.removeEventListener('abort', this.abort);
    this.sock?.destroy();
    this.resolve({ ok, detail, latencyMs: since(this.t0) });
  }
}

/** Open a TCP connection to the check's address and port, then close it. */
export function checkTcp(spec: TcpCheck, signal: AbortSignal): Promise<CheckResult> {
  let where = whereOf.get(spec);
  if (where === undefined) whereOf.set(spec, (where = hostPort(spec.address, spec.port)));
  const w = where;
  return new Promise<CheckResult>((resolve) => new TcpProbe(w, signal, resolve).start(spec));
}
