/**
 * BFD's limits and defaults as configuration sees them: plain values, in a
 * module of their own so that a config reader gets them without the driver
 * (bgp/config-values.ts, decision 0050). No RFC sets them.
 */

/** Interval limits accepted in configuration, ms (FRR's bfdd allows the same range). */
export const BFD_MIN_INTERVAL_MS = 10;
export const BFD_MAX_INTERVAL_MS = 60_000;

/** Defaults when a session leaves them out (FRR's bfdd defaults). */
export const BFD_DEFAULTS = { desiredMinTxMs: 300, requiredMinRxMs: 300, detectMult: 3 } as const;
