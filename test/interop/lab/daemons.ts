// Which routing daemons the interop lab can run here, and what to do when one
// is missing: outside CI a test skips with a loud message naming the Debian
// package; with CI=true a missing daemon (or not being root) is a failure.
// No RFC: this is test infrastructure.

import { accessSync, constants } from 'node:fs';
import { isRoot } from './netns.js';
import type { RouterKind } from './types.js';

interface DaemonInfo {
  /** Debian package that provides the binaries. */
  pkg: string;
  /** Absolute paths that must be executable. */
  binaries: string[];
}

/** Binaries and Debian packages per daemon (paths as installed by Debian 12). */
export const DAEMONS: Record<RouterKind, DaemonInfo> = {
  frr: { pkg: 'frr', binaries: ['/usr/lib/frr/zebra', '/usr/lib/frr/bgpd', '/usr/bin/vtysh'] },
  bird: { pkg: 'bird2', binaries: ['/usr/sbin/bird', '/usr/sbin/birdc'] },
  gobgp: { pkg: 'gobgpd', binaries: ['/usr/bin/gobgpd', '/usr/bin/gobgp'] },
  openbgpd: { pkg: 'openbgpd', binaries: ['/usr/sbin/bgpd', '/usr/sbin/bgpctl'] },
  exabgp: { pkg: 'exabgp', binaries: ['/usr/sbin/exabgp'] },
};

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Return why the lab cannot run the given daemons here, or undefined when it can. */
export function missingReason(kinds: readonly RouterKind[]): string | undefined {
  const problems: string[] = [];
  if (!isRoot()) problems.push('the interop lab needs root (network namespaces)');
  if (!executable('/usr/sbin/ip') && !executable('/sbin/ip') && !executable('/usr/bin/ip')) {
    problems.push('`ip` is missing: apt-get install iproute2');
  }
  for (const kind of kinds) {
    const info = DAEMONS[kind];
    const absent = info.binaries.filter((b) => !executable(b));
    if (absent.length > 0) problems.push(`${kind}: ${absent.join(', ')} missing: apt-get install ${info.pkg}`);
  }
  return problems.length > 0 ? problems.join('; ') : undefined;
}

/**
 * Check that the daemons can run; return true when they can. Outside CI a
 * missing one prints a loud warning and returns false (the caller skips);
 * with CI=true it throws, so CI never silently skips interop.
 */
export function labReady(kinds: readonly RouterKind[], what = 'interop test'): boolean {
  const reason = missingReason(kinds);
  if (reason === undefined) return true;
  const message = `${what}: cannot run: ${reason}`;
  if (process.env.CI === 'true') throw new Error(`${message} (CI=true: a missing daemon is a failure, not a skip)`);
  console.warn(`\n*** SKIPPING ${message} ***\n`);
  return false;
}
