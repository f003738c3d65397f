/**
 * The config file's schema (zod), in the file's own snake_case shape.
 *
 * This is the single description of what herald.yaml may contain: parse.ts
 * validates against it, json-schema.ts publishes it as docs/herald.schema.json
 * for editors, and build.ts turns its output into the camelCase `Config`.
 * Every object is strict (unknown keys are errors). Field checks that need
 * more than a type (addresses, prefixes, communities, durations) are
 * refinements that phrase their own message; checks across fields (duplicate
 * names, families no peer carries) live in build.ts.
 *
 * Defaults that are constants sit here (`.default`) so the JSON Schema shows
 * them; defaults that depend on other fields (keepalive, families, timeout,
 * jitter) are filled in build.ts.
 */
import * as z from 'zod';
import { parseIpAddress, parsePrefixText } from '../ip.js';
import { parseCommunity, parseExtendedCommunity, parseLargeCommunity, type Checked } from '../../bgp/config-values.js';
import { DURATION_PATTERN, parseDuration } from './duration.js';
import { parseOvsdbRemote } from '../sources/lxd/ovsdb.js';
import { DNS_RCODES, DNS_TYPES, LOG_LEVELS } from './types.js';
import { BFD_DEFAULTS, BFD_MAX_INTERVAL_MS, BFD_MIN_INTERVAL_MS, BFD_WAIT_UP_MS } from '../../bgp/config-values.js';

// zod's object parsers are compiled with `new Function` on their first use
// by default: herald parses a config at start and at a reload, so that code
// never pays for itself. Without it the first parse of a small config took
// half the CPU (23-32 ms vs 38-41 ms, the largest step before the first
// OPEN after loading the code) and a 10,000-service config parsed no slower
// (decision 0041).
z.config({ jitless: true });
// Descriptions for the JSON Schema go on a schema built for that field with
// `.register(z.globalRegistry, …)`: `.meta(…)` clones the schema first, 85
// more schema objects built at every start for nothing (importing the schema
// took ~7 % less CPU without them, decision 0041). A schema shared by several
// fields (`asn`, `ipAddress`, ...) keeps `.meta(…)`, so its description stays
// with the one field; docs/herald.schema.json, checked by a test, shows any
// slip.

// ---------------------------------------------------------------- scalars

/** Show a value in a message: short scalars verbatim, anything else by kind. */
export function show(v: unknown): string {
  if (typeof v === 'string') return v.length > 60 ? `${JSON.stringify(v.slice(0, 57))}…` : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  return 'a mapping';
}

/** A string checked by a parser that returns a reason on failure. */
function checkedText(check: (s: string) => string | null, description: string) {
  return z
    .string({ error: (iss) => `expected ${description}, got ${show(iss.input)}` })
    .superRefine((s, ctx) => {
      const reason = check(s);
      if (reason !== null) ctx.addIssue({ code: 'custom', message: reason });
    })
    .register(z.globalRegistry, { description });
}

const fromChecked =
  <T>(f: (s: string) => Checked<T>) =>
  (s: string): string | null => {
    const r = f(s);
    return r.ok ? null : r.reason;
  };

/** An integer in [min, max], with a message naming the range. */
export function int(min: number, max: number, what = 'an integer') {
  const msg = (v: unknown): string => `expected ${what} ${min}..${max}, got ${show(v)}`;
  return z
    .number({ error: (iss) => msg(iss.input) })
    .int({ error: (iss) => msg(iss.input) })
    .min(min, { error: (iss) => msg(iss.input) })
    .max(max, { error: (iss) => msg(iss.input) });
}

export const asn = int(1, 4294967295, 'an AS number').register(z.globalRegistry, { description: 'AS number, 1..4294967295 (4-octet ASNs as plain numbers)' });

export const port = int(1, 65535, 'a port');
const listenPort = int(0, 65535, 'a port');

/** Address text as src/ip.ts reads it: the reason it is not one, or null. */
const addressReason = (s: string, family?: 'ipv4' | 'ipv6'): string | null => {
  const a = parseIpAddress(s, family ? { family } : {});
  return typeof a === 'string' ? a : null;
};

export const address = checkedText((s) => addressReason(s), 'an IPv4 or IPv6 address');

/** A next hop: never IPv4-mapped (an IPv6 route with one is never sent, decision 0015). */
const nextHopReason = (s: string, family?: 'ipv4' | 'ipv6'): string | null => {
  const a = parseIpAddress(s, family ? { family } : {});
  if (typeof a === 'string') return a;
  return a.mapped ? `${show(s)} is an IPv4-mapped IPv6 address: herald never sends one as a next hop (give the IPv4 address, with extended_next_hop for RFC 8950)` : null;
};

function familyAddress(family: 'ipv4' | 'ipv6') {
  return checkedText((s) => nextHopReason(s, family), `an ${family === 'ipv4' ? 'IPv4' : 'IPv6'} address`);
}

const routerId = checkedText((s) => {
  const a = parseIpAddress(s, { family: 'ipv4' });
  if (typeof a === 'string') return `expected a router id in dotted-quad form like 192.0.2.11, got ${show(s)}`;
  return a.text === '0.0.0.0' ? 'router id 0.0.0.0 is not allowed (RFC 6286 §2.1: it must be non-zero)' : null;
}, 'a router id in dotted-quad form like 192.0.2.11');

/** Check prefix text (src/ip.ts); host bits set are an error that names both readings. */
export function prefixReason(s: string): string | null {
  const p = parsePrefixText(s);
  return typeof p === 'string' ? p : null;
}

export const prefix = checkedText(prefixReason, 'an IPv4 or IPv6 prefix like 198.51.100.53/32 (a bare address is a host route)');

const community = checkedText(fromChecked(parseCommunity), 'a community "asn:value" or a well-known name (no-export, graceful-shutdown, ...)');
const largeCommunity = checkedText(fromChecked(parseLargeCommunity), 'a large community "global:local1:local2"');
const extendedCommunity = checkedText(fromChecked(parseExtendedCommunity), 'an extended community "rt:ASN:N", "soo:ASN:N" or 16 hex digits');

const nextHop = checkedText(
  (s) => {
    if (s === 'self') return null;
    return nextHopReason(s)?.replace(/^expected an IPv4 or IPv6 address/, 'expected "self" or an address') ?? null;
  },
  '"self" (the session\'s local address) or an IPv4/IPv6 address',
).default('self');

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const name = checkedText(
  (s) => (NAME_RE.test(s) ? null : `expected a name of letters, digits, '.', '_' or '-' (at most 64, starting with a letter or digit), got ${show(s)}`),
  'a name: letters, digits, ".", "_", "-"',
);

const text = (description: string) => z.string({ error: (iss) => `expected a string, got ${show(iss.input)}` }).register(z.globalRegistry, { description });

const absolutePath = checkedText((s) => (s.startsWith('/') ? null : `expected an absolute path, got ${show(s)}`), 'an absolute path');

/** Durations: "500ms", "2s", "1m", "1h30m", or a bare number of seconds. */
export function duration(description: string) {
  const refine = (v: string | number, ctx: z.RefinementCtx): void => {
    const r = parseDuration(v);
    if (!r.ok) ctx.addIssue({ code: 'custom', message: r.reason });
  };
  return z
    .union(
      [
        z.number().superRefine(refine).register(z.globalRegistry, { minimum: 0, description: 'seconds' }),
        z.string().superRefine(refine).register(z.globalRegistry, { pattern: DURATION_PATTERN }),
      ],
      { error: (iss) => `expected a duration like 500ms or 2s, got ${show(iss.input)}` },
    )
    .register(z.globalRegistry, { description: `${description} (a duration: 500ms, 2s, 1m, 1h30m, or a number of seconds)` });
}

/** A duration that must be a whole number of seconds within [min, max]. */
function seconds(description: string, min: number, max: number, extra?: (s: number) => string | null) {
  return duration(description).superRefine((v, ctx) => {
    const r = parseDuration(v);
    if (!r.ok) return;
    let reason: string | null = null;
    if (r.ms % 1000 !== 0) reason = `expected whole seconds, got ${show(v)}`;
    else if (r.ms / 1000 < min || r.ms / 1000 > max) reason = `expected ${min}..${max} seconds, got ${show(v)}`;
    else reason = extra ? extra(r.ms / 1000) : null;
    if (reason) ctx.addIssue({ code: 'custom', message: reason });
  });
}

const list = <T extends z.ZodType>(item: T, what: string) =>
  z.array(item, { error: (iss) => `expected a list of ${what}, got ${show(iss.input)}` });

const nonEmptyList = <T extends z.ZodType>(item: T, what: string, one: string) =>
  list(item, what).min(1, { error: `expected at least one ${one}` });

const bool = (description: string) =>
  z.boolean({ error: (iss) => `expected true or false, got ${show(iss.input)}` }).register(z.globalRegistry, { description });

/** z.enum with a message listing the choices. */
function oneOf<const T extends readonly [string, ...string[]]>(values: T, description: string) {
  return z
    .enum(values, { error: (iss) => `expected one of ${values.join(', ')}, got ${show(iss.input)}` })
    .register(z.globalRegistry, { description });
}

const communities = list(community, 'communities').default([]);
const largeCommunities = list(largeCommunity, 'large communities').default([]);
const extendedCommunities = list(extendedCommunity, 'extended communities').default([]);
const med = int(0, 4294967295, 'a MED').register(z.globalRegistry, { description: 'MULTI_EXIT_DISC, 0..4294967295' });
const peerNames = nonEmptyList(name, 'peer names', 'peer name').register(z.globalRegistry, { description: 'Announce only to these peers (default: every peer carrying the family)' });

/** A duration of at least `minMs` (and no more than `maxMs` when given). */
function span(description: string, minMs: number, maxMs?: number) {
  return duration(description).superRefine((v, ctx) => {
    const r = parseDuration(v);
    if (!r.ok) return;
    if (r.ms < minMs) ctx.addIssue({ code: 'custom', message: `expected at least ${minMs}ms, got ${show(v)}` });
    else if (maxMs !== undefined && r.ms > maxMs) ctx.addIssue({ code: 'custom', message: `expected at most ${maxMs / 1000}s, got ${show(v)}` });
  });
}

/**
 * How a session comes back after it ends (bgp/session/fsm.ts, decision 0025):
 * the same keys in `peer_defaults` (with the defaults) and on each peer
 * (absent: the peer_defaults value).
 */
const reconnectDescriptions = {
  connect_retry: 'First delay before dialling again after a failed connection attempt; doubles per failure (an attempt that fails before leaving the host does not count)',
  connect_retry_max: 'Ceiling of the connect_retry backoff',
  idle_hold: 'Hold-down after a session ends with a protocol error (not after a link failure or a Cease from the peer); doubles per error',
  idle_hold_max: 'Ceiling of the idle_hold damping',
  idle_hold_forgive: 'Each this long Established forgives one earlier protocol error',
} as const;
const reconnectField = (k: keyof typeof reconnectDescriptions, minMs: number) => span(reconnectDescriptions[k], minMs, 24 * 3600_000);
const reconnectFields = {
  connect_retry: reconnectField('connect_retry', 100),
  connect_retry_max: reconnectField('connect_retry_max', 100),
  idle_hold: reconnectField('idle_hold', 100),
  idle_hold_max: reconnectField('idle_hold_max', 100),
  idle_hold_forgive: reconnectField('idle_hold_forgive', 1000),
};

// ---------------------------------------------------------------- BFD

/** A BFD interval: 10ms..60s in whole milliseconds (FRR bfdd's range). */
function bfdInterval(description: string) {
  return duration(description).superRefine((v, ctx) => {
    const r = parseDuration(v);
    if (!r.ok) return;
    if (r.ms < BFD_MIN_INTERVAL_MS || r.ms > BFD_MAX_INTERVAL_MS) {
      const hint = typeof v === 'number' || /^\d+(\.\d+)?$/.test(v.trim()) ? ' (a bare number is seconds: write 100ms)' : '';
      ctx.addIssue({ code: 'custom', message: `expected ${BFD_MIN_INTERVAL_MS}ms..${BFD_MAX_INTERVAL_MS / 1000}s, got ${show(v)}${hint}` });
    }
  });
}

/** The BFD settings a peer and the top-level `bfd` section share (docs/bfd.md). */
const bfdFields = {
  min_tx: bfdInterval('Desired minimum interval between our BFD packets once Up (RFC 5880 bfd.DesiredMinTxInterval)'),
  min_rx: bfdInterval("Required minimum interval between the peer's BFD packets (RFC 5880 bfd.RequiredMinRxInterval)"),
  multiplier: int(1, 255, 'a detect multiplier').register(z.globalRegistry, { description: 'Packets missed in a row before the session goes Down (RFC 5880 bfd.DetectMult)' }),
  passive: bool("Passive role (RFC 5880 §6.1): send nothing until the peer's first BFD packet"),
  wait_up: duration(
    'How long an Established BGP session holds its routes back while BFD is not Up; after that they go out without BFD protection, with a warning (0 = do not wait)',
  ).superRefine((v, ctx) => {
    const r = parseDuration(v);
    if (r.ok && r.ms > 3_600_000) ctx.addIssue({ code: 'custom', message: `expected at most 1h, got ${show(v)}` });
  }),
};

const ms = (n: number): string => `${n}ms`;

export const bfdSchema = z
  .strictObject({
    min_tx: bfdFields.min_tx.default(ms(BFD_DEFAULTS.desiredMinTxMs)),
    min_rx: bfdFields.min_rx.default(ms(BFD_DEFAULTS.requiredMinRxMs)),
    multiplier: bfdFields.multiplier.default(BFD_DEFAULTS.detectMult),
    passive: bfdFields.passive.default(false),
    wait_up: bfdFields.wait_up.default(`${BFD_WAIT_UP_MS / 1000}s`),
  })
  .register(z.globalRegistry, { description: 'BFD (RFC 5880/5881/5883) with every peer, with these settings; a peer may override them or say bfd: false. Absent = off unless a peer sets bfd' });

const peerBfdSchema = z
  .union(
    [
      z.boolean(),
      z.strictObject({
        min_tx: bfdFields.min_tx.optional(),
        min_rx: bfdFields.min_rx.optional(),
        multiplier: bfdFields.multiplier.optional(),
        passive: bfdFields.passive.optional(),
        wait_up: bfdFields.wait_up.optional(),
        multihop: bool("RFC 5883 multihop BFD (default: when the BGP session is multihop: multihop above 1, or ttl_security with more than one hop)").optional(),
        max_hops: int(1, 255, 'a hop count')
          .optional()
          .register(z.globalRegistry, { description: 'Multihop only: accept BFD packets that crossed at most this many hops (TTL >= 256 - max_hops); default no check' }),
      }),
    ],
    { error: (iss) => `expected true, false or a mapping of BFD settings (min_tx, min_rx, multiplier, ...), got ${show(iss.input)}` },
  )
  .optional()
  .register(z.globalRegistry, { description: 'BFD with this peer: true (the top-level bfd settings or the defaults), false (off even when the top-level bfd section is present), or settings that override the top-level ones' });

// ---------------------------------------------------------------- sections

export const listenSchema = z
  .union(
    [
      z.literal(false),
      z.strictObject({
        address: z
          .union([address, nonEmptyList(address, 'addresses', 'address')], {
            error: (iss) => `expected an address or a list of addresses, got ${show(iss.input)}`,
          })
          .default('::')
          .register(z.globalRegistry, { description: 'Address, or list of addresses, to accept BGP connections on ("::" takes IPv4 too)' }),
        port: listenPort.default(179).register(z.globalRegistry, { description: 'TCP port (0: any free port, for tests)' }),
      }),
    ],
    { error: (iss) => `expected false (no listener) or a mapping { address, port }, got ${show(iss.input)}` },
  )
  .register(z.globalRegistry, { description: 'Where herald accepts incoming BGP connections; false: no listener (beside BIRD/FRR, or unprivileged: active sessions only)' });

/** An octal file mode as a string ("0660"); YAML would read an unquoted 0660 as decimal. */
const fileMode = (dflt: string) =>
  z
    .string({
      error: (iss) => `expected an octal file mode like "${dflt}", got ${show(iss.input)}${typeof iss.input === 'number' ? ` (quote it: YAML reads ${dflt} as the decimal ${Number(dflt)})` : ''}`,
    })
    .regex(/^0?[0-7]{3}$/, { error: (iss) => `expected an octal file mode like "${dflt}", got ${show(iss.input)}` })
    .default(dflt);

const groupName = z
  .string({ error: (iss) => `expected a group name or numeric gid, got ${show(iss.input)}` })
  .regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/, { error: (iss) => `expected a group name like "herald" or a numeric gid, got ${show(iss.input)}` });
const userName = z
  .string({ error: (iss) => `expected a user name or numeric uid, got ${show(iss.input)}` })
  .regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/, { error: (iss) => `expected a user name like "alice" or a numeric uid, got ${show(iss.input)}` });

export const apiSchema = z
  .strictObject({
    socket: absolutePath.default('/run/herald/herald.sock').register(z.globalRegistry, { description: 'Unix socket of the control API (routes CLI): reads and changes' }),
    mode: fileMode('0660').register(z.globalRegistry, { description: 'File mode of the socket, octal' }),
    group: z
      .union([int(0, 4294967294, 'a group id'), groupName])
      .optional()
      .register(z.globalRegistry, { description: 'Group that owns the socket (name or numeric gid), so its members can use `routes`; absent: herald’s own group' }),
    readonly_socket: z
      .union([absolutePath, z.literal(false)], { error: (iss) => `expected an absolute path or false, got ${show(iss.input)}` })
      .optional()
      .register(z.globalRegistry, { description: 'Second socket that answers reads only (every POST: 403 read-only); default herald-ro.sock beside `socket`; false: none' }),
    readonly_mode: fileMode('0666').register(z.globalRegistry, { description: 'File mode of the read-only socket, octal' }),
    operators: z
      .strictObject({
        users: z.array(z.union([int(0, 4294967294, 'a user id'), userName])).default([]).register(z.globalRegistry, { description: 'Users (names or uids) who may change state' }),
        groups: z.array(z.union([int(0, 4294967294, 'a group id'), groupName])).default([]).register(z.globalRegistry, { description: 'Groups (names or gids) whose members may change state' }),
      })
      .optional()
      .register(z.globalRegistry, { description: 'On `socket`, only these users and groups (and root) may change state, checked with SO_PEERCRED; absent: whoever can connect' }),
  })
  .register(z.globalRegistry, { description: 'The control API' });

/** BIRD's receive-limit actions. */
const limitAction = (dflt: 'block' | 'restart') =>
  oneOf(['block', 'restart', 'disable'] as const, 'block: drop routes over the limit, keep the session; restart: Cease, then reconnect after restart_after; disable: Cease, stay down until enabled').default(dflt);

/** A size in bytes: a number, or a number with B, KiB, MiB or GiB. */
export const BYTE_SIZE = /^(\d+)\s*(B|KiB|MiB|GiB)?$/;
const byteSize = z
  .union([int(1, 2 ** 40, 'a size in bytes'), z.string().regex(BYTE_SIZE)], {
    error: (iss) => `expected a size like 65536, "512KiB" or "64MiB", got ${show(iss.input)}`,
  })
  .register(z.globalRegistry, { description: 'bytes, or a number with B, KiB, MiB or GiB' });

const maxPrefixesSchema = z.strictObject({
  limit: int(1, 4294967295, 'a count').register(z.globalRegistry, { description: 'Hold at most this many received prefixes' }),
  warning: int(1, 4294967295, 'a count').optional().register(z.globalRegistry, { description: 'Log and emit an event once when more are held (default: 90% of limit)' }),
  action: limitAction('restart'),
  restart_after: duration('With action restart: how long the session stays down').default('1m'),
});

export const importLimitsSchema = z
  .strictObject({
    max_as_path: int(1, 1_000_000, 'a count').default(1000).register(z.globalRegistry, { description: 'A route whose AS_PATH holds more AS numbers is not stored' }),
    max_route_bytes: byteSize.default(65536).register(z.globalRegistry, { description: "A route whose attributes take more heap (estimate) is not stored" }),
    max_bytes: byteSize.default('64MiB').register(z.globalRegistry, { description: "The peer's Adj-RIB-In holds at most this much heap (estimate), keys included" }),
    action: limitAction('block'),
    restart_after: duration('With action restart: how long the session stays down').default('1m'),
  })
  .default({ max_as_path: 1000, max_route_bytes: 65536, max_bytes: '64MiB', action: 'block', restart_after: '1m' })
  .register(z.globalRegistry, { description: 'Caps on what a peer can make herald hold (issue 12); applied with import all and none' });

export const peerSchema = z
  .strictObject({
    name: name.meta({ description: 'Unique peer name, used in logs, the API and metrics' }),
    address: address.meta({ description: "The neighbour's address (IPv4 or IPv6)" }),
    template: name.optional().register(z.globalRegistry, { description: 'Take every key this peer does not set from templates.NAME (decision 0028)' }),
    asn: asn.meta({ description: "The neighbour's AS" }),
    port: port.default(179).register(z.globalRegistry, { description: 'TCP port to connect to' }),
    local_address: address.optional().register(z.globalRegistry, { description: 'Source address of the session (same family as address)' }),
    local_asn: asn.optional().register(z.globalRegistry, { description: 'Our AS on this session, when not the global asn' }),
    passive: bool('Never connect; wait for the neighbour').default(false),
    hold_time: seconds('Proposed hold time', 0, 65535, (s) => (s === 1 || s === 2 ? `expected 0 or at least 3 seconds, got ${s} (RFC 4271 §4.2)` : null)).default(90),
    keepalive: seconds('Keepalive interval (default: a third of hold_time)', 1, 21845).optional(),
    connect_retry: reconnectFields.connect_retry.optional(),
    connect_retry_max: reconnectFields.connect_retry_max.optional(),
    idle_hold: reconnectFields.idle_hold.optional(),
    idle_hold_max: reconnectFields.idle_hold_max.optional(),
    idle_hold_forgive: reconnectFields.idle_hold_forgive.optional(),
    password: z
      .string({ error: (iss) => `expected a string (quote the password), got ${iss.input === null ? 'null' : typeof iss.input}` })
      .min(1, { error: 'expected a non-empty password' })
      .max(80, { error: 'expected a password of at most 80 characters (RFC 2385 TCP MD5 key)' })
      .optional()
      .register(z.globalRegistry, { description: 'TCP MD5 signature key (RFC 2385); never logged or shown' }),
    multihop: int(1, 255, 'a TTL').optional().register(z.globalRegistry, { description: 'eBGP multihop: TTL of our packets' }),
    ttl_security: z
      .union([z.boolean(), int(1, 254, 'a hop count')], {
        error: (iss) => `expected true or a hop count 1..254, got ${show(iss.input)}`,
      })
      .optional()
      .register(z.globalRegistry, { description: 'GTSM (RFC 5082): true = directly connected, or the most hops away the neighbour may be' }),
    families: list(oneOf(['ipv4', 'ipv6'] as const, 'address family'), 'families (ipv4, ipv6)')
      .min(1, { error: 'expected at least one family' })
      .optional()
      .register(z.globalRegistry, { description: 'Address families to negotiate (default: the family of address)' }),
    extended_next_hop: bool('RFC 8950: IPv4 routes with an IPv6 next hop (IPv6 sessions)').default(false),
    max_prefixes: z
      .union([int(1, 4294967295, 'a count'), maxPrefixesSchema], {
        error: (iss) => `expected a count or a mapping with limit, warning, action, restart_after, got ${show(iss.input)}`,
      })
      .optional()
      .register(z.globalRegistry, { description: 'Hold at most this many received prefixes (RFC 4486); a number, or limit/warning/action/restart_after' }),
    import: oneOf(['all', 'none'] as const, 'Keep received routes (all) or only count them (none)').default('none'),
    import_limits: importLimitsSchema,
    enforce_first_as: bool("RFC 4271 §6.3: an eBGP peer's routes must start with its AS (off for route servers that do not prepend it)").default(true),
    next_hop_self: z
      .strictObject({
        ipv4: familyAddress('ipv4').optional(),
        ipv6: familyAddress('ipv6').optional(),
      })
      .optional()
      .register(z.globalRegistry, { description: "Next hop for 'self' routes instead of the session's local address" }),
    graceful_restart: z
      .union([z.literal(false), seconds('restart time', 1, 4095)], {
        error: (iss) => `expected a restart time in whole seconds 1..4095 or false, got ${show(iss.input)}`,
      })
      .optional()
      .register(z.globalRegistry, {
        description:
          'Graceful Restart (RFC 4724) on this session with this restart time, or false for none; absent: on with the top-level graceful_restart.restart_time when that section is present, else off',
      }),
    bfd: peerBfdSchema,
    description: text('Free text').optional(),
    shutdown: bool('Administratively down: configured but not connected').default(false),
  })
  .register(z.globalRegistry, { description: 'A BGP neighbour' });

// ---------------------------------------------------------------- peer templates (issue 10, decision 0028)

/** Keys a template may not hold: they identify one peer, or would nest templates. */
const NOT_IN_TEMPLATE = new Set(['name', 'address', 'template']);

/**
 * A template: any peer key except name, address and template, none
 * required, no defaults of its own (a peer's defaults apply after the
 * merge, so a template never hides one). Built from peerSchema's shape, so
 * a key added to peers is at once allowed in templates.
 */
export const templateSchema = z
  .strictObject(
    Object.fromEntries(
      Object.entries(peerSchema.shape)
        .filter(([k]) => !NOT_IN_TEMPLATE.has(k))
        .map(([k, v]) => {
          const meta = z.globalRegistry.get(v);
          const inner = v instanceof z.ZodDefault ? (v.unwrap() as z.ZodType) : (v as z.ZodType);
          return [k, (meta ? inner.meta(meta) : inner).optional()];
        }),
    ),
  )
  .register(z.globalRegistry, { description: 'Peer settings shared by the peers that name this template' });

export const templatesSchema = z
  .record(name, templateSchema, { error: (iss) => `expected a mapping of template names to peer settings, got ${show(iss.input)}` })
  .default({})
  .register(z.globalRegistry, { description: 'Named peer settings; a peer takes them with template: NAME. Also a place for YAML anchors (<<: *tor)' });

// ---------------------------------------------------------------- end of peer templates

const checkTimeout = duration('Timeout of this check (default: the service timeout)').optional();

const tcpCheck = z.strictObject({
  address: address.meta({ description: 'Address to connect to' }),
  port: port,
  timeout: checkTimeout,
});

const statusCodes = z
  .union([int(100, 599, 'an HTTP status'), list(int(100, 599, 'an HTTP status'), 'HTTP status codes').min(1)], {
    error: (iss) => `expected an HTTP status or a list of them, got ${show(iss.input)}`,
  })
  .default(200)
  .register(z.globalRegistry, { description: 'Healthy status code(s)' });

const regexText = checkedText((s) => {
  try {
    new RegExp(s);
    return null;
  } catch (e) {
    return `invalid regular expression: ${(e as Error).message}`;
  }
}, 'a regular expression (JavaScript syntax)');

const httpFields = {
  method: oneOf(['GET', 'HEAD'] as const, 'Request method').default('GET'),
  status: statusCodes,
  body: text('Substring the response body must contain').optional(),
  body_regex: regexText.optional(),
  host: text('Host header (default: from the URL)').optional(),
  headers: z
    .record(z.string(), z.string({ error: (iss) => `expected a string, got ${show(iss.input)}` }), {
      error: (iss) => `expected a mapping of header names to values, got ${show(iss.input)}`,
    })
    .default({})
    .register(z.globalRegistry, { description: 'Extra request headers' }),
  timeout: checkTimeout,
};

function urlText(scheme: 'http' | 'https') {
  return checkedText((s) => {
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      return `expected a URL like ${scheme}://127.0.0.1/health, got ${show(s)}`;
    }
    if (u.protocol !== `${scheme}:`) return `expected an ${scheme}:// URL in an ${scheme} check, got ${show(s)}`;
    return null;
  }, `an ${scheme}:// URL`);
}

const httpCheck = z.strictObject({ url: urlText('http'), ...httpFields });
const httpsCheck = z.strictObject({
  url: urlText('https'),
  ...httpFields,
  sni: text('TLS server name (default: the Host header or URL host)').optional(),
  verify_tls: bool('Verify the server certificate').default(true),
});

const dnsName = checkedText(
  (s) => (/^(\.|([A-Za-z0-9_*]([A-Za-z0-9_-]{0,62})?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})?)*\.?)$/.test(s) && s.length <= 254 ? null : `expected a domain name, got ${show(s)}`),
  'a domain name',
);

const dnsCheck = z.strictObject({
  server: address.meta({ description: 'DNS server to query' }),
  port: port.default(53),
  protocol: oneOf(['udp', 'tcp'] as const, 'Transport').default('udp'),
  query: dnsName,
  type: oneOf(DNS_TYPES, 'Record type to ask for').default('A'),
  rcode: oneOf(DNS_RCODES, 'Expected response code').default('NOERROR'),
  answer: text('Text one answer record must contain').optional(),
  timeout: checkTimeout,
});

const execCheck = z.strictObject({
  command: z
    .union([z.string().min(1), list(z.string(), 'arguments').min(1)], {
      error: (iss) => `expected a shell command string or a list of arguments, got ${show(iss.input)}`,
    })
    .register(z.globalRegistry, { description: 'A string runs under /bin/sh -c; a list is argv. Exit 0 = healthy' }),
  env: z.record(z.string(), z.string()).default({}).register(z.globalRegistry, { description: 'Extra environment variables' }),
  cwd: absolutePath.optional(),
  timeout: checkTimeout,
});

export const CHECK_KINDS = ['tcp', 'http', 'https', 'dns', 'exec', 'maintenance_file'] as const;

export const checkSchema = z
  .strictObject({
    tcp: tcpCheck.optional().register(z.globalRegistry, { description: 'Healthy when a TCP connection opens' }),
    http: httpCheck.optional().register(z.globalRegistry, { description: 'HTTP request; redirects are not followed' }),
    https: httpsCheck.optional().register(z.globalRegistry, { description: 'HTTPS request; redirects are not followed' }),
    dns: dnsCheck.optional().register(z.globalRegistry, { description: 'DNS query' }),
    exec: execCheck.optional().register(z.globalRegistry, { description: 'Run a program; the timeout kills its process group' }),
    maintenance_file: absolutePath.optional().register(z.globalRegistry, { description: 'While this file exists the service is administratively down' }),
  })
  .superRefine((c, ctx) => {
    const kinds = CHECK_KINDS.filter((k) => c[k] !== undefined);
    if (kinds.length === 0) ctx.addIssue({ code: 'custom', message: `expected one check kind: ${CHECK_KINDS.join(', ')}` });
    if (kinds.length > 1)
      ctx.addIssue({ code: 'custom', message: `expected one check kind per list item, got ${kinds.join(' and ')} (write them as separate items)` });
  })
  .register(z.globalRegistry, { description: 'One health check: exactly one of the kinds', minProperties: 1, maxProperties: 1 });

export const whenDownSchema = z
  .strictObject({
    withdraw: bool('Withdraw the prefixes (the default)').optional(),
    prepend: int(1, 16, 'a prepend count').optional().register(z.globalRegistry, { description: 'Stay announced with our AS prepended this many extra times' }),
    med: med.optional(),
    communities: list(community, 'communities').optional(),
    large_communities: list(largeCommunity, 'large communities').optional(),
    graceful_shutdown: bool('Stay announced with GRACEFUL_SHUTDOWN 65535:0 (RFC 8326)').optional(),
  })
  .superRefine((w, ctx) => {
    const worse = (['prepend', 'med', 'communities', 'large_communities', 'graceful_shutdown'] as const).filter(
      (k) => w[k] !== undefined && w[k] !== false,
    );
    if (w.withdraw === true && worse.length > 0)
      ctx.addIssue({ code: 'custom', message: `withdraw cannot be combined with ${worse.join(', ')}: a withdrawn route carries no attributes` });
    if (w.withdraw !== true && worse.length === 0)
      ctx.addIssue({ code: 'custom', message: 'expected withdraw: true, or how to stay announced: prepend, med, communities, large_communities or graceful_shutdown' });
  })
  .default({ withdraw: true })
  .register(z.globalRegistry, { description: 'While the service is down: withdraw (default), or stay announced as a worse path' });

// ---------------------------------------------------------------- service addresses on the host (issue 10, decision 0029)

const ifName = checkedText(
  (s) => (/^[^\s/:]{1,15}$/.test(s) ? null : `expected an interface name (at most 15 characters, no spaces, '/' or ':'), got ${show(s)}`),
  'an interface name like lo or dummy0',
);

export const hostAddressesSchema = z
  .strictObject({
    mode: oneOf(['add', 'verify'] as const, 'add: put the addresses on the interface at start, remove them at stop; verify: only check they are there'),
    interface: ifName.default('lo').register(z.globalRegistry, { description: 'Interface that holds the addresses' }),
  })
  .optional()
  .register(z.globalRegistry, { description: "The service's /32 and /128 addresses on this host: added and removed by herald, or verified; a missing address fails the service. Absent: herald leaves them alone" });

// ---------------------------------------------------------------- end of service addresses

const routeFields = {
  next_hop: nextHop,
  communities,
  large_communities: largeCommunities,
  extended_communities: extendedCommunities,
  med: med.optional(),
  peers: peerNames.optional(),
  description: text('Free text').optional(),
};

export const serviceSchema = z
  .strictObject({
    name: name.meta({ description: 'Unique service name' }),
    prefixes: nonEmptyList(prefix, 'prefixes', 'prefix').register(z.globalRegistry, { description: 'Prefixes announced while the service is healthy' }),
    checks: nonEmptyList(checkSchema, 'checks', 'check'),
    combine: oneOf(['all', 'any'] as const, 'Healthy when all checks pass, or any').default('all'),
    interval: duration('Time between probes').default('2s'),
    fast_interval: duration('Time between probes while a state change is being counted (default: interval)').optional(),
    timeout: duration('Default check timeout (default: the smaller of 1s and interval)').optional(),
    rise: int(1, 1000, 'a count').default(2).register(z.globalRegistry, { description: 'Consecutive successes to become healthy' }),
    fall: int(1, 1000, 'a count').default(3).register(z.globalRegistry, { description: 'Consecutive failures to become unhealthy' }),
    jitter: duration('Random delay added to each probe (default: interval / 10)').optional(),
    when_down: whenDownSchema,
    host_addresses: hostAddressesSchema,
    ...routeFields,
  })
  .register(z.globalRegistry, { description: 'A health-gated service' });

export const staticSchema = z
  .strictObject({
    prefix: prefix,
    ...routeFields,
  })
  .register(z.globalRegistry, { description: 'A route announced unconditionally' });

export const loggingSchema = z.strictObject({
  level: oneOf(LOG_LEVELS, 'Lowest level logged').default('info'),
  format: oneOf(['json', 'pretty'] as const, 'json: one pino JSON object per line').default('json'),
});

export const peerDefaultsSchema = z
  .strictObject({
    connect_retry: reconnectFields.connect_retry.default('1s'),
    connect_retry_max: reconnectFields.connect_retry_max.default('30s'),
    idle_hold: reconnectFields.idle_hold.default('5s'),
    idle_hold_max: reconnectFields.idle_hold_max.default('5m'),
    idle_hold_forgive: reconnectFields.idle_hold_forgive.default('2m'),
  })
  .register(z.globalRegistry, { description: 'Reconnect and damping settings every peer uses unless it sets its own' });

export const gracefulRestartSchema = z
  .strictObject({
    restart_time: seconds('Restart Time advertised to every peer (RFC 4724 §3): how long a router keeps our routes after we stop for a restart', 1, 4095).default(60),
    on_stop: oneOf(['drain', 'restart'] as const, 'What SIGTERM does: drain (withdraw, then Cease) or restart (stop without withdrawing; routers keep our routes for restart_time)').default('drain'),
    notification: bool('RFC 8538: offer the N bit (graceful NOTIFICATION and Hard Reset); routers then also keep our routes when their hold timer expires').default(false),
  })
  .register(z.globalRegistry, { description: 'Graceful Restart (RFC 4724) on every peer; absent = off unless a peer sets graceful_restart' });

export const drainSchema = z.strictObject({
  period: duration('On shutdown or drain: announce GRACEFUL_SHUTDOWN this long before withdrawing').default('0s'),
  message: z
    .string({ error: (iss) => `expected a string, got ${show(iss.input)}` })
    .refine((s) => Buffer.byteLength(s, 'utf8') <= 128, { error: 'expected a message of at most 128 bytes (RFC 9003 §2)' })
    .default('herald shutting down')
    .register(z.globalRegistry, { description: 'Shutdown communication sent with Cease/Administrative Shutdown (RFC 9003)' }),
});

export const metricsSchema = z
  .strictObject({
    address: address.default('127.0.0.1'),
    port: listenPort.default(9180),
    path: checkedText((s) => (s.startsWith('/') ? null : `expected a path starting with /, got ${show(s)}`), 'an HTTP path').default('/metrics'),
  })
  .register(z.globalRegistry, { description: 'Prometheus metrics listener; absent = off' });

export const lxdRulesSchema = z
  .strictObject({
    ovn_networks: bool('OVN networks: subnet (NAT off) or NAT address (NAT on) via the OVN router').default(true),
    routes_external: bool("instances' NIC ipv4/ipv6.routes.external").default(true),
    nic_addresses: bool("instances' static NIC ipv4/ipv6.address as /32, /128").default(false),
    forwards: bool("network forwards' listen addresses").default(true),
    load_balancers: bool("OVN load balancers' listen addresses").default(true),
    bridge_subnets: bool("managed bridges' own subnets (NAT off)").default(false),
    user_routes: bool('extra prefixes from the instance key user.herald.routes').default(true),
  })
  .register(z.globalRegistry, { description: 'Which LXD objects are announced' });

export const lxdSchema = z
  .strictObject({
    socket: absolutePath
      .optional()
      .register(z.globalRegistry, { description: 'LXD API socket; absent = the first existing of the snap, Debian and Incus default paths' }),
    project: text('Only this LXD project; absent = all projects').optional(),
    url: checkedText((s) => (/^https:\/\/[^/]+\/?$/.test(s) ? null : `expected an https://host:port URL, got ${show(s)}`), 'an https://host:port URL')
      .optional()
      .register(z.globalRegistry, { description: 'Remote LXD over HTTPS (TLS 1.3) instead of the socket; needs client_cert, client_key, server_cert' }),
    client_cert: absolutePath.optional().register(z.globalRegistry, { description: 'PEM client certificate (trusted by LXD)' }),
    client_key: absolutePath.optional().register(z.globalRegistry, { description: 'PEM client key' }),
    server_cert: absolutePath.optional().register(z.globalRegistry, { description: "PEM server certificate, pinned: only this certificate is accepted" }),
    uplinks: list(name, 'uplink network names').default([]).register(z.globalRegistry, { description: 'Announce OVN networks on these uplinks; empty = any' }),
    announce_from: oneOf(['all-members', 'active-chassis'] as const, 'Who announces routes via an OVN router: every member, or the one hosting its active chassis').default('all-members'),
    chassis_name: checkedText((s) => (/^\S{1,253}$/.test(s) ? null : `expected a chassis host name without spaces, got ${show(s)}`), 'a chassis host name')
      .optional()
      .register(z.globalRegistry, { description: "This host's OVN chassis name as /1.0/networks/NAME/state reports ovn.chassis (OVS external_ids:hostname), for announce_from: active-chassis; absent = the LXD server name" }),
    ovn_sb: checkedText((s) => {
      const r = parseOvsdbRemote(s);
      return typeof r === 'string' ? r : null;
    }, 'OVSDB connection methods (unix:PATH, tcp:HOST:PORT, comma separated)')
      .optional()
      .register(z.globalRegistry, { description: "OVN southbound database to follow gateway moves from (unix:PATH or tcp:HOST:PORT, several comma separated for a clustered database), for announce_from: active-chassis; absent = gateway moves are seen at LXD events and resyncs only" }),
    rules: lxdRulesSchema.prefault({}),
    coalesce: duration('Wait after an LXD event before re-reading, gathering bursts').default('20ms'),
    resync_interval: duration('Full re-read period (0 = off)').default('60s'),
    unreachable_withdraw_after: duration('Withdraw the LXD routes after LXD has been unreachable this long (0 = never)').default('10m'),
    check_interval: duration('Time between probes of an instance\'s user.herald.check').default('2s'),
    check_timeout: duration('Timeout of one user.herald.check probe (default: the smaller of 1s and check_interval)').optional(),
    check_rise: int(1, 1000, 'a count').default(2).register(z.globalRegistry, { description: 'Passing user.herald.check rounds in a row before an instance\'s routes are announced' }),
    check_fall: int(1, 1000, 'a count').default(2).register(z.globalRegistry, { description: 'Failing user.herald.check rounds in a row before an instance\'s routes are withdrawn' }),
  })
  .superRefine((v, ctx) => {
    if (v.chassis_name !== undefined && v.announce_from !== 'active-chassis') {
      ctx.addIssue({ code: 'custom', path: ['chassis_name'], message: 'chassis_name is only used with announce_from: active-chassis' });
    }
    if (v.ovn_sb !== undefined && v.announce_from !== 'active-chassis') {
      ctx.addIssue({ code: 'custom', path: ['ovn_sb'], message: 'ovn_sb is only used with announce_from: active-chassis' });
    }
    if (v.url === undefined) {
      for (const k of ['client_cert', 'client_key', 'server_cert'] as const) {
        if (v[k] !== undefined) ctx.addIssue({ code: 'custom', path: [k], message: `${k} is only used with url` });
      }
      return;
    }
    if (v.socket !== undefined) ctx.addIssue({ code: 'custom', path: ['socket'], message: 'set either socket or url, not both' });
    for (const k of ['client_cert', 'client_key', 'server_cert'] as const) {
      if (v[k] === undefined) ctx.addIssue({ code: 'custom', path: [k], message: `url needs ${k}` });
    }
  })
  .register(z.globalRegistry, { description: 'LXD / OVN / Incus route source; absent = off' });

export const configSchema = z
  .strictObject({
    router_id: routerId,
    asn: asn.meta({ description: 'Our AS number' }),
    listen: listenSchema.prefault({}),
    api: apiSchema.prefault({}),
    // issue 10 (operations): state directory and peer templates
    state_dir: absolutePath.default('/var/lib/herald').register(z.globalRegistry, { description: 'Directory for state kept across restarts (drains, addresses herald added)' }),
    templates: templatesSchema,
    // end of issue 10 keys
    peers: list(peerSchema, 'peers').default([]),
    services: list(serviceSchema, 'services').default([]),
    static: list(staticSchema, 'static routes').default([]),
    logging: loggingSchema.prefault({}),
    drain: drainSchema.prefault({}),
    peer_defaults: peerDefaultsSchema.prefault({}),
    graceful_restart: gracefulRestartSchema.optional(),
    bfd: bfdSchema.optional(),
    metrics: metricsSchema.optional(),
    lxd: lxdSchema.optional(),
  })
  .register(z.globalRegistry, { title: 'herald configuration', description: 'herald.yaml: herald daemon configuration' });

/** The file's shape after validation and constant defaults (snake_case). */
export type RawConfig = z.output<typeof configSchema>;
export type RawPeer = z.output<typeof peerSchema>;
export type RawBfd = z.output<typeof bfdSchema>;
export type RawService = z.output<typeof serviceSchema>;
export type RawCheck = z.output<typeof checkSchema>;
export type RawStatic = z.output<typeof staticSchema>;
