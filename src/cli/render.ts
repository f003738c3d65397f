/**
 * Text renderings of the state model (src/state.ts) for the `routes` CLI:
 * tables sized to the terminal (cells cut with "…" when the terminal is
 * narrower than the table; nothing is cut when the output is not a TTY),
 * colour only when asked (the CLI asks only on a TTY without NO_COLOR).
 * Pure functions: model in, string out. No RFC.
 *
 * Left columns name things (peer, prefix, state) and right ones explain
 * them, so a narrow terminal cuts the rightmost columns first.
 */
import type {
  CheckState,
  ExplainState,
  LookupState,
  LxdState,
  LxdSummaryState,
  PeerState,
  ReceivedState,
  RouteState,
  ServiceState,
  StateEvent,
  SummaryState,
} from '../state/index.js';

export type Colour = 'green' | 'red' | 'yellow' | 'dim' | 'bold';
/** A table cell: plain text, or text with a colour. */
export type Cell = string | { text: string; colour: Colour };

export interface RenderOptions {
  /** Terminal width; null = do not shrink (output is not a terminal). */
  width: number | null;
  colour: boolean;
}

const SGR: Record<Colour, string> = { green: '32', red: '31', yellow: '33', dim: '2', bold: '1' };
const GAP = '  ';
const MIN_COL = 6;

/** Wrap text in an ANSI colour when colour is on. */
export function paint(text: string, c: Colour, on: boolean): string {
  return on ? `\x1b[${SGR[c]}m${text}\x1b[0m` : text;
}

const textOf = (c: Cell): string => (typeof c === 'string' ? c : c.text);

/** Cut text to n characters, marking the cut with "…". */
export function truncate(s: string, n: number): string {
  if (s.length <= n) return s;
  if (n <= 1) return s.slice(0, n);
  return `${s.slice(0, n - 1)}…`;
}

/** Compute column widths that fit `width` (shrinking the rightmost columns first), or the natural widths. */
export function columnWidths(headers: readonly string[], rows: readonly (readonly Cell[])[], width: number | null): number[] {
  const w = headers.map((h) => h.length);
  for (const r of rows) r.forEach((c, i) => (w[i] = Math.max(w[i] ?? 0, textOf(c).length)));
  if (width === null) return w;
  const total = (): number => w.reduce((a, b) => a + b, 0) + GAP.length * (w.length - 1);
  // Left columns name things (peer, prefix, state); the right ones explain.
  // Shrink from the right: each column down to MIN_COL before the next one left.
  let over = total() - width;
  for (let i = w.length - 1; i >= 0 && over > 0; i--) {
    const cut = Math.min(over, Math.max(0, w[i]! - MIN_COL));
    w[i]! -= cut;
    over -= cut;
  }
  return w;
}

/** Render one row with fixed widths (no trailing spaces). */
export function renderRow(cells: readonly Cell[], widths: readonly number[], colour: boolean): string {
  const parts = cells.map((c, i) => {
    const t = truncate(textOf(c), widths[i] ?? textOf(c).length);
    const padded = i === cells.length - 1 ? t : t.padEnd(widths[i] ?? t.length);
    return typeof c === 'string' ? padded : paint(t, c.colour, colour) + padded.slice(t.length);
  });
  return parts.join(GAP).trimEnd();
}

/** Render a table with a header line. */
export function renderTable(headers: readonly string[], rows: readonly (readonly Cell[])[], o: RenderOptions): string {
  const w = columnWidths(headers, rows, o.width);
  const head = renderRow(
    headers.map((h) => ({ text: h, colour: 'bold' as const })),
    w,
    o.colour,
  );
  return [head, ...rows.map((r) => renderRow(r, w, o.colour))].join('\n') + '\n';
}

/** Format a duration in ms as "3d04h", "2h13m", "5m02s", "12s". */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const two = (n: number): string => String(n).padStart(2, '0');
  if (d) return `${d}d${two(h)}h`;
  if (h) return `${h}h${two(m)}m`;
  if (m) return `${m}m${two(sec)}s`;
  return `${sec}s`;
}

const sinceIso = (iso: string): string => duration(Date.now() - Date.parse(iso));

function stateCell(state: string): Cell {
  return { text: state, colour: state === 'Established' ? 'green' : state === 'Idle' || state === 'Active' ? 'red' : 'yellow' };
}

function healthCell(h: string): Cell {
  return { text: h, colour: h === 'up' ? 'green' : h === 'down' ? 'red' : 'yellow' };
}

function statusCell(s: string): Cell {
  return { text: s, colour: s === 'announced' ? 'green' : s === 'pending' ? 'yellow' : 'red' };
}

/**
 * Render the summary (`routes`); `via` names the socket that answered and
 * what it allows (the operator socket, or the read-only one).
 */
export function renderSummary(s: SummaryState, o: RenderOptions, via?: { socket: string; access: 'operator' | 'read-only' | null }): string {
  const ok = (n: number, good: boolean): string => paint(String(n), good ? 'green' : 'red', o.colour);
  // Older daemons send no adminDown count and no api section.
  const admin = s.peers.adminDown ? `, ${paint(String(s.peers.adminDown), 'yellow', o.colour)} administratively down` : '';
  const events = s.api ? `; ${s.api.eventClients} event client${s.api.eventClients === 1 ? '' : 's'}, ${s.api.eventClientsDropped} dropped for reading too slowly` : '';
  return [
    `herald AS${s.asn} router-id ${s.routerId}, up ${duration(s.uptimeMs)} (config ${s.configFile})`,
    `sessions  ${ok(s.peers.established, s.peers.established > 0)} established, ${ok(s.peers.down, s.peers.down === 0)} not established${admin} (${s.peers.total} peers)`,
    `routes    ${s.routes.announced} announced, ${s.routes.pending} pending, ${s.routes.received} received`,
    `services  ${ok(s.services.up, true)} up, ${ok(s.services.down, s.services.down === 0)} down, ${s.services.maintenance} maintenance, ${s.services.draining} draining (${s.services.total} services)`,
    `reloads   ${s.reloads.ok} ok, ${s.reloads.failed} refused`,
    ...(s.lxd ? [`lxd       ${lxdLine(s.lxd, o)}`] : []),
    ...(via ? [`control   ${via.socket}${via.access ? ` (${via.access})` : ''}${events}`] : []),
    ...(s.engine?.timerLateness ? [`engine    ${latenessLine(s.engine.timerLateness)}`] : []),
    '',
  ].join('\n');
}

/** One line on the session engine's timers: how late they ran after their deadlines. */
export function latenessLine(t: NonNullable<SummaryState['engine']['timerLateness']>): string {
  const ms = (v: number): string => (v < 10 ? v.toFixed(1) : String(Math.round(v)));
  return `timers late by at most ${ms(t.maxMs)} ms (last minutes ${ms(t.recentMaxMs)} ms, p99 ≤ ${ms(t.p99Ms)} ms, ${t.count} timers)`;
}

/** One line on the LXD source: reachability, what it derived and skipped. */
export function lxdLine(l: LxdSummaryState, o: RenderOptions): string {
  const counts = `${l.routes.derived} routes derived, ${l.routes.skipped} skipped, ${l.instances} instances`;
  switch (l.status) {
    case 'connected':
      return `${paint('reachable', 'green', o.colour)} (${l.serverName ?? l.endpoint}${l.eventsConnected ? '' : ', events not connected'}), ${counts}`;
    case 'unreachable': {
      const since = l.unreachableSince ? ` for ${sinceIso(l.unreachableSince)}` : '';
      const what = l.withdrawnByLimit ? paint('routes withdrawn (unreachable_withdraw_after)', 'red', o.colour) : 'last known routes kept';
      return `${paint('UNREACHABLE', 'red', o.colour)}${since} (${l.lastError ?? l.endpoint}): ${what}; ${counts}`;
    }
    case 'not-started':
      return `${paint('not running', 'red', o.colour)}: ${l.lastError ?? 'the source could not start'}`;
    default:
      return `${l.status} (${l.endpoint}), ${counts}`;
  }
}

/** The BFD cell of a peer: "-" without BFD, else the state, with "tx/detection" once the peer has spoken. */
function bfdCell(p: PeerState): Cell {
  const b = p.bfd;
  if (b === null) return '-';
  const s = b.session;
  if (s === null) return { text: 'not running', colour: 'red' };
  const timers = s.detectionTimeMs !== null ? ` ${s.txIntervalMs}/${s.detectionTimeMs}ms` : '';
  return { text: `${s.state}${timers}`, colour: s.state === 'Up' ? 'green' : s.state === 'Init' ? 'yellow' : 'red' };
}

/** What the LAST ERROR column says of a peer: why it is down, or why its routes wait or went out unprotected. */
function peerNote(p: PeerState): string {
  if (p.adminDown) return `administratively down (routes peer ${p.name} up)${p.adminDown.message ? `: ${p.adminDown.message}` : ''}`;
  if (p.receiveLimit) return p.receiveLimit.message;
  const b = p.bfd;
  if (p.established) {
    if (b?.routesHeld) return `routes wait for BFD Up (${duration(b.heldMs)} of wait_up ${duration(b.waitUpMs)})`;
    if (b?.unprotected) return 'BFD not Up within wait_up: routes sent without BFD protection';
    if (b && b.session === null) return `BFD: ${b.error}`;
    return '';
  }
  return p.lastDown?.message ?? p.lastConnectError ?? (p.passive ? 'passive: waiting for the peer' : '');
}

/** One line per BFD peer under the table: state, negotiated timers, counters, the last time it left Up. */
export function bfdLine(p: PeerState): string | null {
  const b = p.bfd;
  if (b === null) return null;
  const s = b.session;
  if (s === null) return `bfd ${p.name}: not running: ${b.error}`;
  const hop = s.multihop ? `multihop (min TTL ${s.minTtl})` : 'single hop';
  const up = s.state === 'Up' ? ` for ${duration(s.uptimeMs)}` : '';
  const remote = s.remote ? `peer ${s.remoteState} ${s.remote.desiredMinTxMs}/${s.remote.requiredMinRxMs}ms ×${s.remote.detectMult}` : 'nothing heard from the peer';
  const neg = s.detectionTimeMs !== null ? `tx every ${s.txIntervalMs}ms, detect in ${s.detectionTimeMs}ms` : `tx every ${s.txIntervalMs}ms`;
  const c = s.counters;
  const discards = Object.values(c.discards).reduce((a, n) => a + n, 0);
  const last = s.lastDown ? `; last down ${sinceIso(new Date(s.lastDown.at).toISOString())} ago: ${s.lastDown.diagName}${s.lastDown.pathDown ? '' : ` (peer ${s.lastDown.remoteState})`}` : '';
  return (
    `bfd ${p.name}: ${s.state}${up}, ${hop}${s.passive ? ', passive' : ''}; ours ${s.desiredMinTxMs}/${s.requiredMinRxMs}ms ×${s.detectMult}, ${remote}; ${neg}; ` +
    `packets ${c.packetsIn} in, ${c.packetsOut} out, ${discards} discarded; largest gap out ${c.txGapMaxMs}ms, in ${c.rxGapMaxMs}ms; up ${c.upTransitions}, down ${c.downTransitions}${last}`
  );
}

/** Render the peers table (`routes peers`); with BFD a BFD column and one line per BFD peer under the table. */
export function renderPeers(ps: readonly PeerState[], o: RenderOptions): string {
  if (ps.length === 0) return 'no peers configured\n';
  const anyBfd = ps.some((p) => p.bfd !== null);
  const rows = ps.map((p) => [
    p.name,
    p.address,
    String(p.peerAs),
    p.adminDown ? { text: `${p.state} (admin down)`, colour: 'yellow' as const } : stateCell(p.state),
    ...(anyBfd ? [bfdCell(p)] : []),
    p.established ? duration(p.uptimeMs) : '-',
    String(p.prefixesAnnounced),
    String(p.prefixesPending),
    String(p.prefixesReceived),
    `${Math.ceil(p.receivedBytes / 1024)}K`,
    p.families.join(',') || '-',
    peerNote(p),
  ]);
  const head = ['PEER', 'ADDRESS', 'AS', 'STATE', ...(anyBfd ? ['BFD'] : []), 'UP', 'SENT', 'PENDING', 'RCVD', 'RCVD MEM', 'FAMILIES', 'LAST ERROR'];
  const table = renderTable(head, rows, o);
  if (!anyBfd) return table;
  const lines = ps.map(bfdLine).filter((l): l is string => l !== null);
  return `${table}\n${lines.join('\n')}\n`;
}

function checksSummary(cs: readonly CheckState[]): string {
  if (cs.length === 0) return 'no result yet';
  const bad = cs.filter((c) => !c.ok);
  if (bad.length === 0) return `${cs.length}/${cs.length} ok`;
  return `${cs.length - bad.length}/${cs.length} ok: ${bad[0]!.detail}`;
}

/** Render the services table (`routes services`). */
export function renderServices(ss: readonly ServiceState[], o: RenderOptions): string {
  if (ss.length === 0) return 'no services configured\n';
  const rows = ss.map((s) => [
    s.name,
    healthCell(s.health),
    sinceIso(s.since),
    s.drain ? { text: s.drain, colour: 'yellow' as const } : '-',
    s.announcing ? 'yes' : 'no',
    s.prefixes.join(' '),
    checksSummary(s.checks),
  ]);
  return renderTable(['SERVICE', 'HEALTH', 'SINCE', 'DRAIN', 'ANNOUNCING', 'PREFIXES', 'CHECKS'], rows, o);
}

export const ROUTE_HEADERS = ['PEER', 'PREFIX', 'STATUS', 'NEXT HOP', 'SOURCE', 'COMMUNITIES', 'REASON'] as const;

/** Turn one announced route into table cells. */
export function routeRow(r: RouteState): Cell[] {
  const comms = [...r.communities, ...r.largeCommunities, ...r.extendedCommunities];
  const extra = [r.med !== null ? `med ${r.med}` : '', r.prepend ? `prepend ${r.prepend}` : ''].filter(Boolean);
  return [r.peer, r.prefix, statusCell(r.status), r.nextHop, r.sources.join(','), [...comms, ...extra].join(' ') || '-', r.reason ?? ''];
}

export const RECEIVED_HEADERS = ['PREFIX', 'NEXT HOP', 'AS PATH', 'MED', 'LOCAL PREF', 'COMMUNITIES'] as const;

/** Turn one received route into table cells. */
export function receivedRow(r: ReceivedState): Cell[] {
  return [
    r.pathId === null ? r.prefix : `${r.prefix} #${r.pathId}`,
    r.nextHops.join(',') || '-',
    r.asPath || '(empty)',
    r.med === null ? '-' : String(r.med),
    r.localPref === null ? '-' : String(r.localPref),
    [...r.communities, ...r.largeCommunities, ...r.extendedCommunities].join(' ') || '-',
  ];
}

/** Render `routes explain PREFIX`: the verdict, who wants it with its checks, and every peer. */
export function renderExplain(x: ExplainState, o: RenderOptions): string {
  const out: string[] = [];
  const verdict = x.announced ? paint('announced', 'green', o.colour) : paint('NOT announced', 'red', o.colour);
  out.push(`${x.prefix} (${x.family}): ${verdict}`, `  ${x.reason}`, '');
  out.push('sources:');
  if (x.sources.length === 0) out.push('  none: no static route, service or LXD route lists this prefix');
  for (const s of x.sources) {
    out.push(`  ${s.source}: ${s.wants ? paint('wants it', 'green', o.colour) : paint('does not want it', 'red', o.colour)}${s.reason ? ` — ${s.reason}` : ''}`);
    if (s.lxd) {
      const g = s.lxd.origin;
      const parts = [`project ${g.project}`, g.network && `network ${g.network}`, g.instance && `instance ${g.instance}`, g.device && `device ${g.device}`, g.listen && `listen ${g.listen}`, `rule ${g.rule}`];
      out.push(`    lxd ${parts.filter(Boolean).join(', ')}${s.lxd.nextHop ? `; next hop ${s.lxd.nextHop}` : ''}`);
      if (s.lxd.status !== 'connected') out.push(`    LXD source ${s.lxd.status}${s.lxd.unreachableSince ? ` since ${s.lxd.unreachableSince}` : ''}`);
    }
    const sv = s.service;
    if (!sv) continue;
    out.push(`    health ${paint(sv.health, sv.health === 'up' ? 'green' : 'red', o.colour)} for ${sinceIso(sv.since)}${sv.drain ? `, drain ${sv.drain}` : ''}`);
    for (const c of sv.checks) {
      out.push(`    check ${c.index + 1} ${c.check}: ${c.ok ? paint('ok', 'green', o.colour) : paint('FAIL', 'red', o.colour)} — ${c.detail} (${c.latencyMs} ms, ${sinceIso(c.at)} ago)`);
      if (c.output) for (const l of c.output.trimEnd().split('\n').slice(0, 20)) out.push(`      | ${l}`);
    }
  }
  out.push('', 'peers:');
  if (x.peers.length === 0) out.push('  none configured');
  else {
    const rows = x.peers.map((p) => [
      p.peer,
      stateCell(p.state),
      p.shouldCarry ? 'yes' : 'no',
      statusCell(p.status),
      p.nextHop ?? '-',
      p.reason ?? '',
    ]);
    out.push(
      renderTable(['PEER', 'STATE', 'CARRIES', 'STATUS', 'NEXT HOP', 'REASON'], rows, { ...o, width: o.width === null ? null : o.width - 2 })
        .trimEnd()
        .split('\n')
        .map((l) => `  ${l}`)
        .join('\n'),
    );
  }
  // Older daemons send no warnings field.
  const warnings = x.warnings ?? [];
  if (warnings.length) {
    out.push('', 'config warnings:');
    for (const w of warnings) out.push(`  ${paint('warning', 'red', o.colour)} ${w.path}: ${w.message}`);
  }
  return out.join('\n') + '\n';
}

/** Render `routes lookup ADDRESS`: the longest own match explained, the less specific ones, and each peer's received match. */
export function renderLookup(x: LookupState, o: RenderOptions): string {
  const out: string[] = [];
  if (x.prefix === null || x.explain === null) out.push(`${x.address} (${x.family}): no route of herald's own contains it`, '');
  else {
    out.push(`${x.address} (${x.family}): longest match ${x.prefix}`, '');
    out.push(renderExplain(x.explain, o).trimEnd());
    if (x.covering.length) out.push('', `also contained in: ${x.covering.join(', ')}`);
    out.push('');
  }
  out.push('received:');
  if (x.received.length === 0) out.push('  no peer sent a route that contains it');
  else {
    const rows = x.received.map((r) => [r.peer, r.prefix, r.route ? r.route.nextHops.join(',') || '-' : '-', r.route ? r.route.asPath || '(empty)' : '-', r.reason]);
    out.push(
      renderTable(['PEER', 'PREFIX', 'NEXT HOP', 'AS PATH', 'NOT SENT ON'], rows, { ...o, width: o.width === null ? null : o.width - 2 })
        .trimEnd()
        .split('\n')
        .map((l) => `  ${l}`)
        .join('\n'),
    );
  }
  return out.join('\n') + '\n';
}

/** Render the answer to `routes peer PEER ACTION`. */
export function renderPeerAction(r: { peer: string; action: string; changed: boolean; detail: string; peerState: PeerState }, o: RenderOptions): string {
  const what = r.changed ? r.detail : `nothing to do: ${r.detail}`;
  const st = r.peerState;
  return `${what}\n${paint(st.name, 'bold', o.colour)} is ${st.state}${st.adminDown ? ' (administratively down)' : ''}\n`;
}

export const LXD_HEADERS = ['PREFIX', 'STATE', 'NEXT HOP', 'ORIGIN', 'REASON'] as const;

/** Render `routes lxd`: the source's state, then every route it derived or skipped. */
export function renderLxd(x: LxdState, o: RenderOptions): string {
  const l = x.source;
  const out = [
    `lxd       ${lxdLine(l, o)}`,
    `endpoint  ${l.endpoint}${l.serverName ? ` (server ${l.serverName}${l.clustered ? ', clustered' : ''})` : ''}; announce from ${l.announceFrom}${l.announceFrom === 'active-chassis' ? ` as chassis ${l.chassisName ?? '?'}` : ''}`,
    `reads     ${l.reads} (${l.failedReads} failed, ${l.fullReads} full, ${l.resyncs} resyncs), ${l.events} events${l.lastReadAt ? `; last ${sinceIso(l.lastReadAt)} ago in ${l.lastReadMs} ms` : ''}${l.lastFullReadAt ? `, last full ${sinceIso(l.lastFullReadAt)} ago` : ''}`,
    '',
  ];
  if (x.routes.length === 0) return [...out, 'no routes derived or skipped', ''].join('\n');
  const rows = x.routes.map((r) => [
    r.prefix,
    r.state === 'derived' ? { text: 'derived', colour: 'green' as const } : { text: 'skipped', colour: 'yellow' as const },
    r.nextHop ?? '-',
    r.origin.source,
    r.reason ?? '',
  ]);
  return `${out.join('\n')}\n${renderTable(LXD_HEADERS, rows, o)}`;
}

/** Render one line of `routes watch`. */
export function renderEvent(e: StateEvent | { type: 'hello' }, o: RenderOptions): string {
  const t = 'at' in e ? e.at.slice(11, 19) : new Date().toISOString().slice(11, 19);
  const ts = paint(t, 'dim', o.colour);
  switch (e.type) {
    case 'hello':
      return `${ts} connected; watching for changes (Ctrl-C to stop)`;
    case 'peer': {
      const v = e.event;
      switch (v.type) {
        case 'state':
          return `${ts} peer ${v.peer}: ${v.from} → ${v.to}`;
        case 'established':
          return `${ts} peer ${v.peer}: ${paint('established', 'green', o.colour)} (${v.families.join(', ')}, hold ${v.holdTime}s)`;
        case 'down':
          return `${ts} peer ${v.peer}: ${paint('down', 'red', o.colour)} — ${v.reason.message}`;
        case 'end-of-rib':
          return `${ts} peer ${v.peer}: End-of-RIB ${v.family}`;
        case 'notification-sent':
          return `${ts} peer ${v.peer}: sent NOTIFICATION ${v.code}/${v.subcode}${v.text ? ` "${v.text}"` : ''}`;
        case 'connect-failed':
          return `${ts} peer ${v.peer}: connect failed: ${v.error}`;
        case 'unknown-connection':
          return `${ts} refused a connection from unconfigured ${v.address}`;
        case 'md5-failure':
          return `${ts} TCP MD5 failures: ${v.count}${v.peer ? ` (peer ${v.peer})` : ''}`;
        case 'peer-action':
          return `${ts} peer ${v.peer}: ${v.action} by the operator${v.message ? ` "${v.message}"` : ''}`;
        case 'bfd': {
          const colour = v.to === 'Up' ? 'green' : v.to === 'Init' ? 'yellow' : 'red';
          const why = v.from === 'Up' ? ` — ${v.diag}, peer ${v.remoteState}${v.pathDown ? ': path down, BGP session taken down' : ': not a path failure, BGP session kept'}` : '';
          return `${ts} peer ${v.peer}: BFD ${v.from} → ${paint(v.to, colour, o.colour)}${why}`;
        }
        case 'bfd-routes':
          if (v.held) return `${ts} peer ${v.peer}: routes wait for BFD Up`;
          return v.unprotected
            ? `${ts} peer ${v.peer}: ${paint('BFD not Up within wait_up', 'red', o.colour)}: routes sent without BFD protection after ${duration(v.heldMs)}`
            : `${ts} peer ${v.peer}: routes sent (held ${v.heldMs} ms for BFD)`;
      }
      return `${ts} peer event`;
    }
    case 'service':
      return `${ts} service ${e.service}: ${e.from} → ${paint(e.to, e.to === 'up' ? 'green' : 'red', o.colour)} — ${e.reason}`;
    case 'reload':
      return e.ok ? `${ts} config reloaded` : `${ts} ${paint('reload refused', 'red', o.colour)}: ${e.errors.join('; ')}`;
    case 'drain':
      return `${ts} drain ${e.services.join(', ')}: ${e.phase}`;
    case 'undrain':
      return `${ts} undrain ${e.services.join(', ') || '(none drained)'}`;
    case 'lxd':
      return `${ts} lxd ${e.change}: ${lxdLine(e.lxd, o)}`;
  }
}
