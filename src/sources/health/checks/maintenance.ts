/**
 * The `maintenance_file` check: while the file exists the service is
 * administratively down (`adminDown`), which the state machine treats as
 * "maintenance" at once, without rise/fall counting or a flap.
 *
 * A file that cannot be looked up for another reason (EACCES, ELOOP) is a
 * plain failure: herald cannot tell whether the operator wants it down.
 */
import { stat } from 'node:fs/promises';
import type { MaintenanceFileCheck } from '../../../config/index.js';
import type { CheckResult } from '../types.js';
import { errText, since } from './common.js';

/** Look for the maintenance file: present means administratively down. */
export async function checkMaintenanceFile(spec: MaintenanceFileCheck, signal: AbortSignal): Promise<CheckResult> {
  const t0 = performance.now();
  if (signal.aborted) return { ok: false, detail: `maintenance file ${spec.path}: check aborted`, latencyMs: 0 };
  try {
    await stat(spec.path);
    return { ok: false, adminDown: true, detail: `maintenance file ${spec.path} present`, latencyMs: since(t0) };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { ok: true, detail: `maintenance file ${spec.path} absent`, latencyMs: since(t0) };
    return { ok: false, detail: `cannot look up maintenance file ${spec.path}: ${errText(e)}`, latencyMs: since(t0) };
  }
}
