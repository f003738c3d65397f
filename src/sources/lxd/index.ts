/**
 * The LXD / OVN / Incus route source (issue 4): public surface.
 * Construct with `createLxdSource` (or `new LxdSource` with your own client).
 */
import { findSocket, LxdClient, type LxdClientOptions, type LxdEndpoint } from './client.js';
import { LxdSource, type LxdSourceOptions } from './source.js';

export * from './types.js';
export * from './derive.js';
export * from './client.js';
export * from './events.js';
export * from './source.js';
export * from './config.js';
export * from './ovsdb.js';
export * from './ovn-sb.js';

/** Make an LXD source: a socket path (or the first existing default), or an HTTPS endpoint. */
export function createLxdSource(
  endpoint: LxdEndpoint | { kind: 'unix'; socket: string | null },
  opts: Omit<LxdSourceOptions, 'client'> & { client?: LxdClientOptions },
): LxdSource {
  let ep: LxdEndpoint;
  if (endpoint.kind === 'unix') {
    const socket = endpoint.socket ?? findSocket();
    if (!socket) throw new Error('no LXD socket found (tried the snap, Debian and Incus default paths); set lxd.socket');
    ep = { kind: 'unix', socket };
  } else ep = endpoint;
  const { client: clientOpts, ...rest } = opts;
  return new LxdSource({ ...rest, client: new LxdClient(ep, clientOpts) });
}
