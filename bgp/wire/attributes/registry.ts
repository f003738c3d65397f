/**
 * The path attribute registry: one AttrCodec per type code (STYLE.md §6,
 * BIRD's attrs.c table). Adding an attribute is one file plus one line here.
 *
 * `ENCODE_ORDER` is the order attributes go on the wire: MP_REACH_NLRI and
 * MP_UNREACH_NLRI first (RFC 7606 §5.1: they "SHALL be encoded as the very
 * first path attribute"), then ascending type code (RFC 4271 §5: "The sender
 * of an UPDATE message SHOULD order path attributes within the UPDATE message
 * in ascending order of attribute type").
 */
import type { AttrCodec } from './codec.js';
import { originCodec } from './origin.js';
import { asPathCodec } from './as-path.js';
import { nextHopCodec } from './next-hop.js';
import { medCodec } from './med.js';
import { localPrefCodec } from './local-pref.js';
import { atomicAggregateCodec } from './atomic-aggregate.js';
import { aggregatorCodec } from './aggregator.js';
import { communitiesCodec } from './communities.js';
import { originatorIdCodec } from './originator-id.js';
import { clusterListCodec } from './cluster-list.js';
import { mpReachCodec } from './mp-reach.js';
import { mpUnreachCodec } from './mp-unreach.js';
import { extendedCommunitiesCodec } from './extended-communities.js';
import { as4PathCodec } from './as4-path.js';
import { as4AggregatorCodec } from './as4-aggregator.js';
import { largeCommunitiesCodec } from './large-communities.js';

/** Every attribute herald understands, in ascending type code. */
export const ATTRIBUTE_CODECS: readonly AttrCodec[] = [
  originCodec,
  asPathCodec,
  nextHopCodec,
  medCodec,
  localPrefCodec,
  atomicAggregateCodec,
  aggregatorCodec,
  communitiesCodec,
  originatorIdCodec,
  clusterListCodec,
  mpReachCodec,
  mpUnreachCodec,
  extendedCommunitiesCodec,
  as4PathCodec,
  as4AggregatorCodec,
  largeCommunitiesCodec,
];

const TABLE: (AttrCodec | undefined)[] = new Array<AttrCodec | undefined>(256).fill(undefined);
for (const c of ATTRIBUTE_CODECS) TABLE[c.type] = c;

/** Look up the codec for an attribute type code, or undefined when unknown. */
export function attributeCodec(type: number): AttrCodec | undefined {
  return TABLE[type];
}

/** The non-MP attributes in wire order (ascending type). */
export const PLAIN_CODECS: readonly AttrCodec[] = ATTRIBUTE_CODECS.filter((c) => c !== mpReachCodec && c !== mpUnreachCodec);

/** Wire order: MP attributes first, then ascending type code. */
export const ENCODE_ORDER: readonly AttrCodec[] = [mpReachCodec, mpUnreachCodec, ...PLAIN_CODECS];
