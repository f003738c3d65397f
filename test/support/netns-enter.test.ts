// The shared namespace scaffolding itself: setUp moves the test thread into a
// fresh namespace holding the given addresses, cleanUp brings it back and
// deletes the namespace; the net helpers work inside it.
import { afterAll, describe, expect, it } from 'vitest';
import { readlinkSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { spawnSync } from 'node:child_process';
import * as net from 'node:net';
import { testNetns } from './netns-enter.js';
import { GREETING, close, listen, port, readAll } from './net-helpers.js';

const netns = testNetns({ file: 'test/support/netns-enter.test.ts', tag: 'support' });
const here = (): string => readlinkSync('/proc/thread-self/ns/net');
const listed = (): string[] => spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').map((l) => l.split(' ')[0] ?? '');
const loAddresses = (): string[] => (networkInterfaces()['lo'] ?? []).map((a) => a.address);

describe.skipIf(!netns.canRun)('testNetns', () => {
  afterAll(() => netns.cleanUp());

  it('enters a namespace with lo up and the addresses given, then leaves and deletes it', async () => {
    const home = here();
    expect(netns.name).toMatch(/^herald-support-\d+-[0-9a-z]+$/);
    netns.setUp(['192.0.2.9/32', '2001:db8::9/128']);
    expect(here()).not.toBe(home);
    expect(listed()).toContain(netns.name);
    expect(loAddresses()).toEqual(expect.arrayContaining(['127.0.0.1', '192.0.2.9', '2001:db8::9']));

    const srv = await listen('192.0.2.9');
    try {
      expect(await readAll(net.connect(port(srv), '192.0.2.9'))).toBe(GREETING);
      // close() does not wait on a client that keeps its connection open
      const idle = net.connect(port(srv), '192.0.2.9');
      await new Promise((r) => idle.once('connect', r));
      await new Promise((r) => setTimeout(r, 20));
    } finally {
      await close(srv);
    }

    netns.cleanUp();
    expect(here()).toBe(home);
    expect(listed()).not.toContain(netns.name);
    expect(loAddresses()).not.toContain('192.0.2.9');
    expect(() => netns.cleanUp()).not.toThrow();
  });
});
