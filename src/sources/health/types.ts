/**
 * Shapes shared by the health checks, the per-service state machine and the
 * health source. The check specs themselves are the config's (`Check` in
 * src/config/types.ts): one source of truth for what a check may say.
 */
import type { Check } from '../../config/index.js';

export type { Check } from '../../config/index.js';

/** What one probe of one check found. */
export interface CheckResult {
  ok: boolean;
  /** One line for logs and `routes explain`, e.g. "HTTP 503 from http://127.0.0.1/index.txt". */
  detail: string;
  /** exec stdout/stderr, truncated to OUTPUT_LIMIT bytes. */
  output?: string;
  latencyMs: number;
  /** Maintenance file present: administratively down, not a failure. */
  adminDown?: boolean;
}

/** One probe: resolve (never reject) with a result; stop promptly when `signal` aborts. */
export type CheckFn<C extends Check = Check> = (spec: C, signal: AbortSignal) => Promise<CheckResult>;

/** Runs any kind of check; injectable so the state machine can be tested without I/O. */
export type Prober = (spec: Check, signal: AbortSignal) => Promise<CheckResult>;

/** A probe under way. An AbortController is one. */
export interface ProbeRun {
  /** Ask the probe to stop; it still reports, once, as soon as it can. */
  abort(): void;
}

/**
 * How the state machine starts a probe: `done` is called exactly once,
 * perhaps before this returns. The callback form of a `Prober`: the tcp
 * check, probed by the thousand every second, runs without an
 * AbortController, a promise or a closure of its own (checks/index.ts
 * `startCheck`); a `Prober` runs through `fromProber`.
 */
export type ProbeStarter = (spec: Check, done: (r: CheckResult) => void) => ProbeRun;

export type HealthState = 'up' | 'down' | 'maintenance';

/** The last result of one check, kept for `routes explain`. */
export interface CheckReport {
  /** Position in the service's check list. */
  index: number;
  /** Short label, e.g. "dns 127.0.0.1:53 example.org SOA". */
  check: string;
  result: CheckResult;
  /** Wall-clock time (epoch ms) the result was recorded. */
  at: number;
  /** This probe was not started because the previous one was still running. */
  skipped?: boolean;
}

/** A service's state changed. Emitted only on a change, never per probe. */
export interface Transition {
  service: string;
  from: HealthState;
  to: HealthState;
  /** One line: why, with the deciding checks' details. */
  reason: string;
  results: readonly CheckReport[];
}

/** What the health source reports for one service. */
export interface ServiceSnapshot {
  state: HealthState;
  /** Wall-clock time (epoch ms) of the last state change (or of start-up). */
  since: number;
  lastResults: readonly CheckReport[];
}

/** Cap on exec output kept per probe. */
export const OUTPUT_LIMIT = 4096;
