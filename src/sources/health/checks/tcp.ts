/**
 * The `tcp` check: healthy when a TCP connection to address:port opens
 * within the timeout. The connection is closed at once (no data sent).
 */
import * as net from 'node:net';
import type { TcpCheck } from '../../../config/index.js';
import type { CheckResult } from '../types.js';
import { errText, hostPort, settleOnce } from './common.js';

/** Open a TCP connection to the check's address and port, then close it. */
export function checkTcp(spec: TcpCheck, signal: AbortSignal): Promise<CheckResult> {
  const where = hostPort(spec.address, spec.port);
  let sock: net.Socket | undefined;
  return settleOnce(
    signal,
    (ms) => ({ ok: false, detail: `TCP connect to ${where} timed out after ${Math.round(ms)}ms` }),
    (done, t0) => {
      sock = net.connect({ host: spec.address, port: spec.port });
      sock.once('connect', () => done({ ok: true, detail: `TCP connect to ${where} ok in ${Math.round(performance.now() - t0)}ms` }));
      sock.once('error', (e) => done({ ok: false, detail: `TCP connect to ${where} failed: ${errText(e)}` }));
      return () => sock?.destroy();
    },
  );
}
