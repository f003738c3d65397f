/**
 * Round-trip property: for generated valid UPDATE messages (every attribute
 * herald knows plus unknown transitive ones, IPv4 and IPv6 prefixes,
 * MP_REACH/MP_UNREACH, ADD-PATH path ids, 2- and 4-octet AS contexts),
 * decodeMessage(encodeMessage(m)) equals m up to these documented
 * normalisations of the codec:
 *
 * - (not a normalisation but a generator limit) NEXT_HOP avoids 0.0.0.0 and
 *   224.0.0.0/3, which the decoder treats as withdraw (next-hop.ts);
 * - LOCAL_PREF is only sent to (and kept from) iBGP peers (RFC 4271 §5.1.5);
 * - unknown optional transitive attributes come back with the Partial bit set
 *   (RFC 4271 §5: set when passed on) and in ascending type order (§5);
 * - toward a 2-octet speaker, a path or aggregator with 4-octet AS numbers
 *   travels as AS_TRANS plus AS4_PATH / AS4_AGGREGATOR (RFC 6793 §4.2.2); the
 *   decoder keeps those raw attributes in `as4Path` / `as4Aggregator` and
 *   reconstructs the path (§4.2.3). If the AGGREGATOR then carries a 2-octet
 *   AS other than AS_TRANS, §4.2.3 says AS4_PATH "SHALL be ignored", so the
 *   path comes back with AS_TRANS in place of the 4-octet numbers. A
 *   reconstructed path has adjacent AS_SEQUENCE segments joined (up to 255
 *   AS numbers a segment): the same path, fewer segments.
 */
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage } from '../../bgp/wire/messages/index.js';
import { BgpError } from '../../bgp/wire/errors.js';
import { AS_TRANS, AsPathSegType, Afi } from '../../bgp/wire/iana.js';
import { formatIPv4, formatIPv6, makePrefix, type Nlri } from '../../bgp/wire/prefix.js';
import type { AsPathSegment, PathAttributes, RawAttribute, UpdateMessage } from '../../bgp/wire/types.js';
import { makeContext, type CtxFlags } from './fuzz-support.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 20240601);
const RUNS = 8_000;

const KNOWN_TYPES = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 15, 16, 17, 18, 32]);

const u32 = fc.integer({ min: 0, max: 0xffffffff });
/** AS numbers: 2- and 4-octet, never AS_TRANS itself. */
const asn = fc.oneof(fc.integer({ min: 1, max: 0xffff }), fc.integer({ min: 0x10000, max: 0xffffffff })).filter((a) => a !== AS_TRANS);
const asn2 = fc.integer({ min: 1, max: 0xffff }).filter((a) => a !== AS_TRANS);
const ipv4 = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => formatIPv4(b));
/** NEXT_HOP: the codec rejects 0.0.0.0 and 224.0.0.0/3 (next-hop.ts), so stay clear of them. */
const unicast4 = fc.tuple(fc.integer({ min: 1, max: 223 }), fc.uint8Array({ minLength: 3, maxLength: 3 })).map(([a, b]) => formatIPv4(Uint8Array.of(a, ...b)));
const ipv6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => formatIPv6(b));

const prefixArb = (afi: Afi) =>
  fc
    .tuple(fc.uint8Array({ minLength: afi === Afi.IPv4 ? 4 : 16, maxLength: afi === Afi.IPv4 ? 4 : 16 }), fc.integer({ min: 0, max: afi === Afi.IPv4 ? 32 : 128 }))
    .map(([a, len]) => makePrefix(afi, a, len));

const nlriArb = (afi: Afi, addPath: boolean, max: number): fc.Arbitrary<Nlri[]> =>
  fc.array(
    fc.tuple(prefixArb(afi), u32).map(([prefix, id]): Nlri => (addPath ? { prefix, pathId: id } : { prefix })),
    { maxLength: max },
  );

/** AS_PATH: optional leading confederation segments (RFC 5065 §3), then sequences and sets. */
const asPathArb: fc.Arbitrary<AsPathSegment[]> = fc
  .tuple(
    fc.array(
      fc.record({ type: fc.constantFrom(AsPathSegType.AS_CONFED_SEQUENCE, AsPathSegType.AS_CONFED_SET), asns: fc.array(asn2, { minLength: 1, maxLength: 4 }) }),
      { maxLength: 2 },
    ),
    fc.array(fc.record({ type: fc.constantFrom(AsPathSegType.AS_SEQUENCE, AsPathSegType.AS_SET), asns: fc.array(asn, { minLength: 1, maxLength: 12 }) }), { maxLength: 4 }),
  )
  .map(([c, s]) => [...c, ...s]);

const unknownArb: fc.Arbitrary<RawAttribute[]> = fc
  .uniqueArray(
    fc.record({
      flags: fc.constantFrom(0xc0, 0xe0),
      type: fc.integer({ min: 1, max: 255 }).filter((t) => !KNOWN_TYPES.has(t)),
      value: fc.uint8Array({ maxLength: 300 }),
    }),
    { selector: (u) => u.type, maxLength: 3 },
  );

/** A generated UPDATE and the context it is encoded in. */
const caseArb = fc
  .record({ as4: fc.boolean(), addPath: fc.boolean(), extMsg: fc.boolean(), ibgp: fc.boolean() })
  .chain((f: CtxFlags) => {
    const mpReach = fc.oneof(
      fc.record({ afi: fc.constant(Afi.IPv4), safi: fc.constantFrom(1, 2), nextHops: ipv4.map((a) => [a]), nlri: nlriArb(Afi.IPv4, f.addPath, 6) }),
      fc.record({ afi: fc.constant(Afi.IPv4), safi: fc.constant(1), nextHops: ipv6.map((a) => [a]), nlri: nlriArb(Afi.IPv4, f.addPath, 6) }),
      fc.record({
        afi: fc.constant(Afi.IPv6),
        safi: fc.constantFrom(1, 2),
        nextHops: fc.oneof(ipv6.map((a) => [a]), fc.tuple(ipv6, ipv6).map(([a, b]) => [a, b])),
        nlri: nlriArb(Afi.IPv6, f.addPath, 6),
      }),
    );
    const mpUnreach = fc.oneof(
      fc.record({ afi: fc.constant(Afi.IPv4), safi: fc.constantFrom(1, 2), nlri: nlriArb(Afi.IPv4, f.addPath, 6) }),
      fc.record({ afi: fc.constant(Afi.IPv6), safi: fc.constantFrom(1, 2), nlri: nlriArb(Afi.IPv6, f.addPath, 6) }),
    );
    const attrs = fc.record(
      {
        origin: fc.constantFrom(0 as const, 1 as const, 2 as const),
        asPath: asPathArb,
        nextHop: unicast4,
        med: u32,
        localPref: u32,
        atomicAggregate: fc.constant(true),
        aggregator: fc.record({ asn, address: ipv4 }),
        communities: fc.array(u32, { minLength: 1, maxLength: 6 }),
        extendedCommunities: fc.array(fc.uint8Array({ minLength: 8, maxLength: 8 }), { minLength: 1, maxLength: 4 }),
        largeCommunities: fc.array(fc.tuple(u32, u32, u32), { minLength: 1, maxLength: 4 }),
        originatorId: ipv4,
        clusterList: fc.array(ipv4, { minLength: 1, maxLength: 4 }),
        mpReach,
        mpUnreach,
        unknown: unknownArb,
      },
      { requiredKeys: ['origin', 'asPath', 'nextHop'] },
    );
    return fc.record({
      f: fc.constant(f),
      msg: fc.record({
        type: fc.constant('update' as const),
        withdrawn: nlriArb(Afi.IPv4, f.addPath, 6),
        attributes: attrs as fc.Arbitrary<PathAttributes>,
        nlri: nlriArb(Afi.IPv4, f.addPath, 6),
      }),
    });
  });

/** Reconstruction joins adjacent AS_SEQUENCE segments (up to 255 AS numbers) into one. */
function joinSequences(path: AsPathSegment[]): AsPathSegment[] {
  const out: AsPathSegment[] = [];
  for (const s of path) {
    const last = out[out.length - 1];
    if (last && last.type === AsPathSegType.AS_SEQUENCE && s.type === AsPathSegType.AS_SEQUENCE && last.asns.length + s.asns.length <= 255) {
      last.asns.push(...s.asns);
    } else {
      out.push({ type: s.type, asns: [...s.asns] });
    }
  }
  return out;
}

const isConfed = (t: number): boolean => t === AsPathSegType.AS_CONFED_SEQUENCE || t === AsPathSegType.AS_CONFED_SET;

/** What the decoder must return for `m` sent in context `f` (the normalisations above). */
function expected(m: UpdateMessage, f: CtxFlags): UpdateMessage {
  const a: PathAttributes = { ...m.attributes };
  if (!f.ibgp) delete a.localPref;
  if (a.unknown) {
    if (a.unknown.length === 0) delete a.unknown;
    else a.unknown = [...a.unknown].sort((x, y) => x.type - y.type).map((u) => ({ ...u, flags: u.flags | 0x20 }));
  }
  if (!f.as4) {
    const path = a.asPath ?? [];
    const needs = path.some((s) => !isConfed(s.type) && s.asns.some((x) => x > 0xffff));
    if (needs) a.as4Path = path.filter((s) => !isConfed(s.type)).map((s) => ({ type: s.type, asns: [...s.asns] }));
    const g = a.aggregator;
    if (g && g.asn > 0xffff) a.as4Aggregator = { ...g };
    if (needs && g && g.asn <= 0xffff) {
      // RFC 6793 §4.2.3: AGGREGATOR is not AS_TRANS, so AS4_PATH is ignored.
      a.asPath = path.map((s) => ({ type: s.type, asns: s.asns.map((x) => (x > 0xffff ? AS_TRANS : x)) }));
    } else if (needs) {
      a.asPath = joinSequences(path);
    }
  }
  return { type: 'update', withdrawn: m.withdrawn, attributes: a, nlri: m.nlri };
}

const show = (m: unknown): string =>
  JSON.stringify(m, (_k, v: unknown) => (v instanceof Uint8Array ? `hex:${Buffer.from(v).toString('hex')}` : v));

describe('fuzz: UPDATE encode -> decode round trip', () => {
  it(`is the identity up to the documented normalisations (${RUNS} cases)`, () => {
    let ran = 0;
    let tooBig = 0;
    fc.assert(
      fc.property(caseArb, (c) => {
        ran++;
        // fc.record may build null-prototype objects; compare plain ones.
        const { f, msg } = structuredClone(c);
        const ctx = makeContext(f);
        let frame: Uint8Array;
        try {
          frame = encodeMessage(msg, ctx);
        } catch (e) {
          // Only "does not fit the negotiated size" may stop the encoder.
          if (e instanceof BgpError && e.code === 1 && e.subcode === 2) {
            tooBig++;
            return;
          }
          throw e;
        }
        const back = decodeMessage(frame, ctx);
        const want = expected(msg, f);
        if (!isDeepStrictEqual(back, want)) {
          throw new Error(`round trip differs (ctx ${JSON.stringify(f)})\n  want: ${show(want)}\n  got:  ${show(back)}\n  wire: ${Buffer.from(frame).toString('hex')}`);
        }
      }),
      { numRuns: RUNS, seed: SEED },
    );
    expect(ran).toBe(RUNS);
    // The generator keeps messages small: nearly every case must be checked.
    expect(tooBig).toBeLessThan(RUNS / 20);
  });
});
