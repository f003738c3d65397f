/**
 * Health-gated services: check kinds (tcp, http/https, dns, exec,
 * maintenance_file), the per-service rise/fall state machine, the health
 * source the reconciler reads, and the pacer that starts a burst of
 * due probes in bounded slices. See docs/configuration.md for the
 * config side.
 */
export { HealthSource, HEALTH_TIMER_SLACK_MS, type HealthSourceOptions } from './source.js';
export { ProbePacer, PACER_SLICE_MS, type ProbePacerOptions } from './pacer.js';
export { ServiceHealth, GRACE_MS, type ServiceHealthOptions, type ServiceHealthSpec, type CarriedState, type RoundEvent } from './service.js';
export { runCheck, startCheck, fromProber, probe, checkLabel, checkTimeout, checkTcp, startTcp, checkHttp, checkExec, checkMaintenanceFile, BODY_LIMIT } from './checks/index.js';
export { OUTPUT_LIMIT } from './types.js';
export type { CheckResult, CheckFn, Prober, ProbeRun, ProbeStarter, HealthState, CheckReport, Transition, ServiceSnapshot, Check } from './types.js';
