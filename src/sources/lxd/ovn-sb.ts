/**
 * Following OVN gateway moves from OVN itself: a monitor on the southbound
 * database (RFC 7047 `monitor`, see ovsdb.ts) of the two tables that say
 * which chassis holds each router gateway port, so `announce_from:
 * active-chassis` moves with the gateway at once instead of at the next
 * full LXD read (decision 0023).
 *
 *   Port_Binding (logical_port, type, chassis, mac): a row of type
 *     "chassisredirect" (`cr-<router port>`, e.g. LXD's
 *     `cr-lxd-net5-lr-lrp-ext`) is the gateway port; `chassis` is the chassis
 *     that claimed it — the active one; `mac` is "MAC ADDR/LEN ..." of the
 *     router's uplink port, whose addresses are the LXD network's
 *     `volatile.network.ipv4.address` / `ipv6.address`: that is how a
 *     gateway port is matched to its LXD network without the NB database.
 *   Chassis (name, hostname): what `/1.0/networks/N/state` → ovn.chassis
 *     names (the hostname).
 *
 * Owns:
 *   - `GatewayTable` (pure): the monitored rows, updated from <table-updates>,
 *     and the map gateway port → active chassis hostname (null: unclaimed);
 *   - `OvnSbMonitor` (driver): the connection (unix or TCP; the endpoints of
 *     a clustered database in turn), the monitor, answers to the server's
 *     `echo`, its own inactivity probe, reconnects with backoff, and one
 *     callback when the map changed. Timers go through the injected Clock.
 *
 * The LXD source uses the map at once (`withGatewayChassis`: the active
 * chassis of each OVN network whose router address the map knows, in place
 * of what LXD's last read said) and reads LXD again to confirm; LXD's own
 * `ovn.chassis` comes from the same database.
 */
import { createConnection, type Socket } from 'node:net';
import type { LxdNetworkState, LxdView } from './types.js';
import { realClock, type Clock } from '../../../bgp/index.js';
import { parseInterfaceAddress, parseIpAddress } from '../../ip.js';
import {
  asTableUpdates,
  datumOptionalUuid,
  datumString,
  datumStringSet,
  describeOvsdbEndpoint,
  echoReply,
  echoRequest,
  JsonStreamFramer,
  monitorRequest,
  OVSDB_MAX_MESSAGE_BYTES,
  parseOvsdbMessage,
  type OvsdbEndpoint,
  type TableUpdates,
} from './ovsdb.js';

/** The database and columns monitored. */
export const OVN_SB_DB = 'OVN_Southbound';
export const OVN_SB_MONITOR = {
  Port_Binding: { columns: ['logical_port', 'type', 'chassis', 'mac'] },
  Chassis: { columns: ['name', 'hostname'] },
} as const;

/** Bound on rows kept per table (a southbound database of a very large deployment stays below it). */
export const OVN_SB_MAX_ROWS = 1_000_000;

/** Gateway port (logical_port of a chassisredirect Port_Binding) → active chassis hostname, or null when unclaimed. */
export type GatewayMap = ReadonlyMap<string, string | null>;

/** The monitored southbound rows and the gateway map derived from them. Pure. */
export class GatewayTable {
  /** Port_Binding rows of type chassisredirect only, by row uuid. */
  private readonly ports = new Map<string, { port: string; chassis: string | null; addresses: string[] }>();
  /** Chassis rows by uuid → hostname (name when the hostname is empty). */
  private readonly chassis = new Map<string, string>();

  constructor(private readonly maxRows = OVN_SB_MAX_ROWS) {}

  /** Drop everything (a new monitor's initial contents follow). */
  clear(): void {
    this.ports.clear();
    this.chassis.clear();
  }

  /**
   * Apply RFC 7047 §4.1.6 <table-updates>: a row with `new` is inserted or
   * modified (columns absent from `new` keep their value), one without is
   * deleted. Return an error text for a malformed update (nothing applied
   * from the bad row on), else null.
   */
  apply(updates: TableUpdates): string | null {
    for (const [uuid, ru] of Object.entries(updates['Chassis'] ?? {})) {
      if (ru.new === undefined) {
        this.chassis.delete(uuid);
        continue;
      }
      const prevHost = this.chassis.get(uuid);
      const hostname = datumString(ru.new['hostname']);
      const name = datumString(ru.new['name']);
      const host = hostname !== undefined && hostname !== '' ? hostname : (name ?? prevHost);
      if (host === undefined) return `Chassis ${uuid}: no hostname or name`;
      if (!this.chassis.has(uuid) && this.chassis.size >= this.maxRows) return `more than ${this.maxRows} Chassis rows`;
      this.chassis.set(uuid, host);
    }
    for (const [uuid, ru] of Object.entries(updates['Port_Binding'] ?? {})) {
      if (ru.new === undefined) {
        this.ports.delete(uuid);
        continue;
      }
      const prev = this.ports.get(uuid);
      const type = 'type' in ru.new ? datumString(ru.new['type']) : prev ? 'chassisredirect' : undefined;
      if (type !== 'chassisredirect') {
        // Not a gateway port (or no longer one): not followed.
        this.ports.delete(uuid);
        continue;
      }
      const port = 'logical_port' in ru.new ? datumString(ru.new['logical_port']) : prev?.port;
      if (port === undefined) return `Port_Binding ${uuid}: logical_port is not a string`;
      let chassis = prev?.chassis ?? null;
      if ('chassis' in ru.new) {
        const c = datumOptionalUuid(ru.new['chassis']);
        if (c === undefined) return `Port_Binding ${uuid} (${port}): chassis ${JSON.stringify(ru.new['chassis'])} is not an optional uuid`;
        chassis = c;
      }
      let addresses = prev?.addresses ?? [];
      if ('mac' in ru.new) {
        const m = datumStringSet(ru.new['mac']);
        if (m === undefined) return `Port_Binding ${uuid} (${port}): mac ${JSON.stringify(ru.new['mac'])} is not a set of strings`;
        addresses = m.flatMap(routerAddresses);
      }
      if (!prev && this.ports.size >= this.maxRows) return `more than ${this.maxRows} gateway Port_Binding rows`;
      this.ports.set(uuid, { port, chassis, addresses });
    }
    return null;
  }

  /** The gateway map: each gateway port's active chassis hostname (null: unclaimed, or a chassis row not seen). */
  gateways(): Map<string, string | null> {
    const out = new Map<string, string | null>();
    for (const { port, chassis } of this.ports.values()) out.set(port, chassis === null ? null : (this.chassis.get(chassis) ?? null));
    return out;
  }

  /** Router uplink address (as LXD's volatile.network.ipvN.address) → active chassis hostname of its gateway port. */
  byAddress(): Map<string, string | null> {
    const out = new Map<string, string | null>();
    for (const { chassis, addresses } of this.ports.values()) {
      const host = chassis === null ? null : (this.chassis.get(chassis) ?? null);
      for (const a of addresses) out.set(a, host);
    }
    return out;
  }
}

/** The addresses in one Port_Binding `mac` entry ("MAC ADDR/LEN ADDR/LEN ..."), canonical (src/ip.ts), without lengths. */
function routerAddresses(entry: string): string[] {
  return entry
    .trim()
    .split(/\s+/)
    .slice(1)
    .flatMap((t) => {
      const a = t.includes('/') ? parseInterfaceAddress(t) : parseIpAddress(t);
      return typeof a === 'string' ? [] : ['address' in a ? a.address.text : a.text];
    });
}

/** The canonical text of an address (src/ip.ts); the text itself when it is not one. */
function canonical(text: string): string {
  const a = parseIpAddress(text.trim());
  return typeof a === 'string' ? text : a.text;
}

/**
 * Return `view` with the OVN networks' active chassis taken from the
 * southbound map (by the router's uplink address, `volatile.network.ipv4.address`
 * then `ipv6.address`); networks the map does not know keep what LXD said.
 * Pure; the view is not modified.
 */
export function withGatewayChassis(view: LxdView, byAddress: ReadonlyMap<string, string | null>): LxdView {
  if (byAddress.size === 0) return view;
  let states: Map<string, LxdNetworkState> | null = null;
  for (const net of view.networks) {
    if (net.type !== 'ovn') continue;
    const key = `${net.project ?? 'default'}/${net.name}`;
    for (const fam of ['ipv4', 'ipv6'] as const) {
      const v = net.config[`volatile.network.${fam}.address`];
      const addr = v === undefined ? undefined : canonical(v);
      if (addr === undefined || !byAddress.has(addr)) continue;
      const chassis = byAddress.get(addr) ?? null;
      const prev = view.states.get(key);
      if ((prev?.ovn?.chassis ?? null) === chassis) break;
      states ??= new Map(view.states);
      states.set(key, { ...prev, ovn: chassis === null ? null : { chassis } });
      break;
    }
  }
  return states === null ? view : { ...view, states };
}

/** Ports whose active chassis differs between two maps (added, removed or moved), sorted. */
export function changedGateways(before: GatewayMap | null, after: GatewayMap): string[] {
  const out = new Set<string>();
  for (const [p, c] of after) if (before?.get(p) !== c || !before.has(p)) out.add(p);
  if (before) for (const p of before.keys()) if (!after.has(p)) out.add(p);
  return [...out].sort();
}

/** What `onChange` is told. */
export interface GatewayChange {
  /** Ports whose active chassis changed (all of them on the first sync). */
  ports: string[];
  /** The whole map after the change. */
  gateways: GatewayMap;
  /** Router uplink address → active chassis hostname (for withGatewayChassis). */
  byAddress: GatewayMap;
  /** True for the contents of a new monitor (first connect or reconnect). */
  initial: boolean;
  /** True when the monitor was lost (the maps are empty until it is back): fall back to what LXD says. */
  lost?: boolean;
}

/** The monitor's state, for the source's state and logs. */
export interface OvnSbState {
  /** The connection methods configured, as given. */
  endpoint: string;
  /** The endpoint of the current (or last) connection. */
  connectedTo: string | null;
  connected: boolean;
  /** Monitors established (first connect and reconnects). */
  syncs: number;
  /** `update` notifications received. */
  updates: number;
  /** Times the gateway map changed (each one asked for a read). */
  changes: number;
  lastChangeAt: string | null;
  lastError: string | null;
  /** Gateway port → active chassis hostname (null: unclaimed). */
  gateways: Record<string, string | null>;
}

/** The logging calls the monitor makes (pino-compatible). */
export interface OvnSbLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

const silent: OvnSbLog = { info() {}, warn() {}, debug() {} };

export interface OvnSbMonitorOptions {
  /** Endpoints, tried in turn on each (re)connect. */
  endpoints: readonly OvsdbEndpoint[];
  /** The configured text (for state and logs); default the endpoints described. */
  endpointText?: string;
  log?: OvnSbLog;
  clock?: Clock;
  /** Open a stream to an endpoint (tests); default node:net. */
  connect?: (e: OvsdbEndpoint) => Socket;
  /** Idle time before our own echo, and again before giving the connection up; default 5 s (ovsdb-server's own default probe). */
  probeIntervalMs?: number;
  /** Reconnect backoff; defaults 100 ms doubling to 10 s. */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  maxMessageBytes?: number;
}

/** A running southbound monitor: connects, follows, reconnects; tells `onChange` when the gateway map changed. */
export class OvnSbMonitor {
  private readonly log: OvnSbLog;
  private readonly clock: Clock;
  private readonly probeMs: number;
  private readonly backoffInitialMs: number;
  private readonly backoffMaxMs: number;
  private onChange: (c: GatewayChange) => void = () => {};
  private readonly table = new GatewayTable();
  private known: GatewayMap | null = null;
  private byAddressNow: GatewayMap = new Map();
  private socket: Socket | null = null;
  private framer: JsonStreamFramer | null = null;
  private next = 0;
  private nextId = 1;
  private monitorId = 0;
  /** JSON-RPC id of the pending monitor request (its reply is the initial contents). */
  private monitorReqId = -1;
  private synced = false;
  private running = false;
  private backoff: number;
  private cancelRetry: (() => void) | null = null;
  private cancelProbe: (() => void) | null = null;
  private lastRx = 0;
  private probeSent = false;
  private readonly st: OvnSbState;

  constructor(private readonly opts: OvnSbMonitorOptions) {
    if (opts.endpoints.length === 0) throw new Error('OvnSbMonitor: no endpoint');
    this.log = opts.log ?? silent;
    this.clock = opts.clock ?? realClock;
    this.probeMs = opts.probeIntervalMs ?? 5000;
    this.backoffInitialMs = opts.backoffInitialMs ?? 100;
    this.backoffMaxMs = opts.backoffMaxMs ?? 10_000;
    this.backoff = this.backoffInitialMs;
    this.st = {
      endpoint: opts.endpointText ?? opts.endpoints.map(describeOvsdbEndpoint).join(','),
      connectedTo: null,
      connected: false,
      syncs: 0,
      updates: 0,
      changes: 0,
      lastChangeAt: null,
      lastError: null,
      gateways: {},
    };
  }

  /** Connect and follow; `onChange` is called after each change of the gateway map (and once the first monitor is in place). */
  start(onChange: (c: GatewayChange) => void): void {
    this.onChange = onChange;
    if (this.running) return;
    this.running = true;
    this.connect();
  }

  /** Close the connection and stop reconnecting. */
  stop(): void {
    this.running = false;
    this.cancelRetry?.();
    this.cancelRetry = null;
    this.drop(null);
  }

  /** Router uplink address → active chassis, while the monitor is in place (connected and synced); null otherwise. */
  current(): GatewayMap | null {
    return this.st.connected && this.synced ? this.byAddressNow : null;
  }

  /** A copy of the state. */
  state(): OvnSbState {
    return { ...this.st, gateways: { ...this.st.gateways } };
  }

  private connect(): void {
    if (!this.running) return;
    const ep = this.opts.endpoints[this.next % this.opts.endpoints.length]!;
    this.next++;
    const where = describeOvsdbEndpoint(ep);
    const sock = this.opts.connect
      ? this.opts.connect(ep)
      : ep.kind === 'unix'
        ? createConnection({ path: ep.path })
        : createConnection({ host: ep.host, port: ep.port, keepAlive: true, noDelay: true });
    this.socket = sock;
    this.framer = new JsonStreamFramer(this.opts.maxMessageBytes ?? OVSDB_MAX_MESSAGE_BYTES);
    this.synced = false;
    this.st.connectedTo = where;
    sock.on('connect', () => {
      if (this.socket !== sock) return;
      this.st.connected = true;
      this.monitorId++;
      this.touch();
      this.monitorReqId = this.nextId++;
      sock.write(monitorRequest(this.monitorReqId, OVN_SB_DB, `herald-${this.monitorId}`, OVN_SB_MONITOR));
    });
    sock.on('data', (chunk: Buffer) => {
      if (this.socket !== sock) return;
      this.touch();
      let texts: string[];
      try {
        texts = this.framer!.push(chunk);
        for (const t of texts) this.handle(sock, t);
      } catch (e) {
        this.drop(`${where}: ${(e as Error).message}`);
      }
    });
    sock.on('error', (e: Error) => {
      if (this.socket === sock) this.drop(`${where}: ${e.message}`);
    });
    sock.on('close', () => {
      if (this.socket === sock) this.drop(`${where}: connection closed`);
    });
  }

  private handle(sock: Socket, text: string): void {
    const m = parseOvsdbMessage(text);
    if (m.kind === 'request') {
      // RFC 7047 §4.1.11: either side may send echo; the other MUST answer.
      if (m.method === 'echo') sock.write(echoReply(m.id, m.params));
      else sock.write(JSON.stringify({ result: null, error: `unsupported method ${m.method}`, id: m.id }));
      return;
    }
    if (m.kind === 'response') {
      if (m.id !== this.monitorReqId || this.synced) return; // an echo reply: touch() already counted it
      if (m.error !== null) throw new Error(`monitor refused: ${JSON.stringify(m.error)}`);
      const u = asTableUpdates(m.result);
      if (typeof u === 'string') throw new Error(`monitor reply: ${u}`);
      this.table.clear();
      this.applyOrThrow(u);
      this.synced = true;
      this.st.syncs++;
      this.st.lastError = null;
      this.backoff = this.backoffInitialMs;
      this.log.info({ endpoint: this.st.connectedTo, gateways: this.table.gateways().size }, 'OVN southbound monitor in place');
      this.publish(true);
      return;
    }
    if (m.method === 'update' && Array.isArray(m.params) && m.params[0] === `herald-${this.monitorId}`) {
      const u = asTableUpdates(m.params[1]);
      if (typeof u === 'string') throw new Error(`update: ${u}`);
      this.st.updates++;
      this.applyOrThrow(u);
      this.publish(false);
    }
  }

  private applyOrThrow(u: TableUpdates): void {
    const err = this.table.apply(u);
    if (err !== null) throw new Error(`southbound update: ${err}`);
  }

  private publish(initial: boolean): void {
    const now = this.table.gateways();
    const byAddress = this.table.byAddress();
    this.byAddressNow = byAddress;
    const ports = changedGateways(this.known, now);
    this.st.gateways = Object.fromEntries([...now].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    if (ports.length === 0 && !(initial && this.known === null)) return;
    this.known = now;
    this.st.changes++;
    this.st.lastChangeAt = new Date().toISOString();
    this.log.info({ ports: ports.map((p) => `${p}=${now.get(p) ?? 'none'}`), initial }, 'OVN gateway chassis changed');
    try {
      this.onChange({ ports, gateways: now, byAddress, initial });
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'OVN gateway change listener failed');
    }
  }

  /** Something arrived: re-arm the inactivity probe. */
  private touch(): void {
    this.lastRx = this.clock.now();
    this.probeSent = false;
    if (this.cancelProbe === null) this.armProbe();
  }

  private armProbe(): void {
    this.cancelProbe = this.clock.setTimer(this.lastRx + this.probeMs * (this.probeSent ? 2 : 1), () => {
      this.cancelProbe = null;
      const sock = this.socket;
      if (sock === null) return;
      const idle = this.clock.now() - this.lastRx;
      if (idle < this.probeMs) {
        this.armProbe();
        return;
      }
      if (this.probeSent) {
        this.drop(`${this.st.connectedTo ?? '?'}: no answer for ${Math.round(idle)} ms (inactivity probe)`);
        return;
      }
      this.probeSent = true;
      sock.write(echoRequest(this.nextId++));
      this.armProbe();
    });
  }

  /** Close the current connection (reason null: stopping) and, while running, reconnect after the backoff. */
  private drop(reason: string | null): void {
    const sock = this.socket;
    this.socket = null;
    this.framer = null;
    this.cancelProbe?.();
    this.cancelProbe = null;
    const was = this.st.connected;
    const wasSynced = this.synced;
    this.st.connected = false;
    this.synced = false;
    sock?.destroy();
    if (wasSynced && this.known !== null) {
      // The map is no longer followed: the source falls back to LXD's word.
      const ports = [...this.known.keys()].sort();
      this.known = null;
      this.byAddressNow = new Map();
      try {
        this.onChange({ ports, gateways: new Map(), byAddress: new Map(), initial: false, lost: true });
      } catch (e) {
        this.log.warn({ err: (e as Error).message }, 'OVN gateway change listener failed');
      }
    }
    if (reason === null || !this.running) return;
    this.st.lastError = reason;
    if (was || this.st.syncs === 0) this.log.warn({ error: reason, retryMs: this.backoff }, 'OVN southbound monitor lost; reconnecting');
    const delay = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.backoffMaxMs);
    this.cancelRetry?.();
    this.cancelRetry = this.clock.setTimer(this.clock.now() + delay, () => {
      this.cancelRetry = null;
      this.connect();
    });
  }
}
