// Service addresses on the host (issue 10 item 8, decision 0029), in a
// private network namespace this test thread enters: `add` puts a service's
// /32 and /128 on lo and removes only what herald added; an address already
// there is left to its owner; the list of added addresses in state_dir
// lets the next start remove what a crashed run left and no service wants;
// the built-in check fails while an address is missing. State files are
// written atomically and a corrupt one is reported, not thrown.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, type ServiceConfig } from '../../../src/config/index.js';
import { HostAddressManager } from '../../../src/host/addresses.js';
import { checkHostAddress, forgetAddressSnapshot } from '../../../src/sources/health/checks/index.js';
import { makeLogger } from '../../../src/log.js';
import { readStateFile, writeStateFile } from '../../../src/state-dir.js';
import { testNetns } from '../../support/netns-enter.js';

const netns = testNetns({ file: 'test/src/host/addresses.test.ts', tag: 'hostaddr' });

/** Addresses on lo in the namespace (the test thread is in it, so plain `ip` sees it). */
function lo(): string[] {
  const j = JSON.parse(execFileSync('ip', ['-j', 'address', 'show', 'dev', 'lo'], { encoding: 'utf8' })) as { addr_info: { local: string; prefixlen: number }[] }[];
  return j.flatMap((i) => i.addr_info.map((a) => `${a.local}/${a.prefixlen}`));
}

function services(yaml: string): ServiceConfig[] {
  return [
    ...parseConfig(
      `router_id: 192.0.2.11
asn: 65011
peers:
  - { name: up, address: 192.0.2.1, asn: 65000, families: [ipv4, ipv6] }
services:
${yaml}`,
      'herald.yaml',
    ).services,
  ];
}

const DNS = services(`  - name: dns
    prefixes: [198.51.100.53/32, "2001:db8:53::53/128"]
    host_addresses: { mode: add }
    checks: [ { tcp: { address: 127.0.0.1, port: 53 } } ]
  - name: web
    prefixes: [198.51.100.80/32]
    host_addresses: { mode: add }
    checks: [ { tcp: { address: 127.0.0.1, port: 80 } } ]
`);

describe.skipIf(!netns.canRun)('service addresses on lo (network namespace)', () => {
  let dir = '';
  const log = makeLogger('silent');
  beforeAll(() => {
    netns.setUp();
    dir = mkdtempSync(join(tmpdir(), 'herald-hostaddr-'));
  });
  afterAll(() => {
    netns.cleanUp();
    rmSync(dir, { recursive: true, force: true });
  });

  it('adds what is missing, leaves an address it did not add, and removes only its own', async () => {
    execFileSync('ip', ['address', 'add', '198.51.100.80/32', 'dev', 'lo']); // web's, put there by the operator
    const m = new HostAddressManager({ stateDir: dir, log });
    await m.addMissing(DNS);
    expect(lo()).toEqual(expect.arrayContaining(['198.51.100.53/32', '2001:db8:53::53/128', '198.51.100.80/32']));
    expect(m.owned().map((a) => a.address).sort()).toEqual(['198.51.100.53/32', '2001:db8:53::53/128']);
    expect(JSON.parse(readFileSync(join(dir, 'addresses.json'), 'utf8'))).toEqual({ version: 1, added: m.owned() });
    await m.removeAll();
    expect(lo()).not.toContain('198.51.100.53/32');
    expect(lo()).not.toContain('2001:db8:53::53/128');
    expect(lo()).toContain('198.51.100.80/32');
    execFileSync('ip', ['address', 'del', '198.51.100.80/32', 'dev', 'lo']);
  });

  it('after a crash, the next start knows its own addresses and removes those no service wants', async () => {
    const crashed = new HostAddressManager({ stateDir: dir, log });
    await crashed.addMissing(DNS); // ...and never stops
    const next = new HostAddressManager({ stateDir: dir, log });
    const onlyWeb = DNS.filter((s) => s.name === 'web');
    expect(next.hasUnwanted(onlyWeb)).toBe(true);
    await next.removeUnwanted(onlyWeb);
    expect(lo()).not.toContain('198.51.100.53/32');
    expect(lo()).toContain('198.51.100.80/32');
    await next.removeAll();
    expect(lo()).not.toContain('198.51.100.80/32');
  });

  it('the built-in check fails while an address is missing, passes once it is there', async () => {
    const spec = DNS[0]!.checks.find((c) => c.kind === 'host_address')!;
    expect(spec).toEqual({ kind: 'host_address', interface: 'lo', addresses: ['198.51.100.53/32', '2001:db8:53::53/128'] });
    if (spec.kind !== 'host_address') throw new Error('not a host_address check');
    forgetAddressSnapshot();
    const missing = await checkHostAddress(spec, new AbortController().signal);
    expect(missing).toMatchObject({ ok: false, detail: '198.51.100.53/32, 2001:db8:53::53/128 are not on lo (or lo is down): this host cannot answer on them' });
    execFileSync('ip', ['address', 'add', '198.51.100.53/32', 'dev', 'lo']);
    execFileSync('ip', ['-6', 'address', 'add', '2001:db8:53::53/128', 'dev', 'lo', 'nodad']);
    forgetAddressSnapshot();
    expect(await checkHostAddress(spec, new AbortController().signal)).toMatchObject({ ok: true, detail: '198.51.100.53/32, 2001:db8:53::53/128 on lo' });
  });

  it('an interface that does not exist is logged and the address not claimed', async () => {
    const lines: string[] = [];
    const m = new HostAddressManager({ stateDir: dir, log: makeLogger('info', { write: (l: string) => lines.push(l) } as unknown as NodeJS.WritableStream) });
    await m.addMissing(services(`  - name: x
    prefixes: [198.51.100.99/32]
    host_addresses: { mode: add, interface: nosuch0 }
    checks: [ { tcp: { address: 127.0.0.1, port: 53 } } ]
`));
    expect(m.owned()).toEqual([]);
    expect(lines.map((l) => JSON.parse(l) as { msg: string; err: string })).toContainEqual(expect.objectContaining({ msg: 'cannot add the service address; its service fails its address check', err: 'no interface nosuch0' }));
  });
});

describe('state files', () => {
  it('are written whole (no temporary left) and a bad one is reported with its file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-state-'));
    try {
      const file = writeStateFile(join(dir, 'sub'), 'drain.json', { version: 1, drained: { dns: 'now' } });
      expect(readdirSync(join(dir, 'sub'))).toEqual(['drain.json']);
      const check = (v: unknown): { dns?: string } | string => ((v as { drained?: unknown }).drained as { dns?: string }) ?? 'no drained';
      expect(readStateFile(join(dir, 'sub'), 'drain.json', check)).toEqual({ value: { dns: 'now' }, error: null });
      expect(readStateFile(dir, 'absent.json', check)).toEqual({ value: null, error: null });
      writeFileSync(file, '{"version": 1, "drai');
      expect(readStateFile(join(dir, 'sub'), 'drain.json', check).error).toMatch(new RegExp(`^${file} is not JSON: `));
      writeFileSync(file, '{"version": 1}');
      expect(readStateFile(join(dir, 'sub'), 'drain.json', check)).toEqual({ value: null, error: `${file}: no drained` });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
