/**
 * `routes explain`: why one prefix is or is not announced, peer by peer —
 * the reasoning of the state model, apart from its shapes (model.ts) and
 * their rendering (src/cli/render.ts). Every decision that can keep a route
 * off the wire gives its reason here: a service's failing check or drain,
 * an LXD origin's skip reason, a peer filter, a family the peer does not
 * carry, a session that is not Established, routes held until BFD is Up,
 * an export refusal — and the config warnings that touch the prefix.
 */
import type { PrefixStanding } from '../../bgp/index.js';
import { warningState, type WarningState } from '../config/warnings.js';
import type { ServiceSnapshot } from '../sources/health/types.js';
import type { LxdOrigin } from '../sources/lxd/index.js';
import { originText } from '../sources/lxd/derive.js';
import { serviceSource } from '../sources/intents.js';
import { canonicalPrefix, familyOf, type Family } from './format.js';
import { lxdOriginState, lxdSummary, queuedReason, serviceState, type LxdOriginState, type LxdStateSource, type LxdSummaryState, type RouteStatus, type ServiceState, type StateSource } from './model.js';

/** A source that wants (or is configured to want) a prefix. */
export interface ExplainSource {
  /** "static" or "service:NAME". */
  source: string;
  /** It currently contributes the prefix to the reconciler. */
  wants: boolean;
  /** Why it does not (service down/drained/maintenance); null when it wants it. */
  reason: string | null;
  /** The service's state and checks (services only). */
  service: ServiceState | null;
  /** The LXD origin and the source's reachability (LXD routes only). */
  lxd: ExplainLxd | null;
}

/** The LXD part of an explained source. */
export interface ExplainLxd {
  origin: LxdOriginState;
  /** The next hop the LXD source gives it; null when skipped. */
  nextHop: string | null;
  /** The LXD source's status: while `unreachable`, the last known routes are kept (until the limit). */
  status: LxdSummaryState['status'];
  unreachableSince: string | null;
}

/** The prefix with one peer. */
export interface ExplainPeer {
  peer: string;
  state: string;
  established: boolean;
  /** Whether this peer should carry the prefix (not excluded by family or peer filter). */
  shouldCarry: boolean;
  status: RouteStatus | 'excluded' | 'not-wanted';
  nextHop: string | null;
  reason: string | null;
}

/** GET /v1/explain/:prefix, `routes explain`, `routes check`. */
export interface ExplainState {
  /** Config warnings that touch this prefix (a peer that can never be sent it, a check that probes another host, …). */
  warnings: WarningState[];
  prefix: string;
  family: Family;
  /** Some source wants it announced now. */
  wanted: boolean;
  sources: ExplainSource[];
  peers: ExplainPeer[];
  /** Announced to every established peer that should carry it, and to at least one. */
  announced: boolean;
  /** One line: why it is or is not announced. */
  reason: string;
}

/** Explain one prefix: who wants it, its checks, each peer's status, or exactly why it is not announced. */
export async function explain(d: StateSource, prefixText: string): Promise<ExplainState | null> {
  const prefix = canonicalPrefix(prefixText);
  if (prefix === null) return null;
  const fam = familyOf(prefix);
  const c = d.config;
  const wantedBy = new Set(d.reconciler.contributions(prefix).map((x) => x.source));
  const wanted = wantedBy.size > 0;
  const snaps = d.health?.snapshot() ?? new Map<string, ServiceSnapshot>();

  const sources: ExplainSource[] = [];
  if (c?.static.some((s) => s.prefix === prefix)) sources.push({ source: 'static', wants: wantedBy.has('static'), reason: null, service: null, lxd: null });
  for (const s of c?.services ?? []) {
    if (!s.prefixes.includes(prefix)) continue;
    const name = serviceSource(s.name);
    const st = serviceState(s, snaps.get(s.name), d.drainPhase(s.name), wantedBy.has(name));
    sources.push({ source: name, wants: wantedBy.has(name), reason: wantedBy.has(name) ? null : whyServiceSilent(st), service: st, lxd: null });
  }
  const lx = lxdSummary(d);
  if (lx && d.lxd) sources.push(...lxdSources(d.lxd, prefix, lx, wantedBy));
  for (const src of wantedBy) if (!sources.some((s) => s.source === src)) sources.push({ source: src, wants: true, reason: null, service: null, lxd: null });

  const out = d.reconciler.outputFor(prefix);
  const standings = new Map(((await d.engine?.standing(prefix)) ?? []).map((x) => [x.peer, x]));
  const families = new Map((c?.peers ?? []).map((p) => [p.name, p.families]));
  const peersOut: ExplainPeer[] = [];
  for (const snap of d.engine?.snapshot() ?? []) {
    const peer = snap.name;
    const state = snap.state;
    const base = { peer, state, established: state === 'Established' };
    if (!wanted || out === null) {
      peersOut.push({ ...base, shouldCarry: false, status: 'not-wanted', nextHop: null, reason: 'no source wants this prefix' });
      continue;
    }
    let why: string | null = null;
    if (out.peers !== null && !out.peers.includes(peer)) why = `peer filter: only announced to ${out.peers.join(', ')}`;
    else if (!(families.get(peer) ?? [fam]).includes(fam)) why = `peer does not carry ${fam}`;
    if (why !== null) {
      peersOut.push({ ...base, shouldCarry: false, status: 'excluded', nextHop: null, reason: why });
      continue;
    }
    const st = statusOf(standings.get(peer), snap.heldDownMs, queuedReason(snap));
    peersOut.push({ ...base, shouldCarry: true, status: st.status, nextHop: st.nextHop, reason: st.reason });
  }
  const verdict = judge(prefix, fam, wanted, sources, peersOut, lx);
  const services = new Set(sources.flatMap((s) => (s.service ? [s.service.name] : [])));
  const warnings = (d.warnings ?? []).filter((w) => w.prefixes.includes(prefix) || (w.service !== null && services.has(w.service))).map(warningState);
  return { prefix, family: fam, wanted, sources, peers: peersOut, ...verdict, warnings };
}

/** A route's status with one peer, from the engine's standing (and the peer's damped hold-down or BFD hold, if any). */
function statusOf(x: PrefixStanding | undefined, heldDownMs: number | null, queued: string): { status: RouteStatus; nextHop: string | null; reason: string | null } {
  if (!x) return { status: 'no-session', nextHop: null, reason: 'peer is not running' };
  if (x.sentNextHop !== null && !x.pending) return { status: 'announced', nextHop: x.sentNextHop, reason: null };
  if (x.state !== 'Established') {
    const why =
      heldDownMs !== null
        ? `session is ${x.state}, held down for ${Math.ceil(heldDownMs / 1000)} s more after a protocol error (idle_hold damping)`
        : `session is ${x.state}, not Established`;
    return { status: 'no-session', nextHop: null, reason: why };
  }
  if (x.reason) return { status: 'not-sendable', nextHop: null, reason: x.reason };
  return { status: 'pending', nextHop: x.sentNextHop, reason: queued };
}

/** The LXD source's routes for one prefix: each origin that derived it (wants it) or skipped it (with the reason). */
function lxdSources(src: LxdStateSource, prefix: string, lx: LxdSummaryState, wantedBy: ReadonlySet<string>): ExplainSource[] {
  const x = src.explain(prefix);
  const detail = (o: LxdOrigin, nextHop: string | null): ExplainLxd => ({
    origin: lxdOriginState(o),
    nextHop,
    status: lx.status,
    unreachableSince: lx.unreachableSince,
  });
  const out: ExplainSource[] = [];
  for (const a of x.announced) {
    const name = originText(a.origin);
    // Derived but not (yet) handed to the reconciler: only between a read and its publish.
    const wants = wantedBy.has(name);
    out.push({ source: name, wants, reason: wants ? null : 'derived by the LXD source, not yet published', service: null, lxd: detail(a.origin, a.intent.nextHop ?? 'self') });
  }
  for (const k of x.skipped) out.push({ source: originText(k.origin), wants: false, reason: k.reason, service: null, lxd: detail(k.origin, null) });
  return out;
}

/** Say what an unreachable LXD source means for the routes it gave. */
function lxdCaveat(lx: LxdSummaryState): string | null {
  if (lx.status === 'not-started') return `the LXD source is not running${lx.lastError ? `: ${lx.lastError}` : ''}`;
  if (lx.status !== 'unreachable') return null;
  return `LXD is unreachable since ${lx.unreachableSince}${lx.lastError ? ` (${lx.lastError})` : ''}${lx.withdrawnByLimit ? ' and its routes were withdrawn (unreachable_withdraw_after)' : ': its last known routes are kept'}`;
}

function whyServiceSilent(s: ServiceState): string {
  if (s.drain === 'withdrawn') return `service ${s.name} is drained (withdrawn); run 'routes undrain ${s.name}' to announce it again`;
  if (s.drain === 'graceful-shutdown') return `service ${s.name} is draining and not up`;
  if (s.health === 'maintenance') {
    const m = s.checks.find((c) => c.adminDown);
    return `service ${s.name} is in maintenance${m ? `: ${m.detail}` : ''}`;
  }
  const failing = s.checks.filter((c) => !c.ok);
  const what = failing.length ? failing.map((c) => `check ${c.index + 1} (${c.check}) failed: ${c.detail}`).join('; ') : 'no check has passed yet';
  return `service ${s.name} is ${s.health}: ${what}`;
}

function judge(
  prefix: string,
  fam: Family,
  wanted: boolean,
  sources: ExplainSource[],
  peersOut: ExplainPeer[],
  lx: LxdSummaryState | null,
): { announced: boolean; reason: string } {
  const caveat = lx ? lxdCaveat(lx) : null;
  if (!wanted) {
    if (sources.length === 0) {
      if (!lx) return { announced: false, reason: `no static route or service is configured for ${prefix}` };
      return { announced: false, reason: `no static route, service or LXD route gives ${prefix}${caveat ? ` (${caveat})` : ''}` };
    }
    // LXD reasons name the origin: several instances may skip the same prefix, each for its own reason.
    return { announced: false, reason: sources.map((s) => (s.lxd ? `${s.source}: ${s.reason}` : (s.reason ?? `${s.source} does not want it`))).join('; ') };
  }
  const v = judgeWanted(fam, peersOut);
  if (caveat && sources.some((s) => s.wants && s.lxd)) return { ...v, reason: `${v.reason} (${caveat})` };
  return v;
}

function judgeWanted(fam: Family, peersOut: ExplainPeer[]): { announced: boolean; reason: string } {
  const carrying = peersOut.filter((p) => p.shouldCarry);
  if (carrying.length === 0) {
    const why = peersOut.map((p) => `${p.peer}: ${p.reason}`).join('; ');
    return { announced: false, reason: `no peer should carry it${why ? ` (${why})` : ' (no peers configured)'}` };
  }
  const est = carrying.filter((p) => p.established);
  if (est.length === 0) {
    return { announced: false, reason: `no established ${fam} session: ${carrying.map((p) => `${p.peer} is ${p.state}`).join(', ')}` };
  }
  const missing = est.filter((p) => p.status !== 'announced');
  if (missing.length) return { announced: false, reason: missing.map((p) => `${p.peer}: ${p.reason}`).join('; ') };
  const down = carrying.length - est.length;
  return {
    announced: true,
    reason: `announced to ${est.map((p) => p.peer).join(', ')}${down ? ` (${down} peer${down > 1 ? 's' : ''} not established)` : ''}`,
  };
}

