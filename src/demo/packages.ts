/**
 * The Debian packages `npm run demo` needs (frr, nginx-light, iproute2):
 * finds which are missing by their binaries, and installs them with apt-get,
 * saying so. Package services are not started during the install (a
 * temporary /usr/sbin/policy-rc.d answering 101, only when none exists), so
 * no routing daemon or web server ever runs in the root namespace because of
 * the demo. No RFC: this is the demo's set-up.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, unlinkSync, writeFileSync } from 'node:fs';

/** A Debian package and the binaries the demo runs from it (any one path of each group will do). */
export interface Needed {
  pkg: string;
  binaries: string[][];
}

/** What the demo runs, by Debian 12 package. */
export const NEEDED: readonly Needed[] = [
  { pkg: 'iproute2', binaries: [['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip']] },
  { pkg: 'frr', binaries: [['/usr/lib/frr/zebra'], ['/usr/lib/frr/bgpd'], ['/usr/bin/vtysh']] },
  { pkg: 'nginx-light', binaries: [['/usr/sbin/nginx']] },
];

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** List the packages whose binaries are not all present. */
export function missingPackages(needed: readonly Needed[] = NEEDED): string[] {
  return needed.filter((n) => n.binaries.some((alternatives) => !alternatives.some(executable))).map((n) => n.pkg);
}

const POLICY = '/usr/sbin/policy-rc.d';

/** Install packages with apt-get (update first), printing what it does; throw when apt-get fails. */
export function installPackages(pkgs: readonly string[], say: (text: string) => void): void {
  if (!executable('/usr/bin/apt-get')) throw new Error(`apt-get not found: install ${pkgs.join(' ')} yourself (this demo expects Debian 12)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const ownPolicy = !existsSync(POLICY);
  if (ownPolicy) writeFileSync(POLICY, '#!/bin/sh\n# written by herald npm run demo during apt-get install; removed after\nexit 101\n', { mode: 0o755 });
  try {
    say('running: apt-get update');
    const upd = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    if (upd.status !== 0) throw new Error(`apt-get update exited ${upd.status ?? upd.signal}`);
    const args = ['install', '-y', '-qq', '--no-install-recommends', ...pkgs];
    say(`running: apt-get ${args.join(' ')}`);
    const inst = spawnSync('apt-get', args, { stdio: 'inherit', env });
    if (inst.status !== 0) throw new Error(`apt-get install ${pkgs.join(' ')} exited ${inst.status ?? inst.signal}`);
  } finally {
    if (ownPolicy) unlinkSync(POLICY);
  }
}
