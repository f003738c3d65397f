/**
 * LXD route derivation: one read of the LXD API (`LxdView`) plus the
 * configured rules in, the LXD source's full snapshot of intents out. Pure:
 * no I/O, no clock, so every rule is a table test (test/src/sources/lxd/).
 *
 * Rules (each switchable in `LxdRules`, defaults in `DEFAULT_LXD_RULES`):
 *   ovn.subnet       OVN network on a configured uplink, NAT off for the
 *                    family: its ipv4.address / ipv6.address subnet
 *   ovn.nat          OVN network, NAT on: ipv4.nat.address / ipv6.nat.address
 *                    as /32 or /128
 *   routes.external  each NIC's ipv4.routes.external / ipv6.routes.external of
 *                    an instance running (Running, Ready) on this member
 *   nic.address      (opt-in) the NIC's static ipv4.address / ipv6.address
 *   forward          listen addresses of network forwards
 *   load-balancer    listen addresses of network load balancers (OVN)
 *   bridge.subnet    (opt-in) managed bridges' own subnets, NAT off
 *   user.herald.routes  extra prefixes from the instance's user key
 *
 * Next hops: anything behind an OVN network goes to the OVN router's uplink
 * address (`volatile.network.ipv4.address` / `ipv6.address`); anything on a
 * bridge goes to this host ("self", the session's own address). The next
 * hop's family always matches the prefix's: an IPv6 prefix never gets an
 * IPv4 or IPv4-mapped next hop (LXD issue 12547). A route with no suitable
 * next hop is not announced and lands in `skipped` with the reason, for
 * `routes explain`.
 *
 * "This member" is `environment.server_name`; a standalone server reports
 * its instances with location "none". An evacuated member announces nothing
 * for instances, nor does an instance that is not Running or Ready; their
 * routes are listed in `skipped` with that reason. With `announceFrom: 'active-chassis'`, routes whose next
 * hop is an OVN router are announced only by the host of that network's
 * active gateway chassis (`/1.0/networks/N/state` → ovn.chassis, compared
 * with `chassisName`, default the server name; clustered or not), for
 * uplinks without a shared L2 between members. The others list them in
 * `skipped` with the chassis that announces them.
 *
 * Health gating (`user.herald.check`): an instance with that key has its
 * routes (routes.external, nic.address, user.herald.routes) announced only
 * while the check is up. Derivation stays pure: the caller passes `isUp`
 * (the source keeps one ServiceHealth per check) and gets back in `checks`
 * the checks the announced-or-withheld routes depend on. The key's value is
 * `tcp:ADDRESS:PORT` or an `http://` / `https://` URL (status 200); exec is
 * refused on purpose: an instance owner must not run commands on the
 * hypervisor. A value that does not parse withholds the routes, with the
 * reason in `skipped`.
 */
import type { Check } from '../../config/index.js';
import { inRange, parseIpAddress, parseIpRange, parsePrefixText, prefixContains, type IpAddress, type IpPrefix } from '../../ip.js';
import type { Intent } from '../../reconciler/index.js';
import type { LxdInstance, LxdNetwork, LxdView } from './types.js';

export type LxdRuleName =
  | 'ovn.subnet'
  | 'ovn.nat'
  | 'routes.external'
  | 'nic.address'
  | 'forward'
  | 'load-balancer'
  | 'bridge.subnet'
  | 'user.herald.routes';

export interface LxdRules {
  /** Projects to read; empty = all projects. */
  readonly projects: readonly string[];
  /** Uplink networks whose OVN networks are announced; empty = any uplink. */
  readonly uplinks: readonly string[];
  /** Who announces OVN-router routes: every member (as LXD does) or only the active chassis. */
  readonly announceFrom: 'all-members' | 'active-chassis';
  /** This host's name as `ovn.chassis` reports it (OVS external_ids:hostname); null = the LXD server name. */
  readonly chassisName: string | null;
  readonly ovnNetworks: boolean;
  readonly routesExternal: boolean;
  readonly nicAddresses: boolean;
  readonly forwards: boolean;
  readonly loadBalancers: boolean;
  readonly bridgeSubnets: boolean;
  readonly userRoutes: boolean;
  /** The instance config key holding extra prefixes (comma or space separated). */
  readonly userRoutesKey: string;
  /** Timeout of one `user.herald.check` probe, ms. */
  readonly checkTimeoutMs: number;
}

/** Default timeout of a `user.herald.check` probe, ms (config: lxd.check_timeout). */
export const HERALD_CHECK_TIMEOUT_MS = 1000;

export const DEFAULT_LXD_RULES: LxdRules = {
  projects: [],
  uplinks: [],
  announceFrom: 'all-members',
  chassisName: null,
  ovnNetworks: true,
  routesExternal: true,
  nicAddresses: false,
  forwards: true,
  loadBalancers: true,
  bridgeSubnets: false,
  userRoutes: true,
  userRoutesKey: 'user.herald.routes',
  checkTimeoutMs: HERALD_CHECK_TIMEOUT_MS,
};

/** BGP attributes put on every LXD route. */
export interface LxdAttrs {
  readonly med?: number;
  readonly communities: readonly string[];
  readonly largeCommunities: readonly string[];
  readonly extendedCommunities: readonly string[];
  readonly peers: readonly string[] | null;
}

export const NO_ATTRS: LxdAttrs = { communities: [], largeCommunities: [], extendedCommunities: [], peers: null };

/** Where a derived route came from (for `routes explain` and the CLI). */
export interface LxdOrigin {
  readonly project: string;
  readonly rule: LxdRuleName;
  readonly network?: string;
  readonly instance?: string;
  readonly device?: string;
  /** The forward's or load balancer's listen address. */
  readonly listen?: string;
}

/** A prefix a rule wanted but that is not announced, and why. */
export interface LxdSkipped {
  readonly prefix: string;
  readonly reason: string;
  readonly origin: LxdOrigin;
}

export interface LxdDerived {
  intents: Intent[];
  /** origins[i] is where intents[i] came from. */
  origins: LxdOrigin[];
  skipped: LxdSkipped[];
  /** Health checks gating routes, by check id (see `checkId`); absent = none. */
  checks?: Map<string, Check>;
  /** Values written with host bits set, announced masked (the source logs each once); absent = none. */
  normalised?: LxdNormalised[];
}

/** The instance config key gating an instance's routes on a health check. */
export const HERALD_CHECK_KEY = 'user.herald.check';

/** Name a gating check: the instance plus the key's text, so a changed key is a new check. */
export function checkId(project: string, instance: string, text: string): string {
  return `lxd:${project}/${instance} ${text.trim()}`;
}

/** Parse a `user.herald.check` value (`tcp:ADDRESS:PORT`, `http(s)://URL`) into a check; a string is the reason it does not parse. */
export function parseHeraldCheck(text: string, timeoutMs = HERALD_CHECK_TIMEOUT_MS): Check | string {
  const t = text.trim();
  const bad = (why: string): string =>
    `${HERALD_CHECK_KEY}: cannot parse ${JSON.stringify(text)}: ${why} (want tcp:ADDRESS:PORT or an http:// or https:// URL)`;
  if (t.startsWith('tcp:')) {
    const rest = t.slice(4);
    const m = /^\[([^\]]+)\]:(\d+)$/.exec(rest) ?? /^([^:]+):(\d+)$/.exec(rest) ?? /^(.*):(\d+)$/.exec(rest);
    if (!m) return bad('no :PORT');
    const a = parseIpAddress(m[1]!);
    if (typeof a === 'string') return bad(`${JSON.stringify(m[1])} is not an IP address (${a})`);
    const port = Number(m[2]);
    if (!Number.isInteger(port) || port < 1 || port > 65535) return bad(`port ${m[2]} out of range`);
    return { kind: 'tcp', address: a.text, port, timeoutMs };
  }
  if (t.startsWith('http://') || t.startsWith('https://')) {
    let u: URL;
    try {
      u = new URL(t);
    } catch {
      return bad('not a URL');
    }
    const kind = u.protocol === 'https:' ? 'https' : 'http';
    return { kind, url: u.href, method: 'GET', status: [200], headers: {}, verifyTls: false, timeoutMs };
  }
  if (t.startsWith('exec:')) return bad('exec checks are not allowed from instance config (they would run on the hypervisor)');
  return bad('unknown kind');
}

const ACTIVE = new Set(['Running', 'Ready']);

type Fam = 'ipv4' | 'ipv6';

/** Format an origin as the intent's `source` text, e.g. "lxd:default/c1/eth0:routes.external". */
export function originText(o: LxdOrigin): string {
  if (o.instance !== undefined) return `lxd:${o.project}/${o.instance}${o.device !== undefined ? `/${o.device}` : ''}:${o.rule}`;
  if (o.listen !== undefined) return `lxd:${o.project}/${o.network}/${o.listen}:${o.rule}`;
  return `lxd:${o.project}/${o.network}:${o.rule}`;
}

/** A prefix or address from an LXD value, read at this edge (src/ip.ts): its canonical prefix, family and what was written. */
interface Edge {
  readonly prefix: string;
  readonly family: Fam;
  /** Canonical text of the address as written, when host bits were set and masked. */
  readonly given: string | null;
  readonly ip: IpPrefix;
}

/**
 * LXD's address and prefix values read through src/ip.ts (ip-address, ~10 µs
 * a value), memoised by text: a resync of 10,000 instances whose values did
 * not change reads none of them again. Two generations: `rotate()` at each
 * full derivation drops what the one before last used, so the memo holds
 * only the texts in use.
 */
export class LxdTextMemo {
  private cur = new Map<string, Edge | IpAddress | string>();
  private prev = new Map<string, Edge | IpAddress | string>();

  /** Start a new generation (at a full derivation). */
  rotate(): void {
    this.prev = this.cur;
    this.cur = new Map();
  }

  /** Entries held (for tests). */
  get size(): number {
    return this.cur.size + this.prev.size;
  }

  private get<T>(key: string, make: () => T): T {
    let v = this.cur.get(key) as T | undefined;
    if (v !== undefined) return v;
    v = this.prev.get(key) as T | undefined;
    if (v === undefined) v = make();
    this.cur.set(key, v as Edge | IpAddress | string);
    // Events alone never rotate: bound a generation to twice what the last full derivation used.
    if (this.cur.size > 2 * this.prev.size + 100_000) this.rotate();
    return v;
  }

  /** A prefix (a bare address is a host route); host bits are masked and reported in `given`. */
  prefix(text: string): Edge | string {
    return this.get(`p ${text}`, () => {
      const p = parsePrefixText(text, { hostBits: 'mask' });
      return typeof p === 'string' ? p : { prefix: p.text, family: p.family, given: p.given, ip: p };
    });
  }

  /** A single address as a host route (no "/len"). */
  host(text: string): Edge | string {
    return this.get(`h ${text}`, () => {
      const a = parseIpAddress(text);
      if (typeof a === 'string') return a;
      const p = parsePrefixText(a.text);
      return typeof p === 'string' ? p : { prefix: p.text, family: p.family, given: null, ip: p };
    });
  }

  /** An address. */
  address(text: string): IpAddress | string {
    return this.get(`a ${text}`, () => parseIpAddress(text));
  }

  /** A list of prefixes (an uplink's `ipv4.routes`): the ones that parse. */
  prefixes(text: string): readonly IpPrefix[] {
    return this.get(`l ${text}`, () => splitList(text).flatMap((t) => {
      const p = parsePrefixText(t, { hostBits: 'mask' });
      return typeof p === 'string' ? [] : [p];
    })) as unknown as readonly IpPrefix[];
  }

  /** A list of address ranges (an uplink's `ipv4.ovn.ranges`): the ones that parse. */
  ranges(text: string): readonly { first: IpAddress; last: IpAddress }[] {
    return this.get(`r ${text}`, () => text.split(',').flatMap((t) => {
      const r = parseIpRange(t.trim());
      return typeof r === 'string' ? [] : [r];
    })) as unknown as readonly { first: IpAddress; last: IpAddress }[];
  }
}

function splitList(v: string | undefined): string[] {
  if (!v) return [];
  return v.split(/[\s,]+/).filter((s) => s !== '');
}

/** A value written with host bits set (e.g. routes.external 198.51.100.7/24), announced masked. */
export interface LxdNormalised {
  readonly given: string;
  readonly prefix: string;
  readonly origin: LxdOrigin;
}

/**
 * What one derivation reads besides the instance: the view's networks,
 * projects and chassis, the rules and attributes. Built once per view
 * (`deriveContext`); an instance event re-derives one instance against it.
 */
export interface DeriveContext {
  readonly view: LxdView;
  readonly rules: LxdRules;
  readonly attrs: LxdAttrs;
  readonly memo: LxdTextMemo;
  readonly me: string;
  readonly networks: ReadonlyMap<string, LxdNetwork>;
  readonly ownNetworks: ReadonlySet<string>;
  readonly projectFilter: ReadonlySet<string> | null;
  readonly uplinks: ReadonlySet<string> | null;
  readonly chassisMode: boolean;
  readonly myChassis: string;
  readonly evacuated: boolean;
  /** Each OVN network's next hop per family (or the reason there is none), computed once. */
  readonly nextHops: Map<string, { nh: string } | { reason: string }>;
}

/** Prepare the context of a derivation over `view`. */
export function deriveContext(view: LxdView, rules: LxdRules = DEFAULT_LXD_RULES, attrs: LxdAttrs = NO_ATTRS, memo: LxdTextMemo = new LxdTextMemo()): DeriveContext {
  const ownNetworks = new Set<string>(['default']);
  for (const p of view.projects) if (p.config?.['features.networks'] === 'true') ownNetworks.add(p.name);
  const networks = new Map<string, LxdNetwork>();
  for (const n of view.networks) networks.set(`${n.project ?? 'default'}/${n.name}`, n);
  return {
    view,
    rules,
    attrs,
    memo,
    me: view.serverName,
    networks,
    ownNetworks,
    projectFilter: rules.projects.length ? new Set(rules.projects) : null,
    uplinks: rules.uplinks.length ? new Set(rules.uplinks) : null,
    chassisMode: rules.announceFrom === 'active-chassis',
    myChassis: rules.chassisName ?? view.serverName,
    evacuated: view.memberStatus === 'Evacuated',
    nextHops: new Map(),
  };
}

/** Collects one derivation's output. */
class Out {
  readonly d: LxdDerived = { intents: [], origins: [], skipped: [] };
  /** Set while deriving an instance that has `user.herald.check`. */
  gate: { id: string; check: Check | null; reason: string | null } | null = null;

  constructor(private readonly ctx: DeriveContext) {}

  add(e: Edge, nextHop: string, origin: LxdOrigin): void {
    const gate = this.gate;
    if (gate !== null) {
      if (gate.check !== null) (this.d.checks ??= new Map()).set(gate.id, gate.check);
      if (gate.reason !== null) {
        this.skip(e.prefix, gate.reason, origin);
        return;
      }
    }
    const a = this.ctx.attrs;
    if (e.given !== null) (this.d.normalised ??= []).push({ given: `${e.given}/${e.ip.len}`, prefix: e.prefix, origin });
    this.d.intents.push({
      prefix: e.prefix,
      source: originText(origin),
      rank: 0,
      nextHop,
      ...(a.med !== undefined ? { med: a.med } : {}),
      communities: a.communities,
      largeCommunities: a.largeCommunities,
      extendedCommunities: a.extendedCommunities,
      peers: a.peers,
    });
    this.d.origins.push(origin);
  }

  skip(prefix: string, reason: string, origin: LxdOrigin): void {
    this.d.skipped.push({ prefix, reason, origin });
  }
}

const V = { ipv4: 'IPv4', ipv6: 'IPv6' } as const;

/** The OVN router's uplink address for a family, or the reason there is none (once per network and family). */
function ovnNextHop(ctx: DeriveContext, net: LxdNetwork, key: string, fam: Fam): { nh: string } | { reason: string } {
  const k = `${key} ${fam}`;
  let r = ctx.nextHops.get(k);
  if (r !== undefined) return r;
  const vk = `volatile.network.${fam}.address`;
  const v = net.config[vk];
  if (!v) r = { reason: `OVN network ${net.name} has no ${vk} (no ${V[fam]} uplink address for the OVN router)` };
  else {
    const a = ctx.memo.address(v.trim());
    if (typeof a === 'string') r = { reason: `OVN network ${net.name}: ${vk} ${JSON.stringify(v)} is not an address` };
    else if (a.family !== fam || a.mapped) r = { reason: `OVN network ${net.name}: ${vk} ${v} is not an ${V[fam]} next hop (next-hop family must match the prefix)` };
    else r = { nh: a.text };
  }
  ctx.nextHops.set(k, r);
  return r;
}

/**
 * Why a route via an OVN network is outside what its uplink lets through,
 * or null when it is inside (or the uplink is not in the view). LXD routes
 * an OVN network's external prefixes only within the uplink's `ipvN.routes`
 * (and single addresses within its `ipvN.ovn.ranges`); a prefix outside
 * them would draw traffic the uplink does not deliver.
 */
function outsideUplink(ctx: DeriveContext, net: LxdNetwork, e: Edge): string | null {
  const name = net.config['network'];
  if (!name) return null;
  const up = ctx.networks.get(`default/${name}`);
  if (up === undefined) return null;
  const routes = up.config[`${e.family}.routes`];
  const ranges = up.config[`${e.family}.ovn.ranges`];
  const host = e.ip.len === (e.family === 'ipv4' ? 32 : 128);
  if (routes && ctx.memo.prefixes(routes).some((r) => prefixContains(r, e.ip))) return null;
  if (host && ranges) {
    const a = ctx.memo.address(e.prefix.slice(0, e.prefix.indexOf('/')));
    if (typeof a !== 'string' && ctx.memo.ranges(ranges).some((r) => inRange(a, r))) return null;
  }
  const has = [routes ? `${e.family}.routes ${routes}` : null, ranges && host ? `${e.family}.ovn.ranges ${ranges}` : null].filter((x) => x !== null);
  return has.length
    ? `${e.prefix} is outside uplink ${name}'s ${has.join(' and ')}: the uplink does not route it to OVN network ${net.name}`
    : `uplink ${name} has no ${e.family}.routes: it routes no external ${V[e.family]} prefix to OVN network ${net.name}`;
}

/** Whether this host announces routes via this OVN network's router; else the reason. */
function chassisOk(ctx: DeriveContext, net: LxdNetwork, key: string): string | null {
  if (!ctx.chassisMode) return null;
  const chassis = ctx.view.states.get(key)?.ovn?.chassis;
  if (!chassis) return `active chassis of OVN network ${net.name} unknown (announce_from: active-chassis)`;
  return chassis === ctx.myChassis
    ? null
    : `OVN network ${net.name}'s active chassis is ${chassis}, not this host (${ctx.myChassis}): the host of the active chassis announces it (announce_from: active-chassis)`;
}

/** Announce `e` via the OVN router of `net`, or skip with a reason. */
function viaOvn(ctx: DeriveContext, out: Out, e: Edge, net: LxdNetwork, key: string, origin: LxdOrigin, chassisGate: boolean): void {
  if (chassisGate) {
    // Not ours to announce (another host does) or unknown: the reason is
    // kept in `skipped` so `explain` can say why.
    const why = chassisOk(ctx, net, key);
    if (why !== null) return out.skip(e.prefix, why, origin);
  }
  const nh = ovnNextHop(ctx, net, key, e.family);
  if (!('nh' in nh)) return out.skip(e.prefix, nh.reason, origin);
  const outside = outsideUplink(ctx, net, e);
  if (outside !== null) return out.skip(e.prefix, outside, origin);
  out.add(e, nh.nh, origin);
}

const wantProject = (ctx: DeriveContext, p: string): boolean => ctx.projectFilter === null || ctx.projectFilter.has(p);
const ovnEligible = (ctx: DeriveContext, net: LxdNetwork): boolean => net.type === 'ovn' && (ctx.uplinks === null || ctx.uplinks.has(net.config['network'] ?? ''));

/** The routes of the networks themselves (subnets, NAT addresses, forwards, load balancers). */
export function deriveNetworks(ctx: DeriveContext): LxdDerived {
  const out = new Out(ctx);
  const { view, rules, memo } = ctx;
  for (const net of view.networks) {
    const project = net.project ?? 'default';
    if (!wantProject(ctx, project) || !net.managed) continue;
    const key = `${project}/${net.name}`;
    if (net.type === 'ovn' && ovnEligible(ctx, net)) {
      if (rules.ovnNetworks) {
        for (const fam of ['ipv4', 'ipv6'] as const) {
          const addr = net.config[`${fam}.address`];
          const nat = net.config[`${fam}.nat`] === 'true';
          if (!nat) {
            if (!addr || addr === 'none' || addr === 'auto') continue;
            // "198.51.100.1/25" is the router's address in its subnet: the subnet is announced.
            const p = memo.prefix(addr.trim());
            const origin: LxdOrigin = { project, network: net.name, rule: 'ovn.subnet' };
            if (typeof p === 'string' || p.family !== fam) out.skip(addr, `OVN network ${net.name}: ${fam}.address ${JSON.stringify(addr)} is not an ${V[fam]} prefix`, origin);
            else viaOvn(ctx, out, { ...p, given: null }, net, key, origin, true);
          } else {
            const natAddr = net.config[`${fam}.nat.address`];
            if (!natAddr) continue;
            const p = memo.host(natAddr.trim());
            const origin: LxdOrigin = { project, network: net.name, rule: 'ovn.nat' };
            if (typeof p === 'string' || p.family !== fam) out.skip(natAddr, `OVN network ${net.name}: ${fam}.nat.address ${JSON.stringify(natAddr)} is not an ${fam} address`, origin);
            else viaOvn(ctx, out, p, net, key, origin, true);
          }
        }
      }
      if (rules.forwards) {
        for (const f of view.forwards.get(key) ?? []) {
          const p = memo.host(f.listen_address.trim());
          const origin: LxdOrigin = { project, network: net.name, rule: 'forward', listen: f.listen_address };
          if (typeof p === 'string') out.skip(f.listen_address, `forward listen address ${JSON.stringify(f.listen_address)} is not an address`, origin);
          else viaOvn(ctx, out, p, net, key, origin, true);
        }
      }
      if (rules.loadBalancers) {
        for (const lb of view.loadBalancers.get(key) ?? []) {
          const p = memo.host(lb.listen_address.trim());
          const origin: LxdOrigin = { project, network: net.name, rule: 'load-balancer', listen: lb.listen_address };
          if (typeof p === 'string') out.skip(lb.listen_address, `load balancer listen address ${JSON.stringify(lb.listen_address)} is not an address`, origin);
          else viaOvn(ctx, out, p, net, key, origin, true);
        }
      }
    } else if (net.type === 'bridge') {
      const here = !net.locations || net.locations.length === 0 || net.locations.includes(ctx.me) || net.locations.includes('none');
      if (!here) continue;
      if (rules.bridgeSubnets) {
        for (const fam of ['ipv4', 'ipv6'] as const) {
          const addr = net.config[`${fam}.address`];
          if (!addr || addr === 'none' || addr === 'auto' || net.config[`${fam}.nat`] === 'true') continue;
          const p = memo.prefix(addr.trim());
          const origin: LxdOrigin = { project, network: net.name, rule: 'bridge.subnet' };
          if (typeof p === 'string' || p.family !== fam) out.skip(addr, `bridge ${net.name}: ${fam}.address ${JSON.stringify(addr)} is not an ${V[fam]} prefix`, origin);
          else out.add({ ...p, given: null }, 'self', origin);
        }
      }
      if (rules.forwards) {
        // Bridge forwards are per member in a cluster (their `location`).
        for (const f of view.forwards.get(key) ?? []) {
          if (view.clustered && f.location && f.location !== ctx.me) continue;
          const p = memo.host(f.listen_address.trim());
          const origin: LxdOrigin = { project, network: net.name, rule: 'forward', listen: f.listen_address };
          if (typeof p === 'string') out.skip(f.listen_address, `forward listen address ${JSON.stringify(f.listen_address)} is not an address`, origin);
          else out.add(p, 'self', origin);
        }
      }
    }
  }
  return out.d;
}

/** True when the rules derive anything from instances. */
export function instanceRulesOn(rules: LxdRules): boolean {
  return rules.routesExternal || rules.nicAddresses || rules.userRoutes;
}

/** The routes of one instance (routes.external, nic.address, user.herald.routes), gated by its status, the member and its check. */
export function deriveInstance(ctx: DeriveContext, inst: LxdInstance, isUp: (checkId: string) => boolean = () => false): LxdDerived {
  const out = new Out(ctx);
  const { view, rules, me } = ctx;
  if (!instanceRulesOn(rules) || !wantProject(ctx, inst.project)) return out.d;
  const onThisMember = inst.location === me || (!view.clustered && (inst.location === 'none' || inst.location === '' || inst.location === undefined));
  const text = inst.expanded_config?.[HERALD_CHECK_KEY];
  // An instance that is not running (or an evacuated member) announces
  // nothing; its would-be routes are derived only to be listed in
  // `skipped` with the reason, so `routes explain` can say why.
  if (ctx.evacuated) {
    out.gate = { id: '', check: null, reason: `this member (${me}) is evacuated: instance routes are withdrawn until it is restored` };
  } else if (!ACTIVE.has(inst.status)) {
    out.gate = { id: '', check: null, reason: `instance ${inst.name} (project ${inst.project}) is ${inst.status || 'in no known state'}: only Running or Ready instances are announced` };
  } else if (text !== undefined && text.trim() !== '') {
    const id = checkId(inst.project, inst.name, text);
    const parsed = parseHeraldCheck(text, rules.checkTimeoutMs);
    if (typeof parsed === 'string') out.gate = { id, check: null, reason: parsed };
    else out.gate = { id, check: parsed, reason: isUp(id) ? null : `${HERALD_CHECK_KEY} ${text.trim()} is not up: route withheld` };
  }
  const project = inst.project;
  const memo = ctx.memo;
  /** Per family, the first NIC (by device name) that offers a next hop: for user routes. */
  const famHop: Partial<Record<Fam, { net: LxdNetwork; key: string } | 'self'>> = {};
  const devices = inst.expanded_devices ?? {};
  const devNames = Object.keys(devices);
  if (devNames.length > 1) devNames.sort();
  for (const dev of devNames) {
    const d = devices[dev]!;
    if (d['type'] !== 'nic') continue;
    const netName = d['network'] ?? (d['nictype'] === 'bridged' ? d['parent'] : undefined);
    if (!netName) continue;
    const key = `${ctx.ownNetworks.has(project) ? project : 'default'}/${netName}`;
    const net = ctx.networks.get(key);
    const isOvn = net?.type === 'ovn';
    const isBridge = net ? net.type === 'bridge' : d['nictype'] === 'bridged';
    if (!isOvn && !isBridge) continue;
    // OVN routes go through the router: with active-chassis, its host announces them.
    const mine = isOvn && ctx.chassisMode ? true : onThisMember;
    if (!mine) continue;
    for (const fam of ['ipv4', 'ipv6'] as const) {
      if (!famHop[fam]) famHop[fam] = isOvn ? { net: net!, key } : 'self';
    }
    const emit = (e: Edge, rule: LxdRuleName): void => {
      const origin: LxdOrigin = { project, instance: inst.name, device: dev, network: netName, rule };
      if (isOvn) viaOvn(ctx, out, e, net!, key, origin, ctx.chassisMode);
      else out.add(e, 'self', origin);
    };
    for (const fam of ['ipv4', 'ipv6'] as const) {
      if (rules.routesExternal) {
        for (const r of splitList(d[`${fam}.routes.external`])) {
          const p = memo.prefix(r);
          if (typeof p === 'string' || p.family !== fam) {
            out.skip(r, `${fam}.routes.external entry ${JSON.stringify(r)} is not an ${fam} prefix`, { project, instance: inst.name, device: dev, network: netName, rule: 'routes.external' });
          } else emit(p, 'routes.external');
        }
      }
      if (rules.nicAddresses) {
        const a = d[`${fam}.address`];
        if (a && a !== 'none') {
          const p = memo.host(a.trim());
          if (typeof p === 'string' || p.family !== fam) out.skip(a, `${fam}.address ${JSON.stringify(a)} is not an ${fam} address`, { project, instance: inst.name, device: dev, network: netName, rule: 'nic.address' });
          else emit(p, 'nic.address');
        }
      }
    }
  }
  if (rules.userRoutes) {
    for (const r of splitList(inst.expanded_config?.[rules.userRoutesKey])) {
      const origin: LxdOrigin = { project, instance: inst.name, rule: 'user.herald.routes' };
      const p = memo.prefix(r);
      if (typeof p === 'string') {
        if (onThisMember) out.skip(r, `${rules.userRoutesKey} entry ${JSON.stringify(r)} is not a prefix`, origin);
        continue;
      }
      const hop = famHop[p.family];
      if (hop !== undefined && hop !== 'self' && ctx.chassisMode) viaOvn(ctx, out, p, hop.net, hop.key, { ...origin, network: hop.net.name }, true);
      else if (!onThisMember) continue;
      else if (!hop) out.skip(p.prefix, `instance ${inst.name} has no NIC on a bridge or OVN network to route ${p.prefix} to`, origin);
      else if (hop === 'self') out.add(p, 'self', origin);
      else viaOvn(ctx, out, p, hop.net, hop.key, { ...origin, network: hop.net.name }, false);
    }
  }
  return out.d;
}

/**
 * True when `deriveInstance` must give the same for `b` as for `a` under the
 * same context and checks: every field it reads is equal. Keep in step with
 * deriveInstance (a field it starts to read must be compared here). Cheap
 * beside a derivation: a handful of fields and the (small) devices, never
 * the whole record, whose config and volatile keys run to dozens.
 */
export function sameInstanceInputs(rules: LxdRules, a: LxdInstance, b: LxdInstance): boolean {
  if (a === b) return true;
  return (
    a.name === b.name &&
    a.project === b.project &&
    a.location === b.location &&
    a.status === b.status &&
    a.expanded_config?.[HERALD_CHECK_KEY] === b.expanded_config?.[HERALD_CHECK_KEY] &&
    a.expanded_config?.[rules.userRoutesKey] === b.expanded_config?.[rules.userRoutesKey] &&
    sameDevices(a.expanded_devices, b.expanded_devices)
  );
}

/**
 * The part of an instance record `deriveInstance` reads (the same fields
 * `sameInstanceInputs` compares): what the source keeps between reads. LXD's
 * records carry dozens of config and volatile keys herald never reads; at
 * 10,000 instances keeping them whole holds most of a 25 MB listing's
 * objects in the heap, which every major GC then marks.
 */
export function instanceInputs(rules: LxdRules, inst: LxdInstance): LxdInstance {
  const config: Record<string, string> = {};
  const c = inst.expanded_config;
  if (c !== undefined && c !== null) {
    const check = c[HERALD_CHECK_KEY];
    if (check !== undefined) config[HERALD_CHECK_KEY] = check;
    const routes = c[rules.userRoutesKey];
    if (routes !== undefined) config[rules.userRoutesKey] = routes;
  }
  return { name: inst.name, project: inst.project, location: inst.location, status: inst.status, expanded_config: config, expanded_devices: inst.expanded_devices };
}

function sameDevices(a: LxdInstance['expanded_devices'], b: LxdInstance['expanded_devices']): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a === null || b === null) return false;
  let n = 0;
  for (const k in a) {
    const x = a[k]!;
    const y = b[k];
    if (y === undefined) return false;
    let m = 0;
    for (const f in x) {
      if (x[f] !== y[f]) return false;
      m++;
    }
    for (const f in y) if (f in y) m--;
    if (m !== 0) return false;
    n++;
  }
  for (const k in b) if (k in b) n--;
  return n === 0;
}

/** Join derivations (networks first, then instances in order). */
export function mergeDerived(parts: Iterable<LxdDerived>): LxdDerived {
  const out: LxdDerived = { intents: [], origins: [], skipped: [] };
  for (const p of parts) {
    for (const x of p.intents) out.intents.push(x);
    for (const x of p.origins) out.origins.push(x);
    for (const x of p.skipped) out.skipped.push(x);
    if (p.checks) for (const [k, v] of p.checks) (out.checks ??= new Map()).set(k, v);
    if (p.normalised) (out.normalised ??= []).push(...p.normalised);
  }
  return out;
}

/** Derive the LXD source's intents from one API read (pure). */
export function deriveLxd(
  view: LxdView,
  rules: LxdRules = DEFAULT_LXD_RULES,
  attrs: LxdAttrs = NO_ATTRS,
  isUp: (checkId: string) => boolean = () => false,
  memo?: LxdTextMemo,
): LxdDerived {
  const ctx = deriveContext(view, rules, attrs, memo);
  const parts = [deriveNetworks(ctx)];
  if (instanceRulesOn(rules)) for (const inst of view.instances) parts.push(deriveInstance(ctx, inst, isUp));
  return mergeDerived(parts);
}

/** Identity of an intent for diffing two snapshots. */
export function intentKey(i: Intent): string {
  return `${i.source}|${i.prefix}|${i.nextHop}`;
}
