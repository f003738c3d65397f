/**
 * Where the control sockets are: the one rule both the config (the default
 * of `api.readonly_socket`) and the `routes` CLI (which falls back to the
 * read-only socket when the operator socket refuses it) follow, so they
 * agree without the CLI loading the config code. No RFC.
 */
import { basename, dirname, join } from 'node:path';

/** The default socket of the daemon and the CLI. */
export const DEFAULT_SOCKET = '/run/herald/herald.sock';

/** The read-only socket that goes with an operator socket: "herald.sock" → "herald-ro.sock" in the same directory. */
export function readonlySocketFor(socket: string): string {
  const base = basename(socket);
  const stem = base.endsWith('.sock') ? base.slice(0, -'.sock'.length) : base;
  return join(dirname(socket), `${stem}-ro.sock`);
}
