/**
 * Number text for the community parsers: decimal without leading zeros, in
 * range. Shared by communities.ts, large-communities.ts and
 * extended-communities.ts.
 */

/** Validation outcome of a text parser: a value, or a reason an operator can act on. */
export type Checked<T> = { ok: true; value: T } | { ok: false; reason: string };

const U16 = /^(0|[1-9]\d{0,4})$/;
const U32 = /^(0|[1-9]\d{0,9})$/;

/** Parse a decimal 0..65535, or null. */
export const u16 = (s: string): number | null => (U16.test(s) && Number(s) <= 0xffff ? Number(s) : null);
/** Parse a decimal 0..4294967295, or null. */
export const u32 = (s: string): number | null => (U32.test(s) && Number(s) <= 0xffffffff ? Number(s) : null);

export const fail = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });
