/**
 * Warnings: settings that are valid but cannot do what they seem to. The
 * config loads and herald runs with it, but something the operator expects
 * will silently not happen — a route that is never sent to a peer, a check
 * that probes another machine, a session that cannot come up. `herald check`
 * prints them (and exits 3 with `--strict`), the daemon logs them at start
 * and on reload, and `routes explain` shows those that touch a prefix.
 *
 * Two kinds: those the config alone decides (families and next hops, peers
 * that can never connect), and those that need this host's addresses and
 * routes (`HostFacts`, src/host/interfaces.ts): check targets, multihop,
 * local addresses. With no host facts (`herald check --offline`) only the
 * first kind is reported.
 *
 * The next-hop rules mirror the speaker's export (bgp/rib/export.ts): an
 * IPv4 route to 'self' needs an IPv4 next hop — the session's own address on
 * an IPv4 session, else next_hop_self.ipv4, else (RFC 8950) an IPv6 one with
 * extended_next_hop; an IPv6 route needs an IPv6 next hop, never a mapped one.
 */
import { formatPath, type PathSegment } from './errors.js';
import type { Check, Config, Family, PeerSettings, RouteAttrs } from './types.js';
import { ipFamily } from '../ip.js';
import { canonicalIp, hostIp, isLocal, isOnLink, type HostFacts } from '../host/interfaces.js';

export const WARNING_CODES = [
  'no-next-hop',
  'never-sent',
  'next-hop-self-unused',
  'passive-without-listener',
  'check-not-local',
  'needs-multihop',
  'local-address-missing',
  'listen-address-missing',
  'host-address-missing',
] as const;
export type WarningCode = (typeof WARNING_CODES)[number];

export interface ConfigWarning {
  code: WarningCode;
  /** Key path of the setting, e.g. ['peers', 1, 'families']. */
  path: PathSegment[];
  message: string;
  /** Prefixes this keeps from being announced somewhere (for `routes explain`). */
  prefixes: string[];
  peer: string | null;
  service: string | null;
}

/** A warning as the API and `routes explain` show it. */
export interface WarningState {
  code: WarningCode;
  /** Key path in the config, e.g. "peers[1].families". */
  path: string;
  message: string;
}

/** Show a warning like a config error: "file:line:col: path: warning: message". */
export function formatWarning(file: string, w: ConfigWarning, locate: (p: readonly PathSegment[]) => { line: number; column: number }): string {
  const at = locate(w.path);
  return `${file}:${at.line}:${at.column}: ${formatPath(w.path)}: warning: ${w.message}`;
}

/** The API shape of a warning. */
export function warningState(w: ConfigWarning): WarningState {
  return { code: w.code, path: formatPath(w.path), message: w.message };
}

/** The family of an address or prefix the schema accepted (src/ip.ts). */
const familyOf = (text: string): Family => ipFamily(text) ?? 'ipv4';
const V = { ipv4: 'IPv4', ipv6: 'IPv6' } as const;

/** A route as the warnings see it: prefix, next hop, which peers, where it is written. */
interface RouteRef {
  prefix: string;
  attrs: RouteAttrs;
  /** "service dns", "static route". */
  owner: string;
  service: string | null;
  path: PathSegment[];
  /** Where its next_hop is (or would be) written. */
  nextHopPath: PathSegment[];
}

/** Every warning for a valid config; `host` null skips those that need this host's facts. */
export function configWarnings(c: Config, host: HostFacts | null): ConfigWarning[] {
  const out: ConfigWarning[] = [];
  const routes: RouteRef[] = [
    ...c.services.flatMap((s, i) =>
      s.prefixes.map((prefix, j) => ({ prefix, attrs: s, owner: `service ${s.name}`, service: s.name, path: ['services', i, 'prefixes', j], nextHopPath: ['services', i, 'next_hop'] })),
    ),
    ...c.static.map((s, i) => ({ prefix: s.prefix, attrs: s, owner: 'static route', service: null, path: ['static', i, 'prefix'], nextHopPath: ['static', i, 'next_hop'] })),
  ];
  peerWarnings(c, routes, out);
  neverSent(c, routes, out);
  if (host) hostWarnings(c, host, out);
  return out;
}

/** Why `peer` can never be sent `r` by its settings alone; null when it can. */
function unsendable(p: PeerSettings, r: RouteRef): string | null {
  const fam = familyOf(r.prefix);
  const nh = r.attrs.nextHop;
  if (nh !== 'self') {
    if (fam === 'ipv4' && familyOf(nh) === 'ipv6' && !p.extendedNextHop) return `its next hop ${nh} is IPv6 and ${p.name} has no extended_next_hop`;
    return null;
  }
  if (fam === p.transport) return null;
  if (fam === 'ipv4') return p.nextHopSelf.ipv4 !== undefined || p.extendedNextHop ? null : 'no IPv4 next hop';
  return p.nextHopSelf.ipv6 !== undefined ? null : 'no IPv6 next hop';
}

/** The peers a route is handed to (its peers list, or all) that carry its family and are not shut down. */
function carriers(c: Config, r: RouteRef): PeerSettings[] {
  const fam = familyOf(r.prefix);
  return c.peers.filter((p) => (r.attrs.peers === null || r.attrs.peers.includes(p.name)) && p.families.includes(fam));
}

function listed(prefixes: string[]): string {
  return prefixes.length <= 3 ? prefixes.join(', ') : `${prefixes.slice(0, 3).join(', ')} and ${prefixes.length - 3} more`;
}

function peerWarnings(c: Config, routes: RouteRef[], out: ConfigWarning[]): void {
  c.peers.forEach((p, i) => {
    const at: PathSegment[] = ['peers', i];
    for (const fam of ['ipv4', 'ipv6'] as const) {
      const set = p.nextHopSelf[fam];
      if (set !== undefined && !p.families.includes(fam)) {
        out.push({
          code: 'next-hop-self-unused',
          path: [...at, 'next_hop_self', fam],
          message: `next_hop_self.${fam} ${set} is never used: ${p.name} does not carry ${fam} (families: ${p.families.join(', ')})`,
          prefixes: [],
          peer: p.name,
          service: null,
        });
      }
    }
    if (!p.shutdown) {
      // Routes the peer carries the family of but can never be sent, by reason.
      const lost = new Map<string, RouteRef[]>();
      for (const r of routes) {
        if (!carriers(c, r).includes(p)) continue;
        const why = unsendable(p, r);
        if (why !== null) lost.set(why, [...(lost.get(why) ?? []), r]);
      }
      for (const [why, refs] of lost) {
        const prefixes = refs.map((r) => r.prefix);
        const fam = familyOf(prefixes[0]!);
        const self = why.startsWith('no ');
        const fix =
          why === 'no IPv4 next hop'
            ? 'set next_hop_self.ipv4 (an IPv4 address of this host), or extended_next_hop: true if the neighbour supports RFC 8950'
            : why === 'no IPv6 next hop'
              ? 'set next_hop_self.ipv6 (an IPv6 address of this host); an IPv4-mapped next hop is never sent'
              : `set extended_next_hop: true on ${p.name}, or give these routes an IPv4 next hop`;
        const lostText = `${listed(prefixes)} ${prefixes.length === 1 ? 'is' : 'are'} never sent to it`;
        out.push({
          code: 'no-next-hop',
          // A 'self' route of the other family is carried because `families` says so; an explicit next hop is the route's own.
          path: self ? [...at, 'families'] : refs[0]!.nextHopPath,
          message: self
            ? `${p.name} carries ${fam} over an ${V[p.transport]} session but has ${why} for 'self' routes: ${lostText}; ${fix}`
            : `${p.name} cannot be sent ${listed(prefixes)}: ${why}; ${fix}`,
          prefixes,
          peer: p.name,
          service: null,
        });
      }
    }
    if (p.passive && !p.shutdown && c.listen === false) {
      out.push({
        code: 'passive-without-listener',
        path: [...at, 'passive'],
        message: `${p.name} is passive (waits for the neighbour to connect) but listen is false: the session can never come up; drop passive or turn the listener on`,
        prefixes: [],
        peer: p.name,
        service: null,
      });
    }
  });
}

/** Routes that no peer can ever be sent: every peer carrying the family is shut down or lacks a next hop. */
function neverSent(c: Config, routes: RouteRef[], out: ConfigWarning[]): void {
  const byOwner = new Map<string, { r: RouteRef; why: string }[]>();
  for (const r of routes) {
    const peers = carriers(c, r);
    if (peers.length === 0) continue; // build.ts refuses such a config
    const live = peers.filter((p) => !p.shutdown);
    if (live.some((p) => unsendable(p, r) === null)) continue;
    const why = live.length === 0 ? `every peer that carries it is shut down (${peers.map((p) => p.name).join(', ')})` : live.map((p) => `${p.name}: ${unsendable(p, r)}`).join('; ');
    const key = r.service ?? `static ${r.prefix}`;
    byOwner.set(key, [...(byOwner.get(key) ?? []), { r, why }]);
  }
  for (const list of byOwner.values()) {
    const first = list[0]!.r;
    const prefixes = list.map((x) => x.r.prefix);
    const whys = [...new Set(list.map((x) => x.why))];
    out.push({
      code: 'never-sent',
      path: first.service !== null ? first.path.slice(0, 3) : first.path,
      message: `${first.owner}: ${listed(prefixes)} ${prefixes.length === 1 ? 'is' : 'are'} sent to no peer (${whys.join('; ')})`,
      prefixes,
      peer: null,
      service: first.service,
    });
  }
}

/** The address a check probes, and the key path of the setting that names it; null for kinds that probe nothing. */
function checkTarget(ch: Check): { address: string; key: string } | null {
  switch (ch.kind) {
    case 'tcp':
      return { address: ch.address, key: 'address' };
    case 'dns':
      return { address: ch.server, key: 'server' };
    case 'http':
    case 'https': {
      let host: string;
      try {
        host = new URL(ch.url).hostname.replace(/^\[|\]$/g, '');
      } catch {
        return null;
      }
      if (host === 'localhost') return null;
      return hostIp(host) ? { address: host, key: 'url' } : null;
    }
    default:
      return null;
  }
}

function hostWarnings(c: Config, host: HostFacts, out: ConfigWarning[]): void {
  c.services.forEach((s, i) => {
    const own = new Set(s.hostAddresses?.mode === 'add' ? s.hostAddresses.addresses.map((a) => a.split('/')[0]!) : []);
    s.checks.forEach((ch, j) => {
      const t = checkTarget(ch);
      if (!t || isLocal(host, t.address) || own.has(canonicalIp(t.address))) return;
      out.push({
        code: 'check-not-local',
        path: ['services', i, 'checks', j, ch.kind, t.key],
        message: `${t.address} is not an address of this host: the check probes another machine, so this host would announce ${s.name} on that machine's health`,
        prefixes: [...s.prefixes],
        peer: null,
        service: s.name,
      });
    });
    if (s.hostAddresses?.mode === 'verify') {
      const missing = s.hostAddresses.addresses.filter((a) => !host.addresses.some((h) => h.interface === s.hostAddresses!.interface && `${h.address}/${h.prefixLen}` === a));
      if (missing.length) {
        out.push({
          code: 'host-address-missing',
          path: ['services', i, 'host_addresses'],
          message: `${listed(missing)} ${missing.length === 1 ? 'is' : 'are'} not on ${s.hostAddresses.interface}: ${s.name} stays down until ${missing.length === 1 ? 'it is' : 'they are'} added (or use mode: add)`,
          prefixes: [...s.prefixes],
          peer: null,
          service: s.name,
        });
      }
    }
  });
  c.peers.forEach((p, i) => {
    if (p.shutdown) return;
    const at: PathSegment[] = ['peers', i];
    if (p.localAddress !== undefined && !isLocal(host, p.localAddress)) {
      out.push({
        code: 'local-address-missing',
        path: [...at, 'local_address'],
        message: `${p.localAddress} is not an address of this host: connecting from it fails (EADDRNOTAVAIL) and ${p.name} never comes up`,
        prefixes: [],
        peer: p.name,
        service: null,
      });
    }
    const ebgp = (p.localAsn ?? c.asn) !== p.asn;
    const hops = p.ttlSecurity?.hops;
    // A neighbour on this host itself (BIRD or FRR beside herald) is reached through lo with any TTL.
    if (ebgp && p.multihop === undefined && (hops === undefined || hops === 1) && !isOnLink(host, p.address) && !isLocal(host, p.address)) {
      out.push({
        code: 'needs-multihop',
        path: [...at, 'address'],
        message:
          hops === 1
            ? `${p.address} is not on a connected network, but ttl_security: true expects ${p.name} one hop away; set ttl_security to the number of hops`
            : `${p.address} is not on a connected network and eBGP sends with TTL 1, so ${p.name} cannot be reached (EHOSTUNREACH); set multihop: 2 (or the number of hops)`,
        prefixes: [],
        peer: p.name,
        service: null,
      });
    }
  });
  if (c.listen !== false) {
    c.listen.addresses.forEach((a, j) => {
      const any = a === '::' || a === '0.0.0.0';
      if (any || isLocal(host, a)) return;
      out.push({
        code: 'listen-address-missing',
        path: c.listen !== false && c.listen.addresses.length > 1 ? ['listen', 'address', j] : ['listen', 'address'],
        message: `${a} is not an address of this host: herald cannot listen on it (EADDRNOTAVAIL) and will not start`,
        prefixes: [],
        peer: null,
        service: null,
      });
    });
  }
}
