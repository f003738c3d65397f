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
import { formatAddress, formatPrefix, parseAddress, parsePrefix } from '../../../bgp/index.js';
import type { Check } from '../../config/index.js';
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
    const a = parseAddress(m[1]!);
    if (!a) return bad(`${JSON.stringify(m[1])} is not an IP address`);
    const port = Number(m[2]);
    if (!Number.isInteger(port) || port < 1 || port > 65535) return bad(`port ${m[2]} out of range`);
    return { kind: 'tcp', address: formatAddress(a.afi, a.addr), port, timeoutMs };
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

/** Normalise prefix text to "addr/len" (host bits masked); null when malformed. */
function normPrefix(text: string, hostOnly = false): string | null {
  const t = text.trim();
  if (t === '') return null;
  if (hostOnly) {
    const a = parseAddress(t);
    if (!a) return null;
    return `${formatAddress(a.afi, a.addr)}/${a.addr.length * 8}`;
  }
  const p = parsePrefix(t, { strict: false });
  return p ? formatPrefix(p) : null;
}

const famOf = (prefix: string): Fam => (prefix.includes(':') ? 'ipv6' : 'ipv4');

function splitList(v: string | undefined): string[] {
  if (!v) return [];
  return v.split(/[\s,]+/).filter((s) => s !== '');
}

const isMapped = (a: Uint8Array): boolean =>
  a.length === 16 && a.subarray(0, 10).every((b) => b === 0) && a[10] === 0xff && a[11] === 0xff;

/** The OVN router's uplink address for a family, or the reason there is none. */
function ovnNextHop(net: LxdNetwork, fam: Fam): { nh: string } | { reason: string } {
  const key = `volatile.network.${fam}.address`;
  const v = net.config[key];
  if (!v) return { reason: `OVN network ${net.name} has no ${key} (no ${fam === 'ipv4' ? 'IPv4' : 'IPv6'} uplink address for the OVN router)` };
  const a = parseAddress(v.trim());
  if (!a) return { reason: `OVN network ${net.name}: ${key} ${JSON.stringify(v)} is not an address` };
  if ((a.addr.length === 4) !== (fam === 'ipv4') || isMapped(a.addr)) {
    return { reason: `OVN network ${net.name}: ${key} ${v} is not an ${fam === 'ipv4' ? 'IPv4' : 'IPv6'} next hop (next-hop family must match the prefix)` };
  }
  return { nh: formatAddress(a.afi, a.addr) };
}

/** Derive the LXD source's intents from one API read (pure). */
export function deriveLxd(
  view: LxdView,
  rules: LxdRules = DEFAULT_LXD_RULES,
  attrs: LxdAttrs = NO_ATTRS,
  isUp: (checkId: string) => boolean = () => false,
): LxdDerived {
  const out: LxdDerived = { intents: [], origins: [], skipped: [] };
  /** Set while deriving an instance that has `user.herald.check`. */
  let gate: { id: string; check: Check | null; reason: string | null } | null = null;
  const me = view.serverName;
  const projectFilter = rules.projects.length ? new Set(rules.projects) : null;
  const wantProject = (p: string): boolean => projectFilter === null || projectFilter.has(p);
  const uplinks = rules.uplinks.length ? new Set(rules.uplinks) : null;

  // Projects with their own networks; others use the default project's.
  const ownNetworks = new Set<string>(['default']);
  for (const p of view.projects) if (p.config?.['features.networks'] === 'true') ownNetworks.add(p.name);
  const netProject = (project: string): string => (ownNetworks.has(project) ? project : 'default');
  const networks = new Map<string, LxdNetwork>();
  for (const n of view.networks) networks.set(`${n.project ?? 'default'}/${n.name}`, n);

  const add = (prefix: string, nextHop: string, origin: LxdOrigin): void => {
    if (gate !== null) {
      if (gate.check !== null) (out.checks ??= new Map()).set(gate.id, gate.check);
      if (gate.reason !== null) {
        skip(prefix, gate.reason, origin);
        return;
      }
    }
    out.intents.push({
      prefix,
      source: originText(origin),
      rank: 0,
      nextHop,
      ...(attrs.med !== undefined ? { med: attrs.med } : {}),
      communities: attrs.communities,
      largeCommunities: attrs.largeCommunities,
      extendedCommunities: attrs.extendedCommunities,
      peers: attrs.peers,
    });
    out.origins.push(origin);
  };
  const skip = (prefix: string, reason: string, origin: LxdOrigin): void => {
    out.skipped.push({ prefix, reason, origin });
  };

  const chassisMode = rules.announceFrom === 'active-chassis';
  const myChassis = rules.chassisName ?? me;
  /** Whether this host announces routes via this OVN network's router; else the reason. */
  const chassisOk = (net: LxdNetwork, key: string): string | null => {
    if (!chassisMode) return null;
    const chassis = view.states.get(key)?.ovn?.chassis;
    if (!chassis) return `active chassis of OVN network ${net.name} unknown (announce_from: active-chassis)`;
    return chassis === myChassis
      ? null
      : `OVN network ${net.name}'s active chassis is ${chassis}, not this host (${myChassis}): the host of the active chassis announces it (announce_from: active-chassis)`;
  };
  const ovnEligible = (net: LxdNetwork): boolean => net.type === 'ovn' && (uplinks === null || uplinks.has(net.config['network'] ?? ''));

  /** Announce `prefix` via the OVN router of `net`, or skip with a reason. */
  const viaOvn = (prefix: string, net: LxdNetwork, key: string, origin: LxdOrigin, chassisGate: boolean): void => {
    if (chassisGate) {
      // Not ours to announce (another host does) or unknown: the reason is
      // kept in `skipped` so `explain` can say why.
      const why = chassisOk(net, key);
      if (why !== null) {
        skip(prefix, why, origin);
        return;
      }
    }
    const nh = ovnNextHop(net, famOf(prefix));
    if ('nh' in nh) add(prefix, nh.nh, origin);
    else skip(prefix, nh.reason, origin);
  };

  // ---------------------------------------------------------------- networks
  for (const net of view.networks) {
    const project = net.project ?? 'default';
    if (!wantProject(project) || !net.managed) continue;
    const key = `${project}/${net.name}`;
    if (net.type === 'ovn' && ovnEligible(net)) {
      if (rules.ovnNetworks) {
        for (const fam of ['ipv4', 'ipv6'] as const) {
          const addr = net.config[`${fam}.address`];
          const nat = net.config[`${fam}.nat`] === 'true';
          if (!nat) {
            if (!addr || addr === 'none' || addr === 'auto') continue;
            const p = normPrefix(addr);
            const origin: LxdOrigin = { project, network: net.name, rule: 'ovn.subnet' };
            if (!p) skip(addr, `OVN network ${net.name}: ${fam}.address ${JSON.stringify(addr)} is not a prefix`, origin);
            else viaOvn(p, net, key, origin, true);
          } else {
            const natAddr = net.config[`${fam}.nat.address`];
            if (!natAddr) continue;
            const p = normPrefix(natAddr, true);
            const origin: LxdOrigin = { project, network: net.name, rule: 'ovn.nat' };
            if (!p || famOf(p) !== fam) skip(natAddr, `OVN network ${net.name}: ${fam}.nat.address ${JSON.stringify(natAddr)} is not an ${fam} address`, origin);
            else viaOvn(p, net, key, origin, true);
          }
        }
      }
      if (rules.forwards) {
        for (const f of view.forwards.get(key) ?? []) {
          const p = normPrefix(f.listen_address, true);
          const origin: LxdOrigin = { project, network: net.name, rule: 'forward', listen: f.listen_address };
          if (!p) skip(f.listen_address, `forward listen address ${JSON.stringify(f.listen_address)} is not an address`, origin);
          else viaOvn(p, net, key, origin, true);
        }
      }
      if (rules.loadBalancers) {
        for (const lb of view.loadBalancers.get(key) ?? []) {
          const p = normPrefix(lb.listen_address, true);
          const origin: LxdOrigin = { project, network: net.name, rule: 'load-balancer', listen: lb.listen_address };
          if (!p) skip(lb.listen_address, `load balancer listen address ${JSON.stringify(lb.listen_address)} is not an address`, origin);
          else viaOvn(p, net, key, origin, true);
        }
      }
    } else if (net.type === 'bridge') {
      const here = !net.locations || net.locations.length === 0 || net.locations.includes(me) || net.locations.includes('none');
      if (!here) continue;
      if (rules.bridgeSubnets) {
        for (const fam of ['ipv4', 'ipv6'] as const) {
          const addr = net.config[`${fam}.address`];
          if (!addr || addr === 'none' || addr === 'auto' || net.config[`${fam}.nat`] === 'true') continue;
          const p = normPrefix(addr);
          const origin: LxdOrigin = { project, network: net.name, rule: 'bridge.subnet' };
          if (!p) skip(addr, `bridge ${net.name}: ${fam}.address ${JSON.stringify(addr)} is not a prefix`, origin);
          else add(p, 'self', origin);
        }
      }
      if (rules.forwards) {
        // Bridge forwards are per member in a cluster (their `location`).
        for (const f of view.forwards.get(key) ?? []) {
          if (view.clustered && f.location && f.location !== me) continue;
          const p = normPrefix(f.listen_address, true);
          const origin: LxdOrigin = { project, network: net.name, rule: 'forward', listen: f.listen_address };
          if (!p) skip(f.listen_address, `forward listen address ${JSON.stringify(f.listen_address)} is not an address`, origin);
          else add(p, 'self', origin);
        }
      }
    }
  }

  // --------------------------------------------------------------- instances
  const evacuated = view.memberStatus === 'Evacuated';
  const instanceRules = rules.routesExternal || rules.nicAddresses || rules.userRoutes;
  if (instanceRules) {
    for (const inst of view.instances) {
      if (!wantProject(inst.project)) continue;
      const onThisMember = inst.location === me || (!view.clustered && (inst.location === 'none' || inst.location === '' || inst.location === undefined));
      const text = inst.expanded_config?.[HERALD_CHECK_KEY];
      // An instance that is not running (or an evacuated member) announces
      // nothing; its would-be routes are derived only to be listed in
      // `skipped` with the reason, so `routes explain` can say why.
      if (evacuated) {
        gate = { id: '', check: null, reason: `this member (${me}) is evacuated: instance routes are withdrawn until it is restored` };
      } else if (!ACTIVE.has(inst.status)) {
        gate = { id: '', check: null, reason: `instance ${inst.name} (project ${inst.project}) is ${inst.status || 'in no known state'}: only Running or Ready instances are announced` };
      } else if (text !== undefined && text.trim() !== '') {
        const id = checkId(inst.project, inst.name, text);
        const parsed = parseHeraldCheck(text, rules.checkTimeoutMs);
        if (typeof parsed === 'string') gate = { id, check: null, reason: parsed };
        else gate = { id, check: parsed, reason: isUp(id) ? null : `${HERALD_CHECK_KEY} ${text.trim()} is not up: route withheld` };
      }
      deriveInstance(inst, onThisMember);
      gate = null;
    }
  }

  function deriveInstance(inst: LxdInstance, onThisMember: boolean): void {
    const project = inst.project;
    /** Per family, the first NIC (by device name) that offers a next hop: for user routes. */
    const famHop: Partial<Record<Fam, { net: LxdNetwork; key: string } | 'self'>> = {};
    const devNames = Object.keys(inst.expanded_devices ?? {}).sort();
    for (const dev of devNames) {
      const d = inst.expanded_devices[dev]!;
      if (d['type'] !== 'nic') continue;
      const netName = d['network'] ?? (d['nictype'] === 'bridged' ? d['parent'] : undefined);
      if (!netName) continue;
      const key = `${netProject(project)}/${netName}`;
      const net = networks.get(key);
      const isOvn = net?.type === 'ovn';
      const isBridge = net ? net.type === 'bridge' : d['nictype'] === 'bridged';
      if (!isOvn && !isBridge) continue;
      // OVN routes go through the router: with active-chassis, its host announces them.
      const mine = isOvn && chassisMode ? true : onThisMember;
      if (!mine) continue;
      for (const fam of ['ipv4', 'ipv6'] as const) {
        if (!famHop[fam]) famHop[fam] = isOvn ? { net: net!, key } : 'self';
      }
      const emit = (prefix: string, rule: LxdRuleName): void => {
        const origin: LxdOrigin = { project, instance: inst.name, device: dev, network: netName, rule };
        if (isOvn) viaOvn(prefix, net!, key, origin, chassisMode);
        else add(prefix, 'self', origin);
      };
      for (const fam of ['ipv4', 'ipv6'] as const) {
        if (rules.routesExternal) {
          for (const r of splitList(d[`${fam}.routes.external`])) {
            const p = normPrefix(r);
            if (!p || famOf(p) !== fam) {
              skip(r, `${fam}.routes.external entry ${JSON.stringify(r)} is not an ${fam} prefix`, { project, instance: inst.name, device: dev, network: netName, rule: 'routes.external' });
            } else emit(p, 'routes.external');
          }
        }
        if (rules.nicAddresses) {
          const a = d[`${fam}.address`];
          if (a && a !== 'none') {
            const p = normPrefix(a, true);
            if (!p || famOf(p) !== fam) skip(a, `${fam}.address ${JSON.stringify(a)} is not an ${fam} address`, { project, instance: inst.name, device: dev, network: netName, rule: 'nic.address' });
            else emit(p, 'nic.address');
          }
        }
      }
    }
    if (rules.userRoutes) {
      for (const r of splitList(inst.expanded_config?.[rules.userRoutesKey])) {
        const origin: LxdOrigin = { project, instance: inst.name, rule: 'user.herald.routes' };
        const p = normPrefix(r);
        if (!p) {
          if (onThisMember) skip(r, `${rules.userRoutesKey} entry ${JSON.stringify(r)} is not a prefix`, origin);
          continue;
        }
        const hop = famHop[famOf(p)];
        if (hop !== undefined && hop !== 'self' && chassisMode) viaOvn(p, hop.net, hop.key, { ...origin, network: hop.net.name }, true);
        else if (!onThisMember) continue;
        else if (!hop) skip(p, `instance ${inst.name} has no NIC on a bridge or OVN network to route ${p} to`, origin);
        else if (hop === 'self') add(p, 'self', origin);
        else viaOvn(p, hop.net, hop.key, { ...origin, network: hop.net.name }, false);
      }
    }
  }
  return out;
}

/** Identity of an intent for diffing two snapshots. */
export function intentKey(i: Intent): string {
  return `${i.source}|${i.prefix}|${i.nextHop}`;
}
