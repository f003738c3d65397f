/**
 * The check kinds in one table, keyed by kind: each entry probes and labels.
 * `runCheck` is the default `Prober` the state machine uses.
 *
 * The DNS check (its own message codec) is imported on its first probe, so
 * a daemon without a dns check never loads it (decision 0027); import
 * checkDns and judgeResponse from './dns.js' directly.
 */
import { after, realClock } from '../../../../bgp/index.js';
import type { Check } from '../../../config/index.js';
import type { CheckResult, ProbeStarter, Prober } from '../types.js';
import { errText, hostPort } from './common.js';
import { checkExec } from './exec.js';
import { checkHttp } from './http.js';
import { checkMaintenanceFile } from './maintenance.js';
import { checkTcp, startTcp } from './tcp.js';
import { checkHostAddress } from './host-address.js';

export { checkExec } from './exec.js';
export { checkHttp, serverName, BODY_LIMIT } from './http.js';
export { checkMaintenanceFile } from './maintenance.js';
export { checkTcp, startTcp } from './tcp.js';
export { checkHostAddress, forgetAddressSnapshot } from './host-address.js';

/** Run one probe of any kind; never rejects (a thrown error becomes a failed result). */
export function runCheck(spec: Check, signal: AbortSignal): Promise<CheckResult> {
  // The tcp check neither throws nor rejects, and it is the kind probed by
  // the thousand: no async wrapper (a promise and an await) around it.
  return spec.kind === 'tcp' ? checkTcp(spec, signal) : runGuarded(spec, signal);
}

/**
 * Start one probe of any kind, the state machine's default `ProbeStarter`:
 * the tcp check natively (one object per probe, no AbortController, no
 * promise), the other kinds through their promise form.
 */
export const startCheck: ProbeStarter = (spec, done) => (spec.kind === 'tcp' ? startTcp(spec, done) : startGuarded(spec, done));

/** A Prober as a ProbeStarter: an AbortController per probe; a throw or a rejection is a failed result naming the check. */
export function fromProber(prober: Prober, now: () => number = () => performance.now()): ProbeStarter {
  return (spec, done) => {
    const ac = new AbortController();
    const t0 = now();
    const failed = (e: unknown): void => done({ ok: false, detail: `${checkLabel(spec)}: ${e instanceof Error ? e.message : String(e)}`, latencyMs: now() - t0 });
    let p: Promise<CheckResult>;
    try {
      p = prober(spec, ac.signal);
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(done, failed);
    return ac;
  };
}

const startGuarded = fromProber(runCheck);

async function runGuarded(spec: Exclude<Check, { kind: 'tcp' }>, signal: AbortSignal): Promise<CheckResult> {
  const t0 = performance.now();
  try {
    switch (spec.kind) {
      case 'http':
      case 'https':
        return await checkHttp(spec, signal);
      case 'dns':
        return await (await import('./dns.js')).checkDns(spec, signal);
      case 'exec':
        return await checkExec(spec, signal);
      case 'maintenance_file':
        return await checkMaintenanceFile(spec, signal);
      case 'host_address':
        return await checkHostAddress(spec, signal);
    }
  } catch (e) {
    return { ok: false, detail: `${checkLabel(spec)}: ${errText(e)}`, latencyMs: performance.now() - t0 };
  }
}

/** Run one probe with the check's own timeout (for the CLI and tests). */
export function probe(spec: Check, timeoutMs = 'timeoutMs' in spec ? spec.timeoutMs : 1000): Promise<CheckResult> {
  const ac = new AbortController();
  const cancel = after(realClock, timeoutMs, () => ac.abort());
  return runCheck(spec, ac.signal).finally(cancel);
}

/** Label a check in a few words, e.g. "dns 127.0.0.1:53 example.org SOA". */
export function checkLabel(spec: Check): string {
  switch (spec.kind) {
    case 'tcp':
      return `tcp ${hostPort(spec.address, spec.port)}`;
    case 'http':
    case 'https':
      return `${spec.kind} ${spec.url}`;
    case 'dns':
      return `dns ${hostPort(spec.server, spec.port)}/${spec.protocol} ${spec.query} ${spec.type}`;
    case 'exec':
      return `exec ${spec.argv.join(' ')}`;
    case 'maintenance_file':
      return `maintenance_file ${spec.path}`;
    case 'host_address':
      return `host_address ${spec.addresses.join(' ')} on ${spec.interface}`;
  }
}

/** The check's timeout, or undefined for kinds without one (maintenance_file). */
export function checkTimeout(spec: Check): number | undefined {
  return 'timeoutMs' in spec ? spec.timeoutMs : undefined;
}
