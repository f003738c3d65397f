/**
 * Text and JSON helpers of the state model: one place that turns wire values
 * into what the API and CLI show. Attribute text comes from the wire codecs'
 * own formatters (bgp/index.ts), so a community, an AS path with
 * confederation segments or an extended community reads the same in logs,
 * the API and `routes`, and parses back through the config's parsers.
 */
import {
  familyOfText,
  formatAsPath,
  formatCommunity,
  formatExtendedCommunity,
  formatLargeCommunity,
  formatPrefix,
  parsePrefix,
  type PathAttributes,
} from '../../bgp/index.js';

export type Family = 'ipv4' | 'ipv6';

export const iso = (ms: number): string => new Date(ms).toISOString();

/** The family of prefix text (the wire scanner decides; unparsable text counts as IPv4). */
export const familyOf = (prefix: string): Family => (familyOfText(prefix) === 2 ? 'ipv6' : 'ipv4');

/** Return the canonical text of a prefix or host address, or null when it is not one. */
export function canonicalPrefix(text: string): string | null {
  const p = parsePrefix(text, { strict: false });
  return p === null ? null : formatPrefix(p);
}

const FAMILY_NAMES: Record<string, string> = { '1/1': 'ipv4', '2/1': 'ipv6' };

/** Name an AFI/SAFI key ("1/1") as the config does ("ipv4"); other families keep their key. */
export function familyName(key: string): string {
  return FAMILY_NAMES[key] ?? key;
}

const ORIGINS = ['igp', 'egp', 'incomplete'] as const;

/** Received attributes as the API shows them (docs/api.md). */
export interface AttributeTexts {
  asPath: string;
  origin: 'igp' | 'egp' | 'incomplete' | null;
  med: number | null;
  localPref: number | null;
  communities: string[];
  largeCommunities: string[];
  extendedCommunities: string[];
}

/** Received attributes as the API shows them. */
export function attributeTexts(a: Readonly<PathAttributes>): AttributeTexts {
  return {
    asPath: formatAsPath(a.asPath ?? []),
    origin: a.origin === undefined ? null : (ORIGINS[a.origin] ?? null),
    med: a.med ?? null,
    localPref: a.localPref ?? null,
    communities: (a.communities ?? []).map(formatCommunity),
    largeCommunities: (a.largeCommunities ?? []).map(formatLargeCommunity),
    extendedCommunities: (a.extendedCommunities ?? []).map(formatExtendedCommunity),
  };
}

/** Deep-copy to plain JSON data: byte arrays become hex text, everything else as JSON would. */
export function plain<T>(v: T): T {
  return JSON.parse(JSON.stringify(v, jsonReplacer)) as T;
}

/** JSON.stringify replacer for the API: Uint8Array/Buffer as hex, bigint as text. */
export function jsonReplacer(_k: string, v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  if (v && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) {
    return Buffer.from((v as { data: number[] }).data).toString('hex');
  }
  if (typeof v === 'bigint') return v.toString();
  return v;
}
