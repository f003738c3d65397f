/**
 * Service addresses on the host (`host_addresses`, decision 0029): the
 * anycast /32 and /128 must be on this host (usually on `lo`) for it to
 * answer on them. With `mode: add` herald puts them there at start and takes
 * them away at stop — after the routes are withdrawn, so no traffic arrives
 * for an address that is gone; with `mode: verify` it only checks (the
 * built-in check in src/sources/health/checks/host-address.ts, which also
 * runs for `add` and fails the service while an address is missing).
 *
 * Only what herald added is ever removed: an address that was already on the
 * interface belongs to whoever put it there. The list of added addresses is
 * kept in the state directory (addresses.json), so after a crash the next
 * start still knows which ones are herald's, and removes those no longer
 * configured.
 *
 * Changes go through iproute2 (`ip address add|del`), reads through
 * getifaddrs (src/host/interfaces.ts). No RFC.
 */
import { execFile } from 'node:child_process';
import type { Logger } from '../log.js';
import type { ServiceConfig } from '../config/index.js';
import { readStateFile, writeStateFile } from '../state-dir.js';
import { hostAddresses } from './interfaces.js';

const STATE_FILE = 'addresses.json';

/** One address on one interface ("198.51.100.53/32" on "lo"). */
export interface IfAddress {
  interface: string;
  address: string;
}

/** Runs `ip ARGS`; resolves with stderr's text on failure (null on success). Injectable for tests. */
export type IpRunner = (args: string[]) => Promise<string | null>;

/** Run the real `ip`. */
export const runIp: IpRunner = (args) =>
  new Promise((resolve) => {
    execFile('ip', args, { timeout: 10_000 }, (err, _stdout, stderr) => {
      if (!err) resolve(null);
      else resolve((String(stderr).trim() || err.message).replace(/\s+/g, ' '));
    });
  });

const key = (a: IfAddress): string => `${a.interface} ${a.address}`;

/** Say what an `ip` error means for the operator. */
function explainIpError(text: string, a: IfAddress, verb: 'add' | 'remove'): string {
  if (/Cannot find device/i.test(text)) return `no interface ${a.interface}`;
  if (/Operation not permitted/i.test(text)) return `${text} (herald needs CAP_NET_ADMIN to ${verb} addresses)`;
  return text;
}

/** Adds, tracks and removes the service addresses herald owns. */
export class HostAddressManager {
  /** Addresses herald added and has not removed, by "iface address". */
  private readonly ours = new Map<string, IfAddress>();
  /** `ours` changed since the state file was last written. */
  private dirty = false;

  constructor(
    private readonly opts: { stateDir: string; log: Logger; ip?: IpRunner },
  ) {
    const r = readStateFile(opts.stateDir, STATE_FILE, (v) => {
      const list = (v as { added?: unknown })?.added;
      if (!Array.isArray(list) || !list.every((x) => typeof x?.interface === 'string' && typeof x?.address === 'string')) return 'expected {"added": [{"interface", "address"}]}';
      return list as IfAddress[];
    });
    if (r.error) opts.log.warn({ err: r.error }, 'the list of addresses herald added is unreadable; ignored (addresses from before are left in place)');
    for (const a of r.value ?? []) this.ours.set(key(a), { interface: a.interface, address: a.address });
  }

  /** The addresses herald added and still owns. */
  owned(): IfAddress[] {
    return [...this.ours.values()];
  }

  /** The addresses of services with `mode: add`, by "iface address". */
  private wanted(services: readonly ServiceConfig[]): Map<string, IfAddress> {
    const want = new Map<string, IfAddress>();
    for (const s of services) {
      if (s.hostAddresses?.mode !== 'add') continue;
      for (const address of s.hostAddresses.addresses) {
        const a = { interface: s.hostAddresses.interface, address };
        want.set(key(a), a);
      }
    }
    return want;
  }

  /**
   * Put every address of a service with `mode: add` on its interface when it
   * is missing; one already there that herald did not add is left to its
   * owner (and never removed).
   */
  async addMissing(services: readonly ServiceConfig[]): Promise<void> {
    const present = new Set(hostAddresses().map((h) => `${h.interface} ${h.address}/${h.prefixLen}`));
    for (const [k, a] of this.wanted(services)) {
      if (present.has(k)) {
        if (!this.ours.has(k)) this.opts.log.info({ interface: a.interface, address: a.address }, 'service address already on the interface; herald leaves it to its owner');
        continue;
      }
      await this.add(a);
    }
    this.save();
  }

  /** Tell whether herald holds an address no service with `mode: add` wants any more. */
  hasUnwanted(services: readonly ServiceConfig[]): boolean {
    const want = this.wanted(services);
    return [...this.ours.keys()].some((k) => !want.has(k));
  }

  /** Remove the addresses herald added that no service with `mode: add` wants any more. */
  async removeUnwanted(services: readonly ServiceConfig[]): Promise<void> {
    const want = this.wanted(services);
    for (const [k, a] of [...this.ours]) if (!want.has(k)) await this.remove(a);
    this.save();
  }

  /** Remove every address herald added (at stop, after the withdrawals). */
  async removeAll(): Promise<void> {
    for (const a of [...this.ours.values()]) await this.remove(a);
    this.save();
  }

  private async add(a: IfAddress): Promise<void> {
    const v6 = a.address.includes(':');
    // nodad: an anycast address is by design on other hosts too, and DAD would hold it tentative for a second.
    const err = await (this.opts.ip ?? runIp)([v6 ? '-6' : '-4', 'address', 'add', a.address, 'dev', a.interface, ...(v6 ? ['nodad'] : [])]);
    if (err !== null && !/File exists/i.test(err)) {
      this.opts.log.error({ interface: a.interface, address: a.address, err: explainIpError(err, a, 'add') }, 'cannot add the service address; its service fails its address check');
      return;
    }
    this.ours.set(key(a), a);
    this.dirty = true;
    this.opts.log.info({ interface: a.interface, address: a.address }, 'service address added');
  }

  private async remove(a: IfAddress): Promise<void> {
    const err = await (this.opts.ip ?? runIp)([a.address.includes(':') ? '-6' : '-4', 'address', 'del', a.address, 'dev', a.interface]);
    // Already gone (or the interface is): nothing of ours is left to remove.
    if (err !== null && !/Cannot assign requested address|Cannot find device/i.test(err)) {
      this.opts.log.error({ interface: a.interface, address: a.address, err: explainIpError(err, a, 'remove') }, 'cannot remove a service address herald added');
      return;
    }
    this.ours.delete(key(a));
    this.dirty = true;
    this.opts.log.info({ interface: a.interface, address: a.address }, 'service address removed');
  }

  /** Record what herald owns in the state directory, when it changed. */
  private save(): void {
    if (!this.dirty) return;
    this.dirty = false;
    try {
      writeStateFile(this.opts.stateDir, STATE_FILE, { version: 1, added: this.owned() });
    } catch (e) {
      this.opts.log.error({ err: (e as Error).message, stateDir: this.opts.stateDir }, 'cannot record the addresses herald added; after a restart they are left in place');
    }
  }
}
