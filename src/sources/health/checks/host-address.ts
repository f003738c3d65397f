/**
 * The built-in host address check of a service with `host_addresses`
 * (decision 0029): healthy while every one of the service's addresses is on
 * the interface. It reads getifaddrs through a snapshot shared by every
 * service for SNAPSHOT_MS, so ten thousand services probing every 2 s cost a
 * few interface dumps a second, not ten thousand.
 */
import type { HostAddressCheck } from '../../../config/index.js';
import type { CheckResult } from '../types.js';
import { hostAddresses } from '../../../host/interfaces.js';
import { since } from './common.js';

/** How long one read of the interfaces' addresses answers every service. */
const SNAPSHOT_MS = 200;
let snapshot: { at: number; keys: Set<string> } | null = null;

/** "lo 198.51.100.53/32" for every address on an up interface, at most SNAPSHOT_MS old. */
function present(): Set<string> {
  const now = performance.now();
  if (snapshot === null || now - snapshot.at > SNAPSHOT_MS) {
    snapshot = { at: now, keys: new Set(hostAddresses().map((h) => `${h.interface} ${h.address}/${h.prefixLen}`)) };
  }
  return snapshot.keys;
}

/** Check that every address of the service is on its interface. */
export async function checkHostAddress(spec: HostAddressCheck, signal: AbortSignal): Promise<CheckResult> {
  const t0 = performance.now();
  if (signal.aborted) return { ok: false, detail: `addresses on ${spec.interface}: check aborted`, latencyMs: 0 };
  const on = present();
  const missing = spec.addresses.filter((a) => !on.has(`${spec.interface} ${a}`));
  if (missing.length === 0) return { ok: true, detail: `${spec.addresses.join(', ')} on ${spec.interface}`, latencyMs: since(t0) };
  return {
    ok: false,
    detail: `${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not on ${spec.interface} (or ${spec.interface} is down): this host cannot answer on ${missing.length === 1 ? 'it' : 'them'}`,
    latencyMs: since(t0),
  };
}

/** Forget the shared snapshot (tests that change addresses and probe at once). */
export function forgetAddressSnapshot(): void {
  snapshot = null;
}
