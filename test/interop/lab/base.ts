// Shared pieces of the router controllers: the directory and process list,
// waitEstablished() on top of sessionState(), log reading, and small parsers
// used by several daemons' outputs. No RFC: this is test infrastructure.

import { readFile, chmod } from 'node:fs/promises';
import type { Lab } from './netns.js';
import type { LabProcess } from './process.js';
import { nsRun, waitFor } from './process.js';
import type { Announcement, Family, Origin, ReceivedRoute, Router, RouterConfig, RouterKind, SessionState } from './types.js';

export abstract class BaseRouter implements Router {
  abstract readonly kind: RouterKind;
  readonly name: string;
  readonly ns: string;
  protected readonly procs: LabProcess[] = [];
  protected dirPath: string | undefined;

  constructor(
    protected readonly lab: Lab,
    protected readonly config: RouterConfig,
  ) {
    this.name = config.name;
    this.ns = config.ns;
    this.dirPath = config.dir;
  }

  get dir(): string {
    if (this.dirPath === undefined) throw new Error(`${this.name}: not started`);
    return this.dirPath;
  }

  /** Make sure the private directory exists and return it. */
  protected async ensureDir(): Promise<string> {
    if (this.dirPath === undefined) this.dirPath = await this.lab.tempDir(`${this.kind}-${this.name}`);
    await chmod(this.dirPath, 0o755);
    return this.dirPath;
  }

  abstract start(): Promise<void>;
  abstract sessionState(peerAddr: string): Promise<SessionState>;
  abstract routes(): Promise<ReceivedRoute[]>;
  abstract announce(routes: Announcement[]): Promise<void>;
  abstract withdraw(prefixes: string[]): Promise<void>;
  protected abstract logFiles(): string[];

  /** Stop this router's daemons (only the pids it started); start() may be called again afterwards. */
  async stop(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.stop()));
    this.procs.length = 0;
  }

  /** Throw with the log tail if a daemon this controller started has exited. */
  protected async assertRunning(): Promise<void> {
    const dead = this.procs.find((p) => !p.isRunning());
    if (dead !== undefined) {
      const log = await this.logText();
      throw new Error(`${this.kind} ${this.name}: ${dead.name} (pid ${dead.pid}) exited; log tail:\n${log.slice(-3000)}`);
    }
  }

  /** Wait until the session with peerAddr is Established, or throw with the state and log tail. */
  async waitEstablished(peerAddr: string, timeoutMs: number): Promise<void> {
    let last: SessionState = 'Unknown';
    await waitFor(
      async () => {
        await this.assertRunning();
        last = await this.sessionState(peerAddr);
        return last === 'Established' ? true : undefined;
      },
      timeoutMs,
      async () => `${this.kind} ${this.name}: session with ${peerAddr} is ${last}; log tail:\n${(await this.logText()).slice(-3000)}`,
    );
  }

  /** Concatenate this router's log files. */
  async logText(): Promise<string> {
    const parts: string[] = [];
    for (const f of this.logFiles()) parts.push(await readFile(f, 'utf8').catch(() => ''));
    return parts.join('\n');
  }
}

/** Return the family of a prefix or address. */
export function familyOf(prefixOrAddr: string): Family {
  return prefixOrAddr.includes(':') ? 'ipv6' : 'ipv4';
}

/** Map a daemon's origin spelling (IGP, i, 0, incomplete, ?) to the normalised one. */
export function normOrigin(raw: string | number | undefined): Origin {
  const s = String(raw ?? '').toLowerCase();
  if (s === 'igp' || s === 'i' || s === '0') return 'igp';
  if (s === 'egp' || s === 'e' || s === '1') return 'egp';
  return 'incomplete';
}

/** Map a daemon's session-state spelling to the RFC 4271 name. */
export function normState(raw: string | undefined): SessionState {
  const s = (raw ?? '').toLowerCase().replace(/[^a-z]/g, '');
  if (s.startsWith('established') || s === 'up') return 'Established';
  if (s.startsWith('openconfirm')) return 'OpenConfirm';
  if (s.startsWith('opensent')) return 'OpenSent';
  if (s.startsWith('active')) return 'Active';
  if (s.startsWith('connect')) return 'Connect';
  if (s.startsWith('idle') || s === 'down' || s === 'none') return 'Idle';
  return 'Unknown';
}

/** Parse every ASN out of an AS_PATH string ("65001 65002", "65001 {65003,65004}"). */
export function parseAsPath(text: string): number[] {
  return (text.match(/\d+/g) ?? []).map(Number);
}

/** Split "65000:1" into its numbers, checking the shape. */
export function splitCommunity(c: string, parts: 2 | 3): number[] {
  const nums = c.split(':').map(Number);
  if (nums.length !== parts || nums.some((n) => !Number.isInteger(n) || n < 0)) throw new Error(`bad community "${c}"`);
  return nums;
}

/** Sort routes by prefix then peer, for stable comparisons. */
export function sortRoutes(routes: ReceivedRoute[]): ReceivedRoute[] {
  return routes.sort((a, b) => (a.prefix === b.prefix ? a.peer.localeCompare(b.peer) : a.prefix.localeCompare(b.prefix)));
}

/** Return the first global address of a family in a namespace, or undefined if it has none. */
export async function findGlobalAddress(ns: string, family: Family): Promise<string | undefined> {
  const res = await nsRun(ns, 'ip', [family === 'ipv6' ? '-6' : '-4', '-o', 'addr', 'show', 'scope', 'global']);
  return /inet6? ([^\s/]+)\//.exec(res.stdout)?.[1];
}

/** Return the first global address of a family in a namespace; throw if it has none. */
export async function globalAddress(ns: string, family: Family): Promise<string> {
  const a = await findGlobalAddress(ns, family);
  if (a === undefined) throw new Error(`namespace ${ns} has no global ${family} address for a next hop`);
  return a;
}
