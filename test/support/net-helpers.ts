// Small TCP helpers for tests that talk to the kernel: a listener on an
// ephemeral port that keeps its accepted sockets (so closing it never waits on
// a client), its port, and reading a socket to its end.
import * as net from 'node:net';

/** What a listener without its own handler writes to each client before closing. */
export const GREETING = 'hello from the listener';

const accepted = new WeakMap<net.Server, Set<net.Socket>>();

/** Listen on an ephemeral port of `host`; each connection goes to `onConn`, else gets GREETING and is closed. */
export function listen(host: string, onConn?: (s: net.Socket) => void): Promise<net.Server> {
  const open = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    open.add(s);
    s.on('close', () => open.delete(s));
    s.on('error', () => {});
    s.resume(); // read, so a client's close is seen even by a handler that never reads
    if (onConn) onConn(s);
    else s.end(GREETING);
  });
  accepted.set(srv, open);
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, host, () => resolve(srv));
  });
}

/** Close `srv`, destroying the connections it still holds. */
export function close(srv: net.Server): Promise<void> {
  return new Promise((r) => {
    srv.close(() => r());
    for (const s of accepted.get(srv) ?? []) s.destroy();
  });
}

/** Return the port `srv` listens on. */
export function port(srv: net.Server): number {
  return (srv.address() as net.AddressInfo).port;
}

/** Read `s` as UTF-8 until its end. */
export function readAll(s: net.Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (data += d));
    s.on('end', () => resolve(data));
    s.on('error', reject);
  });
}
