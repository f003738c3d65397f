/**
 * The `routes` command line: the operator's window on a running herald,
 * through the control API's unix socket (src/api/). Every command prints a
 * table or text for people and, with `--json`, the API's documented shape
 * for scripts (docs/cli.md).
 *
 * Exit codes (for monitoring systems):
 *   0   ok (`check`: announced to every established peer that should carry it)
 *   1   the command failed, or `check`: the prefix is not announced (reason printed)
 *   2   the daemon is unreachable (no socket, refused, permission denied)
 *   64  usage error
 * No RFC.
 */
import { ApiClient, ApiResponseError, UnreachableError } from '../api/client.js';
import { DEFAULT_SOCKET, readonlySocketFor } from '../api/paths.js';
import type { ExplainState, LookupState, LxdState, PeerState, ReceivedState, RouteState, ServiceState, StateEvent, SummaryState } from '../state/index.js';
import {
  columnWidths,
  receivedRow,
  RECEIVED_HEADERS,
  renderEvent,
  renderExplain,
  renderLookup,
  renderLxd,
  renderPeerAction,
  renderPeers,
  renderRow,
  renderServices,
  renderSummary,
  renderTable,
  ROUTE_HEADERS,
  routeRow,
  type Cell,
  type RenderOptions,
} from './render.js';
import { EXIT_USAGE, parseCommandLine, UsageError } from './args.js';
import { heraldVersion } from '../version.js';

export const EXIT = { ok: 0, failed: 1, unreachable: 2, usage: EXIT_USAGE } as const;
export { DEFAULT_SOCKET };

/** Commands that only read: when the operator socket refuses us (permission), they use the read-only socket. */
const READS = new Set(['summary', 'status', 'peers', 'services', 'list', 'received', 'explain', 'check', 'lookup', 'lxd', 'watch']);
/** The peer actions (`routes peer NAME ACTION`). */
const PEER_ACTIONS = ['down', 'up', 'reset', 'refresh'];
/** RFC 9003 §2: a shutdown communication is at most 255 octets of UTF-8. */
const MAX_SHUTDOWN_TEXT = 255;

export const USAGE = `usage: routes [COMMAND] [--socket PATH] [--json]

  routes                          summary: sessions, routes, services
  routes peers                    BGP sessions
  routes list [--peer P] [--service S] [--family ipv4|ipv6]
                                  announced routes per peer, with source and status
  routes received PEER [PREFIX]   routes received from a peer
  routes services                 services with their last check results
  routes explain PREFIX           why a prefix is or is not announced
  routes lookup ADDRESS           longest match among announced and received
                                  routes, with why each is or is not sent
  routes check PREFIX             exit 0 if announced to every established peer
                                  that should carry it, 1 if not, 2 if unreachable
  routes drain SERVICE...|--all [--wait]
                                  GRACEFUL_SHUTDOWN, then withdraw (--wait: until
                                  sent); kept across restarts until undrained
  routes undrain [SERVICE...]     announce again by health (no name: all)
  routes peer PEER down [--message TEXT]
                                  Cease/Administrative Shutdown; stays down until up
  routes peer PEER up             start a peer that is down (admin, limit, damping)
  routes peer PEER reset [--message TEXT]
                                  Cease/Administrative Reset, then reconnect
  routes peer PEER refresh        re-send every route to the peer, no reset
  routes reload                   reload the config (a bad one is refused)
  routes restart                  planned restart: herald stops without withdrawing
                                  (routers with Graceful Restart keep its routes) and
                                  exits 75 for systemd to start it again at once
  routes lxd                      the LXD source: reachability, derived and
                                  skipped routes with their origin and reason
  routes watch                    follow changes live

  -s, --socket PATH   control socket (default $HERALD_SOCKET or ${DEFAULT_SOCKET});
                      reads use the read-only socket beside it when this one
                      refuses permission
  -j, --json          machine-readable output (docs/cli.md)
  -h, --help          this text
  -V, --version       print the version
`;

/** Where the CLI writes, and what it knows of its terminal. */
export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream;
  env: Record<string, string | undefined>;
  /** Aborts `routes watch` (Ctrl-C); default: never. */
  signal?: AbortSignal;
}

/** Run the routes command line; returns the exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let values: {
    socket?: string;
    json?: boolean;
    peer?: string;
    service?: string;
    family?: string;
    all?: boolean;
    wait?: boolean;
    message?: string;
    help?: boolean;
    version?: boolean;
  };
  let positionals: string[];
  try {
    ({ values, positionals } = parseCommandLine(
      argv,
      {
        socket: { type: 'string', short: 's' },
        json: { type: 'boolean', short: 'j' },
        peer: { type: 'string' },
        service: { type: 'string' },
        family: { type: 'string' },
        all: { type: 'boolean' },
        wait: { type: 'boolean' },
        message: { type: 'string', short: 'm' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'V' },
      },
      true,
    ));
  } catch (e) {
    io.stderr.write(`routes: ${(e as Error).message}\n${USAGE}`);
    return EXIT.usage;
  }
  if (values.help || positionals[0] === 'help') {
    io.stdout.write(USAGE);
    return EXIT.ok;
  }
  if (values.version || positionals[0] === 'version') {
    io.stdout.write(`routes (herald) ${await heraldVersion()}\n`);
    return EXIT.ok;
  }
  const socket = values.socket ?? io.env.HERALD_SOCKET ?? DEFAULT_SOCKET;
  const tty = io.stdout.isTTY === true;
  const o: RenderOptions = { width: tty ? (io.stdout.columns ?? 80) : null, colour: tty && !io.env.NO_COLOR };
  const [cmd = 'summary', ...args] = positionals;
  let used = socket;
  const run = (api: ApiClient): Promise<number> => {
    used = api.socket;
    return command(api, cmd, args, values, io, o);
  };
  try {
    try {
      return await run(new ApiClient(socket));
    } catch (e) {
      // Permission denied on the operator socket: a read goes through the read-only one beside it (decision 0032).
      if (!(e instanceof UnreachableError) || !/^(EACCES|EPERM)$/.test(e.reason) || !READS.has(cmd)) throw e;
      const ro = readonlySocketFor(socket);
      const api = new ApiClient(ro);
      io.stderr.write(`routes: permission denied on ${socket}; reading through the read-only socket ${ro}\n`);
      return await run(api);
    }
  } catch (e) {
    return failure(e, values.json === true, io, used);
  }
}

/** Print an error the way the exit codes in the header say; a refusal names the socket it came from. */
function failure(e: unknown, json: boolean, io: CliIo, socket: string): number {
  if (e instanceof UsageError) {
    io.stderr.write(`routes: ${e.message}\n${USAGE}`);
    return EXIT.usage;
  }
  if (e instanceof UnreachableError) {
    io.stderr.write(`routes: ${e.message}\n`);
    return EXIT.unreachable;
  }
  if (e instanceof ApiResponseError) {
    if (json) io.stdout.write(`${JSON.stringify(e.body, null, 2)}\n`);
    io.stderr.write(`routes: ${e.message}${e.status === 403 ? ` (socket ${socket})` : ''}\n`);
    return e.code === 'bad-prefix' || e.code === 'bad-address' ? EXIT.usage : EXIT.failed;
  }
  io.stderr.write(`routes: ${(e as Error).message}\n`);
  return EXIT.failed;
}

/** The options every command may read. */
interface Values {
  json?: boolean;
  peer?: string;
  service?: string;
  family?: string;
  all?: boolean;
  wait?: boolean;
  message?: string;
}

/** Run one command against one socket; returns the exit code (errors are thrown to runCli). */
async function command(api: ApiClient, cmd: string, args: string[], values: Values, io: CliIo, o: RenderOptions): Promise<number> {
  const out = (s: string): boolean => io.stdout.write(s);
  const json = (v: unknown): boolean => out(`${JSON.stringify(v, null, 2)}\n`);
  if (values.message !== undefined && cmd !== 'peer') throw new UsageError('--message goes with routes peer PEER down|reset');
  switch (cmd) {
    case 'summary':
    case 'status': {
      noArgs(args);
      const s = await api.get<SummaryState>('/v1/summary');
      if (values.json) json(s);
      else out(renderSummary(s, o, { socket: api.socket, access: api.access }));
      return EXIT.ok;
    }
    case 'peers': {
      noArgs(args);
      const ps = await api.get<PeerState[]>('/v1/peers');
      if (values.json) json(ps);
      else out(renderPeers(ps, o));
      return EXIT.ok;
    }
    case 'services': {
      noArgs(args);
      const ss = await api.get<ServiceState[]>('/v1/services');
      if (values.json) json(ss);
      else out(renderServices(ss, o));
      return EXIT.ok;
    }
    case 'list': {
      noArgs(args);
      if (values.family !== undefined && values.family !== 'ipv4' && values.family !== 'ipv6') {
        throw new UsageError(`--family must be ipv4 or ipv6, not '${values.family}'`);
      }
      const q = new URLSearchParams();
      if (values.peer !== undefined) q.set('peer', values.peer);
      if (values.service !== undefined) q.set('service', values.service);
      if (values.family !== undefined) q.set('family', values.family);
      const path = `/v1/routes${q.size ? `?${q}` : ''}`;
      if (values.json) await api.pipe(path, io.stdout);
      else {
        const n = await streamTable<RouteState>(api, path, [...ROUTE_HEADERS], routeRow, o, out);
        if (n === 0) out('no routes\n');
      }
      return EXIT.ok;
    }
    case 'received': {
      const [peer, prefix, ...rest] = args;
      if (!peer) throw new UsageError('routes received needs a peer name: routes received PEER [PREFIX]');
      noArgs(rest);
      const path = `/v1/received/${encodeURIComponent(peer)}${prefix ? `?prefix=${encodeURIComponent(prefix)}` : ''}`;
      if (values.json) await api.pipe(path, io.stdout);
      else {
        const n = await streamTable<ReceivedState>(api, path, [...RECEIVED_HEADERS], receivedRow, o, out);
        if (n === 0) out(prefix ? `${peer} has not sent ${prefix}\n` : `no routes received from ${peer}\n`);
      }
      return EXIT.ok;
    }
    case 'explain':
    case 'check': {
      const [prefix, ...rest] = args;
      if (!prefix) throw new UsageError(`routes ${cmd} needs a prefix, e.g. routes ${cmd} 198.51.100.53/32`);
      noArgs(rest);
      const x = await api.get<ExplainState>(`/v1/explain/${encodeURIComponent(prefix)}`);
      if (values.json) json(x);
      else if (cmd === 'explain') out(renderExplain(x, o));
      else out(`${x.announced ? 'OK' : 'NOT ANNOUNCED'} ${x.prefix}: ${x.reason}\n`);
      return cmd === 'check' && !x.announced ? EXIT.failed : EXIT.ok;
    }
    case 'lookup': {
      const [text, ...rest] = args;
      if (!text) throw new UsageError('routes lookup needs an address, e.g. routes lookup 198.51.100.53');
      noArgs(rest);
      // Parsed here, so a typo is a usage error before anything is asked (loaded only for this command).
      const { parseLookupAddress } = await import('../state/address.js');
      const a = parseLookupAddress(text);
      if (typeof a === 'string') throw new UsageError(a);
      const x = await api.get<LookupState>(`/v1/lookup?address=${encodeURIComponent(a.address)}`);
      if (values.json) json(x);
      else out(renderLookup(x, o));
      return EXIT.ok;
    }
    case 'peer': {
      const [name, action, ...rest] = args;
      if (!name || !action) throw new UsageError(`routes peer needs a peer and an action: routes peer PEER ${PEER_ACTIONS.join('|')}`);
      if (!PEER_ACTIONS.includes(action)) throw new UsageError(`unknown peer action '${action}'; use ${PEER_ACTIONS.join(', ')}`);
      noArgs(rest);
      const message = values.message;
      if (message !== undefined && action !== 'down' && action !== 'reset') throw new UsageError(`--message goes with down and reset, not ${action}`);
      if (message !== undefined && Buffer.byteLength(message) > MAX_SHUTDOWN_TEXT) {
        throw new UsageError(`--message is ${Buffer.byteLength(message)} octets of UTF-8; a shutdown communication holds at most ${MAX_SHUTDOWN_TEXT} (RFC 9003)`);
      }
      let r: PeerActionAnswer;
      try {
        r = await api.post<PeerActionAnswer>(`/v1/peers/${encodeURIComponent(name)}/${action}`, message !== undefined ? { message } : {});
      } catch (e) {
        // Refused (409: a reset of a peer that is down, a refresh without a session): the answer says why.
        if (!(e instanceof ApiResponseError) || e.status !== 409) throw e;
        if (values.json) json(e.body);
        io.stderr.write(`routes: ${e.message}\n`);
        return EXIT.failed;
      }
      if (values.json) json(r);
      else out(renderPeerAction(r, o));
      return EXIT.ok;
    }
    case 'drain': {
      if (!values.all && args.length === 0) throw new UsageError('name the services to drain, or --all: routes drain dns [--wait]');
      if (values.all && args.length) throw new UsageError('give service names or --all, not both');
      const body = { ...(values.all ? { all: true } : { services: args }), wait: values.wait === true };
      const r = await api.post<DrainAnswer>('/v1/drain', body);
      if (values.json) json(r);
      else {
        if (r.withdrawalSent) out(`drained ${r.services.join(', ')}: withdrawn, and every established peer has been sent the withdrawal\n`);
        else if (r.periodMs > 0) out(`draining ${r.services.join(', ')}: GRACEFUL_SHUTDOWN for ${r.periodMs / 1000}s, then withdraw\n`);
        else out(`drained ${r.services.join(', ')}: withdrawn\n`);
        out(persistence(r));
      }
      if (r.persistError) io.stderr.write(`routes: the drain is not kept across a restart: ${r.persistError}\n`);
      return EXIT.ok;
    }
    case 'undrain': {
      const r = await api.post<{ services: string[]; stateFile?: string | null; persistError?: string | null }>('/v1/undrain', args.length ? { services: args } : {});
      if (values.json) json(r);
      else out(r.services.length ? `undrained ${r.services.join(', ')}: announced again according to health${r.stateFile ? `; cleared from ${r.stateFile}` : ''}\n` : 'nothing was drained\n');
      if (r.persistError) io.stderr.write(`routes: could not clear the kept drain, it returns at the next restart: ${r.persistError}\n`);
      return EXIT.ok;
    }
    case 'reload': {
      noArgs(args);
      try {
        const r = await api.post<{ ok: boolean; errors: string[] }>('/v1/reload');
        if (values.json) json(r);
      else out('config reloaded\n');
        return EXIT.ok;
      } catch (e) {
        if (!(e instanceof ApiResponseError) || e.status !== 422) throw e;
        const body = e.body as { ok: false; errors: string[] };
        if (values.json) json(body);
        else io.stderr.write(`routes: reload refused; herald keeps running the previous config:\n${body.errors.map((l) => `  ${l}\n`).join('')}`);
        return EXIT.failed;
      }
    }
    case 'restart': {
      noArgs(args);
      const r = await api.post<{ restarting: boolean; gracefulRestart: string[]; flushing: string[] }>('/v1/restart');
      if (values.json) json(r);
      else {
        out(`herald is restarting: it stops without withdrawing and exits 75; the service manager starts it again\n`);
        if (r.gracefulRestart.length) out(`  peers that keep its routes meanwhile (Graceful Restart): ${r.gracefulRestart.join(', ')}\n`);
        if (r.flushing.length) out(`  peers without Graceful Restart, which drop its routes now: ${r.flushing.join(', ')}\n`);
      }
      return EXIT.ok;
    }
    case 'lxd': {
      noArgs(args);
      const x = await api.get<LxdState>('/v1/lxd');
      if (values.json) json(x);
      else out(renderLxd(x, o));
      return EXIT.ok;
    }
    case 'watch': {
      noArgs(args);
      let dropped: string | null = null;
      await api.events((type, data) => {
        if (type === 'dropped') {
          // The daemon cut this stream off: we read too slowly and events were lost.
          dropped = (data as { reason?: string }).reason ?? 'events were lost';
          return;
        }
        if (values.json) out(`${JSON.stringify(type === 'hello' ? { type, summary: data } : data)}\n`);
        else out(`${renderEvent(type === 'hello' ? { type: 'hello' } : (data as StateEvent), o)}\n`);
      }, io.signal);
      if (dropped !== null) {
        io.stderr.write(`routes: the daemon ended this watch: ${dropped}\n`);
        return EXIT.failed;
      }
      return EXIT.ok;
    }
    default:
      throw new UsageError(`unknown command '${cmd}'`);
  }
}

/** The POST /v1/peers/PEER/ACTION answer (docs/api.md). */
export interface PeerActionAnswer {
  peer: string;
  action: string;
  changed: boolean;
  detail: string;
  peerState: PeerState;
}

/** The POST /v1/drain answer (persisted/stateFile/persistError are absent from daemons before issue 10). */
interface DrainAnswer {
  services: string[];
  periodMs: number;
  phase: string;
  withdrawalSent: boolean;
  persisted?: boolean;
  stateFile?: string | null;
  persistError?: string | null;
}

/** Say whether the drain outlives a restart. */
function persistence(r: DrainAnswer): string {
  if (r.persisted) return `kept across restarts in ${r.stateFile}; 'routes undrain ${r.services.join(' ')}' ends it\n`;
  return `not kept across a restart; 'routes undrain' ends it\n`;
}

function noArgs(args: string[]): void {
  if (args.length) throw new UsageError(`unexpected argument '${args[0]}'`);
}

const BATCH = 500;

/** Print a streamed list as a table; widths come from the first batch so a million rows never sit in memory. */
async function streamTable<T>(
  api: ApiClient,
  path: string,
  headers: string[],
  row: (t: T) => Cell[],
  o: RenderOptions,
  out: (s: string) => boolean,
): Promise<number> {
  let batch: Cell[][] = [];
  let widths: number[] | null = null;
  const flush = (): void => {
    if (widths === null) {
      widths = columnWidths(headers, batch, o.width);
      out(renderTable(headers, batch, o));
    } else out(batch.map((r) => renderRow(r, widths!, o.colour)).join('\n') + '\n');
    batch = [];
  };
  const n = await api.stream<T>(path, (t) => {
    batch.push(row(t));
    if (batch.length >= BATCH) flush();
  });
  if (batch.length) flush();
  return n;
}
