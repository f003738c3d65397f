// A private network namespace for one test file, entered by the test process
// itself with setns(2) (through koffi), so sockets the tests open, and
// children they spawn, live in it. Owns the skip-or-fail rule for such files:
// outside CI a run without root (or without a needed program) is skipped with a
// loud warning; with CI set it fails, naming what is missing.
//
// Use from a test file:
//
//   const ns = testNetns({ file: 'test/x/y.test.ts', tag: 'y' });
//   describe.skipIf(!ns.canRun)('...', () => {
//     beforeAll(() => ns.setUp(['192.0.2.1/32', '2001:db8::1/128']));
//     afterAll(() => ns.cleanUp());
//     ...
//   });
//
// setns(2) moves only the calling thread, which is the thread running the test
// file; the namespace is deleted in cleanUp(), or at process exit if the file
// never got there.
import { closeSync, openSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const CLONE_NEWNET = 0x40000000;

/** A program the tests run, and the Debian package that provides it. */
export type Tool = readonly [bin: string, debianPackage: string];

export interface NetnsOptions {
  /** The test file, as its path from the repository root (for messages). */
  file: string;
  /** A short word in the namespace name: herald-<tag>-<pid>-<random>. */
  tag: string;
  /** Programs the tests need besides `ip`. */
  tools?: readonly Tool[];
  /** What is skipped, when not the whole file (e.g. 'kernel tests in'). */
  scope?: string;
}

export interface TestNetns {
  /** The namespace name, for `ip netns exec <name> ...`. */
  readonly name: string;
  /** False when the tests should be skipped (outside CI, without root or a tool). */
  readonly canRun: boolean;
  /** Create the namespace, set lo up and put `addresses` (CIDR) on it. */
  create(addresses?: readonly string[]): void;
  /** Run `ip -n <name> ...args`; throws if ip fails. */
  ip(...args: string[]): void;
  /** Move the test thread into the namespace. */
  enter(): void;
  /** Create the namespace with `addresses` on lo, then enter it. */
  setUp(addresses?: readonly string[]): void;
  /** Return the test thread to its own namespace and delete this one; safe to call twice or after a failed setUp. */
  cleanUp(): void;
}

type SetNs = (fd: number, nstype: number) => number;
let libc: { setns: SetNs; errno: () => number } | undefined;

/** Load setns(2) from libc on first use. */
function loadLibc(): { setns: SetNs; errno: () => number } {
  if (!libc) {
    const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
    const lib = koffi.load('libc.so.6');
    libc = { setns: lib.func('int setns(int, int)') as SetNs, errno: () => koffi.errno() };
  }
  return libc;
}

/** Run `ip` with `args`, its errors on our stderr; throws if it fails. */
export function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** Tell whether `bin` is on PATH. */
export function has(bin: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
}

/** Decide whether a namespace test file can run here: null if so, else why not. */
export function missingFor(tools: readonly Tool[] = []): string | null {
  if (process.getuid?.() !== 0) return 'needs root for network namespaces';
  const absent = tools.filter(([bin]) => !has(bin));
  if (absent.length === 0) return null;
  return `missing ${absent.map(([b, p]) => `${b} (Debian package ${p})`).join(', ')}`;
}

/** Describe a private namespace for the calling test file and apply the skip-or-fail rule. */
export function testNetns(opts: NetnsOptions): TestNetns {
  const name = `herald-${opts.tag}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const inCI = !!process.env['CI'];
  const why = missingFor(opts.tools);
  // In CI the tests run anyway so that create() fails them with `why`.
  const canRun = why === null || inCI;
  if (!canRun) {
    console.warn(`\n!!! SKIPPING ${opts.scope ? `${opts.scope} ` : ''}${opts.file}: ${why} (runs in CI) !!!\n`);
  }

  let created = false;
  let homeNs = -1;
  const onExit = (): void => {
    spawnSync('ip', ['netns', 'del', name]);
  };

  const ns: TestNetns = {
    name,
    canRun,
    create(addresses = []) {
      if (why !== null) throw new Error(`${opts.file}: ${why} (with CI set this fails instead of skipping)`);
      ip('netns', 'add', name);
      created = true;
      process.once('exit', onExit);
      ns.ip('link', 'set', 'lo', 'up');
      for (const a of addresses) {
        if (a.includes(':')) ns.ip('addr', 'add', a, 'dev', 'lo', 'nodad');
        else ns.ip('addr', 'add', a, 'dev', 'lo');
      }
    },
    ip(...args) {
      ip('-n', name, ...args);
    },
    enter() {
      const { setns, errno } = loadLibc();
      const home = openSync('/proc/thread-self/ns/net', 'r');
      const target = openSync(`/var/run/netns/${name}`, 'r');
      const rc = setns(target, CLONE_NEWNET);
      const err = errno();
      closeSync(target);
      if (rc !== 0) {
        closeSync(home);
        throw new Error(`setns into the test namespace ${name} failed (errno ${err})`);
      }
      homeNs = home;
    },
    setUp(addresses = []) {
      ns.create(addresses);
      ns.enter();
    },
    cleanUp() {
      if (homeNs >= 0) {
        loadLibc().setns(homeNs, CLONE_NEWNET);
        closeSync(homeNs);
        homeNs = -1;
      }
      if (created) {
        spawnSync('ip', ['netns', 'del', name]);
        process.off('exit', onExit);
        created = false;
      }
    },
  };
  return ns;
}
