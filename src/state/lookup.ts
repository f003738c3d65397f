/**
 * `routes lookup ADDR` (`show route for ADDR` in birdc and bgpctl terms):
 * the longest prefix that contains an address, among herald's own routes
 * and among the routes each peer sent, with why each is or is not sent.
 *
 * - Own routes: every prefix a source wants now (the reconciler's output)
 *   or that the config or the LXD source names (a service that is down still
 *   answers "why not"). The longest one is explained by explain.ts, so the
 *   reasons are the one explain logic's; the less specific ones are listed.
 *   Each prefix length is one index probe, never a walk of the route set.
 * - Received routes: per peer, the longest match in its Adj-RIB-In (the
 *   engine's `lookupReceived`). herald originates routes and re-advertises
 *   nothing it learns, so none of them is sent anywhere; with `import: none`
 *   only the prefix is known.
 *
 * The address is parsed at the edge (address.ts); this module gets it
 * canonical. No RFC beyond longest match itself (RFC 4632 §5.1).
 */
import { canonicalPrefix, type Family } from './format.js';
import { parsePrefixText } from '../ip.js';
import { explain, type ExplainState } from './explain.js';
import { receivedState, type ReceivedState, type StateSource } from './model.js';

/** One peer's longest received match. */
export interface LookupReceived {
  peer: string;
  prefix: string;
  /** The route as `routes received` shows it; null when only its prefix is kept (import none). */
  route: ReceivedState | null;
  /** Why it is not sent on. */
  reason: string;
}

/** GET /v1/lookup?address=, `routes lookup`. */
export interface LookupState {
  address: string;
  family: Family;
  /** The longest own prefix (static, service, LXD) that contains the address; null when none does. */
  prefix: string | null;
  /** That prefix explained (announced, to whom, or exactly why not); null when there is none. */
  explain: ExplainState | null;
  /** Less specific own prefixes that contain the address too, most specific first. */
  covering: string[];
  /** Per peer, the longest received prefix that contains the address. */
  received: LookupReceived[];
  /** One line: the answer. */
  reason: string;
}

const NOT_SENT_ON = 'received routes are never sent on: herald announces only its own (static, services, LXD)';

/** Look an address up; `address` is canonical text (address.ts parseLookupAddress). */
export async function lookup(d: StateSource, address: string, family: Family): Promise<LookupState> {
  const own = ownPrefixes(d);
  const matches: string[] = [];
  for (let len = family === 'ipv4' ? 32 : 128; len >= 0; len--) {
    // Every length's covering prefix: the address's host bits are masked here, not refused.
    const r = parsePrefixText(`${address}/${len}`, { hostBits: 'mask' });
    if (typeof r === 'string') continue;
    const p = r.text;
    if (own.has(p) || d.reconciler.outputFor(p) !== null || d.reconciler.contributions(p).length > 0) matches.push(p);
  }
  const prefix = matches[0] ?? null;
  const x = prefix === null ? null : await explain(d, prefix);
  const received: LookupReceived[] = [];
  for (const m of (await d.engine?.lookupReceived(address)) ?? []) {
    received.push({
      peer: m.peer,
      prefix: m.prefix,
      route: m.route === null ? null : receivedState(m.peer, m.route),
      reason: m.route === null ? `${NOT_SENT_ON}; only the prefix is kept (import: none)` : NOT_SENT_ON,
    });
  }
  return { address, family, prefix, explain: x, covering: matches.slice(1), received, reason: verdict(address, x, received) };
}

/** Prefixes the config and the LXD source name, wanted now or not. */
function ownPrefixes(d: StateSource): Set<string> {
  const out = new Set<string>();
  const add = (p: string): void => {
    const c = canonicalPrefix(p);
    if (c !== null) out.add(c);
  };
  for (const s of d.config?.static ?? []) add(s.prefix);
  for (const s of d.config?.services ?? []) for (const p of s.prefixes) add(p);
  const lx = d.lxd?.snapshot();
  for (const i of lx?.intents ?? []) add(i.prefix);
  for (const k of lx?.skipped ?? []) add(k.prefix);
  return out;
}

function verdict(address: string, x: ExplainState | null, received: readonly LookupReceived[]): string {
  const rcvd = received.length ? `; received from ${received.map((r) => `${r.peer} (${r.prefix})`).join(', ')}, not sent on` : '';
  if (x === null) return `no route of herald's own contains ${address}${rcvd}`;
  return `${x.prefix}: ${x.announced ? 'announced' : 'NOT announced'} — ${x.reason}${rcvd}`;
}
