/**
 * What a configuration is checked against, from bgp/: the community text
 * parsers, BFD's interval limits and defaults, the wait for BFD Up and the
 * multihop rule. A second public entry beside index.ts, with none of the
 * engine's code behind it: the daemon's config parser is a bundle of its
 * own, compiled for each read (decision 0050), and through index.ts it
 * carried the speaker's wire, RIB and BFD code (a third of its size) that
 * the daemon has loaded already.
 */
export { parseCommunity } from './wire/attributes/communities.js';
export { parseExtendedCommunity } from './wire/attributes/extended-communities.js';
export { parseLargeCommunity } from './wire/attributes/large-communities.js';
export type { Checked } from './wire/attributes/text.js';
export { BFD_DEFAULTS, BFD_MAX_INTERVAL_MS, BFD_MIN_INTERVAL_MS } from './bfd/limits.js';
export { BFD_WAIT_UP_MS, bfdMultihop } from './driver/types.js';
