/**
 * Support for the random/mutated-message tests: the one rule they check
 * (decoding may only return a message or throw a BgpError with a NOTIFICATION
 * code 1..8), the seed messages that mutations start from (real UPDATEs from
 * the MRT corpus and encoded fixtures of every message type), the mutation
 * operators, and the crasher files kept as regressions.
 *
 * Crasher file format (test/fuzz/crashers/*.hex):
 *
 *   # free text: what it is, what went wrong, when it was found
 *   target: decode | framer | pipeline
 *   ctx: as4=0 addpath=0 extmsg=0 ibgp=0
 *   <hex octets, whitespace and line breaks allowed>
 */
import { readdirSync, readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BgpError } from '../../bgp/wire/errors.js';
import { DEFAULT_CONTEXT, IPV4_UNICAST, IPV6_UNICAST, familyKey, withContext, type CodecContext, type FamilyKey } from '../../bgp/wire/context.js';
import { decodeMessage, encodeMessage } from '../../bgp/wire/messages/index.js';
import { Framer } from '../../bgp/wire/framer.js';
import { MAX_EXTENDED_MESSAGE_LEN, MAX_MESSAGE_LEN } from '../../bgp/wire/iana.js';
import { parsePrefix } from '../../bgp/wire/prefix.js';
import type { BgpMessage } from '../../bgp/wire/types.js';
import { mrtRecords, readDump } from '../corpus/mrt.js';
import { corpusFile } from '../corpus/corpus-support.js';

const here = dirname(fileURLToPath(import.meta.url));
export const CRASHER_DIR = join(here, 'crashers');

/** Codec context knobs the fuzzers vary. */
export interface CtxFlags {
  as4: boolean;
  addPath: boolean;
  extMsg: boolean;
  ibgp: boolean;
}

const FAMILIES: ReadonlySet<FamilyKey> = new Set([IPV4_UNICAST, IPV6_UNICAST, familyKey(1, 2), familyKey(2, 2)]);

const contexts = new Map<number, CodecContext>();

/** Build a codec context from the knobs (one object per combination, reused). */
export function makeContext(f: CtxFlags): CodecContext {
  const key = (f.as4 ? 1 : 0) | (f.addPath ? 2 : 0) | (f.extMsg ? 4 : 0) | (f.ibgp ? 8 : 0);
  let ctx = contexts.get(key);
  if (ctx === undefined) {
    ctx = buildContext(f);
    contexts.set(key, ctx);
  }
  return ctx;
}

function buildContext(f: CtxFlags): CodecContext {
  const fams = f.addPath ? FAMILIES : new Set<FamilyKey>();
  return withContext(DEFAULT_CONTEXT, {
    as4: f.as4,
    ibgp: f.ibgp,
    extendedMessage: f.extMsg,
    addPathReceive: fams,
    addPathSend: fams,
    extendedNextHop: new Set([IPV4_UNICAST]),
  });
}

/** True when `e` is an error a decoder is allowed to throw. */
export function isAllowedError(e: unknown): e is BgpError {
  return e instanceof BgpError && Number.isInteger(e.code) && e.code >= 1 && e.code <= 8 && Number.isInteger(e.subcode) && e.data instanceof Uint8Array;
}

/** Describe an unexpected exception for a failure message. */
export function describeThrow(e: unknown): string {
  if (e instanceof Error) return `${e.constructor.name}: ${e.message}\n${e.stack ?? ''}`;
  return `non-Error thrown: ${String(e)}`;
}

/** Decode one frame; return the message, or null after an allowed BgpError; rethrow anything else. */
export function decodeOrBgpError(frame: Uint8Array, ctx: CodecContext): BgpMessage | null {
  try {
    return decodeMessage(frame, ctx);
  } catch (e) {
    if (isAllowedError(e)) return null;
    throw e;
  }
}

/**
 * Check one input (the fuzzers' oracle): decode may return or throw a
 * BgpError; a message without RFC 7606 errors must round-trip:
 *
 *   m1 = decode(x), b2 = encode(m1), m2 = decode(b2)   (must not throw)
 *   from the second encoding on, encode . decode is the identity (a fixed point)
 *   m1 == m2 up to the codec's documented normalisations (`comparable`)
 */
export function checkDecode(frame: Uint8Array, f: CtxFlags): void {
  const ctx = makeContext(f);
  let msg: BgpMessage | null;
  try {
    msg = decodeOrBgpError(frame, ctx);
  } catch (e) {
    throw new Error(`decodeMessage threw a non-BgpError: ${describeThrow(e)}\n--- crasher file ---\n${crasherText('decode', f, frame)}`);
  }
  if (msg === null || (msg.type === 'update' && msg.errors !== undefined)) return;
  const fail = (what: string): never => {
    throw new Error(`${what}\n--- crasher file ---\n${crasherText('decode', f, frame)}`);
  };
  let b2: Uint8Array;
  try {
    b2 = encodeMessage(msg, ctx);
  } catch (e) {
    if (isAllowedError(e)) return; // e.g. re-encoding grew past the size limit
    return fail(`encoding a decoded ${msg.type} threw: ${describeThrow(e)}`);
  }
  let again: BgpMessage;
  try {
    again = decodeMessage(b2, ctx);
  } catch (e) {
    return fail(`decode(encode(decode(x))) threw: ${describeThrow(e)}`);
  }
  if (again.type === 'update' && again.errors !== undefined) fail(`decode(encode(decode(x))) has errors: ${again.errors.map((x) => x.message).join('; ')}`);
  // Joining adjacent AS_SEQUENCE segments of a reconstructed path (2-octet
  // context) takes one more pass; from the second encoding on it is a fixed point.
  const b3 = encodeMessage(again, ctx);
  const third = decodeMessage(b3, ctx);
  const b4 = encodeMessage(third, ctx);
  if (!isDeepStrictEqual(b4, b3)) fail(`encode is not a fixed point: encode(decode(b)) != b\n  b:  ${toHex(b3)}\n  b': ${toHex(b4)}`);
  if (!isDeepStrictEqual(comparable(third, f), comparable(again, f))) fail(`decode(encode(m)) != m for a normalised m\n  m:  ${show(again)}\n  m': ${show(third)}`);
  if (!isDeepStrictEqual(comparable(again, f), comparable(msg, f))) {
    fail(`decode(encode(decode(x))) != decode(x)\n  first:  ${show(comparable(msg, f))}\n  second: ${show(comparable(again, f))}`);
  }
}

/**
 * What must survive a round trip, with the codec's documented
 * normalisations (test/fuzz/roundtrip.test.ts header) applied: unknown
 * optional transitive attributes come back with the Partial bit set and in
 * type order, non-transitive unknown ones are not passed on (RFC 4271 §5);
 * LOCAL_PREF only between iBGP peers (§5.1.5); AS4_PATH / AS4_AGGREGATOR are
 * derived by the encoder toward a 2-octet speaker and never sent to a
 * 4-octet one (RFC 6793 §4.2.2), so their raw copies and, in a 2-octet
 * context, the reconstructed AS_PATH / AGGREGATOR are compared only after
 * the first pass has normalised them (the fixed-point check covers them).
 */
function comparable(m: BgpMessage, f: CtxFlags): unknown {
  if (m.type !== 'update') return m;
  const { as4Path: _p, as4Aggregator: _a, unknown, localPref, asPath, aggregator, ...rest } = m.attributes;
  const unk = (unknown ?? [])
    .filter((u) => (u.flags & 0x40) !== 0)
    .map((u) => ({ flags: (u.flags & 0xc0) | 0x20, type: u.type, value: u.value }))
    .sort((x, y) => x.type - y.type);
  const attrs: Record<string, unknown> = { ...rest };
  if (unk.length) attrs['unknown'] = unk;
  if (f.ibgp && localPref !== undefined) attrs['localPref'] = localPref;
  if (f.as4 && asPath !== undefined) attrs['asPath'] = asPath;
  if (f.as4 && aggregator !== undefined) attrs['aggregator'] = aggregator;
  return { ...m, attributes: attrs };
}

const show = (m: unknown): string =>
  JSON.stringify(m, (_k, v: unknown) => (v instanceof Uint8Array ? `hex:${Buffer.from(v).toString('hex')}` : v)).slice(0, 1500);

/**
 * Feed a byte stream to a Framer in the given chunk sizes and decode every
 * frame it cuts. Returns how many frames came out; rethrows anything but a
 * BgpError.
 */
export function frameAndDecode(stream: Uint8Array, cuts: number[], ctx: CodecContext): number {
  const framer = new Framer(ctx.extendedMessage ? MAX_EXTENDED_MESSAGE_LEN : MAX_MESSAGE_LEN);
  let frames = 0;
  let pos = 0;
  let i = 0;
  try {
    while (pos < stream.length) {
      const n = Math.max(1, cuts.length > 0 ? cuts[i++ % cuts.length]! : stream.length);
      framer.push(stream.subarray(pos, pos + n));
      pos += n;
      for (let f = framer.next(); f !== null; f = framer.next()) {
        frames++;
        decodeOrBgpError(f, ctx);
      }
    }
  } catch (e) {
    if (!isAllowedError(e)) throw e;
  }
  return frames;
}

/** A seed message with the context it is valid in. */
export interface Seed {
  name: string;
  frame: Uint8Array;
  ctx: CtxFlags;
}

const v4 = (s: string) => parsePrefix(s)!;

/** Encoded fixtures of every message type, covering every attribute herald knows. */
export function fixtureSeeds(): Seed[] {
  const seeds: Seed[] = [];
  const add = (name: string, msg: BgpMessage, ctx: CtxFlags): void => {
    seeds.push({ name, frame: encodeMessage(msg, makeContext(ctx)), ctx });
  };
  const plain: CtxFlags = { as4: true, addPath: false, extMsg: false, ibgp: true };
  const old: CtxFlags = { as4: false, addPath: false, extMsg: false, ibgp: false };
  const ap: CtxFlags = { as4: true, addPath: true, extMsg: false, ibgp: true };
  add(
    'open',
    {
      type: 'open',
      version: 4,
      myAs: 23456,
      holdTime: 90,
      bgpId: '192.0.2.1',
      capabilities: [
        { code: 1, kind: 'multiprotocol', afi: 1, safi: 1 },
        { code: 1, kind: 'multiprotocol', afi: 2, safi: 1 },
        { code: 2, kind: 'route-refresh' },
        { code: 5, kind: 'extended-next-hop', entries: [{ afi: 1, safi: 1, nextHopAfi: 2 }] },
        { code: 6, kind: 'extended-message' },
        { code: 64, kind: 'graceful-restart', restarting: true, notification: true, restartTime: 120, families: [{ afi: 1, safi: 1, forwardingPreserved: true }] },
        { code: 65, kind: 'four-octet-as', asn: 4200000001 },
        { code: 69, kind: 'add-path', families: [{ afi: 1, safi: 1, sendReceive: 3 }] },
        { code: 70, kind: 'enhanced-route-refresh' },
        { code: 73, kind: 'fqdn', hostname: 'anycast-1', domain: 'example.net' },
        { code: 200, kind: 'unknown', value: Uint8Array.of(1, 2, 3) },
      ],
      otherParams: [],
    },
    plain,
  );
  add('notification-shutdown', { type: 'notification', code: 6, subcode: 2, data: new Uint8Array([9, ...new TextEncoder().encode('maintenance')]) }, plain);
  add('notification-update', { type: 'notification', code: 3, subcode: 11, data: Uint8Array.of(0x40, 2, 0) }, plain);
  add('keepalive', { type: 'keepalive' }, plain);
  add('route-refresh', { type: 'route-refresh', afi: 2, safi: 1, subtype: 0 }, plain);
  add('route-refresh-borr', { type: 'route-refresh', afi: 1, safi: 1, subtype: 1 }, plain);
  const attrs = {
    origin: 0 as const,
    asPath: [
      { type: 3 as const, asns: [65001, 65002] },
      { type: 2 as const, asns: [64500, 4200000000, 64501] },
      { type: 1 as const, asns: [64510, 4200000010] },
    ],
    nextHop: '192.0.2.1',
    med: 10,
    localPref: 200,
    atomicAggregate: true,
    aggregator: { asn: 4200000000, address: '198.51.100.1' },
    communities: [0xfde80064, 0xffffff01],
    extendedCommunities: [Uint8Array.of(0, 2, 0xfd, 0xe8, 0, 0, 0, 1)],
    largeCommunities: [[4200000000, 1, 2] as [number, number, number]],
    originatorId: '192.0.2.9',
    clusterList: ['192.0.2.10', '192.0.2.11'],
    unknown: [{ flags: 0xe0, type: 99, value: Uint8Array.of(1, 2, 3, 4) }],
  };
  add('update-v4-all-attributes', { type: 'update', withdrawn: [{ prefix: v4('203.0.113.0/24') }], attributes: attrs, nlri: [{ prefix: v4('198.51.100.0/24') }, { prefix: v4('192.0.2.128/25') }] }, plain);
  add('update-v4-old-speaker', { type: 'update', withdrawn: [], attributes: attrs, nlri: [{ prefix: v4('198.51.100.0/24') }] }, old);
  add(
    'update-v6-mp',
    {
      type: 'update',
      withdrawn: [],
      attributes: {
        origin: 2,
        asPath: [{ type: 2, asns: [64500] }],
        mpReach: { afi: 2, safi: 1, nextHops: ['2001:db8::1', 'fe80::1'], nlri: [{ prefix: parsePrefix('2001:db8:1::/48')! }, { prefix: parsePrefix('2001:db8::/32')! }] },
        mpUnreach: { afi: 2, safi: 1, nlri: [{ prefix: parsePrefix('2001:db8:2::/48')! }] },
      },
      nlri: [],
    },
    plain,
  );
  add(
    'update-addpath',
    {
      type: 'update',
      withdrawn: [{ prefix: v4('203.0.113.0/24'), pathId: 7 }],
      attributes: { origin: 0, asPath: [], nextHop: '192.0.2.1', localPref: 100 },
      nlri: [{ prefix: v4('198.51.100.0/24'), pathId: 1 }, { prefix: v4('198.51.100.0/24'), pathId: 2 }],
    },
    ap,
  );
  add('update-eor-v6', { type: 'update', withdrawn: [], attributes: { mpUnreach: { afi: 2, safi: 1, nlri: [] } }, nlri: [] }, plain);
  return seeds;
}

/** Real UPDATE/KEEPALIVE messages from the smaller BGP4MP dump (as received by RIS). */
export function corpusSeeds(limit = Infinity): Seed[] {
  const out: Seed[] = [];
  for (const rec of mrtRecords(readDump(corpusFile('updates.20071015.1505.gz')))) {
    if (rec.kind !== 'bgp4mp-message') continue;
    out.push({ name: `rib ${rec.time} ${rec.peerIp}`, frame: rec.message, ctx: { as4: rec.as4, addPath: rec.addPath, extMsg: false, ibgp: true } });
    if (out.length >= limit) break;
  }
  return out;
}

/** A crasher kept as a regression file. */
export interface Crasher {
  file: string;
  target: 'decode' | 'framer' | 'pipeline';
  ctx: CtxFlags;
  bytes: Uint8Array;
}

/** Read every crasher file. */
export function readCrashers(): Crasher[] {
  const out: Crasher[] = [];
  for (const f of readdirSync(CRASHER_DIR).filter((n) => n.endsWith('.hex')).sort()) {
    const text = readFileSync(join(CRASHER_DIR, f), 'utf8');
    let target: Crasher['target'] = 'decode';
    const ctx: CtxFlags = { as4: false, addPath: false, extMsg: false, ibgp: false };
    let hex = '';
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) continue;
      if (line.startsWith('target:')) {
        const t = line.slice(7).trim();
        if (t !== 'decode' && t !== 'framer' && t !== 'pipeline') throw new Error(`${f}: bad target ${t}`);
        target = t;
      } else if (line.startsWith('ctx:')) {
        for (const kv of line.slice(4).trim().split(/\s+/)) {
          const [k, v] = kv.split('=');
          const on = v === '1';
          if (k === 'as4') ctx.as4 = on;
          else if (k === 'addpath') ctx.addPath = on;
          else if (k === 'extmsg') ctx.extMsg = on;
          else if (k === 'ibgp') ctx.ibgp = on;
          else throw new Error(`${f}: unknown ctx key ${k}`);
        }
      } else {
        hex += line.replace(/\s+/g, '');
      }
    }
    if (hex.length % 2 !== 0 || /[^0-9a-fA-F]/.test(hex)) throw new Error(`${f}: bad hex`);
    const bytes = new Uint8Array(hex.length / 2);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
    out.push({ file: f, target, ctx, bytes });
  }
  return out;
}

/** Hex of bytes, for reporting a counterexample in crasher-file form. */
export function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** Render a counterexample as a crasher file body. */
export function crasherText(target: 'decode' | 'framer', f: CtxFlags, bytes: Uint8Array): string {
  const on = (b: boolean): string => (b ? '1' : '0');
  return `target: ${target}\nctx: as4=${on(f.as4)} addpath=${on(f.addPath)} extmsg=${on(f.extMsg)} ibgp=${on(f.ibgp)}\n${toHex(bytes)}\n`;
}
