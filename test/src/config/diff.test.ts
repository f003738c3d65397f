import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { diffConfig, parseConfig } from '../../../src/config/index.js';

const EXAMPLE = readFileSync(new URL('./fixtures/issue-example.yaml', import.meta.url), 'utf8');
const load = (text: string) => parseConfig(text, 'herald.yaml');
const edit = (from: string, to: string): string => {
  expect(EXAMPLE).toContain(from);
  return EXAMPLE.replace(from, to);
};

describe('diffConfig', () => {
  const old = load(EXAMPLE);

  it('finds nothing between a config and itself', () => {
    const d = diffConfig(old, load(EXAMPLE));
    expect(d.peers).toEqual({ added: [], removed: [], changed: [], unchanged: ['upstream1', 'upstream2', 'vultr'] });
    expect(d.services).toEqual({ added: [], removed: [], changed: [] });
    expect(d.staticChanged).toBe(false);
    expect(d.sections).toEqual([]);
  });

  it('a changed service leaves every session alone', () => {
    const d = diffConfig(old, load(edit('    interval: 1s', '    interval: 3s')));
    expect(d.services.changed).toEqual(['dns']);
    expect(d.peers.changed).toEqual([]);
  });

  it.each([
    ['hold_time', '    hold_time: 9', '    hold_time: 30', 'upstream1'],
    ['password', '    password: "change-me"', '    password: "changed"', 'vultr'],
    ['multihop', '    multihop: 2', '    multihop: 3', 'vultr'],
    ['local_address', '    local_address: 192.0.2.11', '    local_address: 192.0.2.12', 'vultr'],
    ['families', '    families: [ipv4, ipv6]', '    families: [ipv6]', 'upstream2'],
    ['asn', '    asn: 64515', '    asn: 64516', 'vultr'],
    ['address', '    address: 192.0.2.1\n', '    address: 192.0.2.2\n', 'upstream1'],
    ['port', '    hold_time: 9', '    hold_time: 9\n    port: 1179', 'upstream1'],
    ['passive', '    hold_time: 9', '    hold_time: 9\n    passive: true', 'upstream1'],
    ['local_asn', '    hold_time: 9', '    hold_time: 9\n    local_asn: 65099', 'upstream1'],
  ])('a changed %s resets only that session', (field, from, to, peer) => {
    const d = diffConfig(old, load(edit(from, to)));
    expect(d.peers.changed).toEqual([{ name: peer, resetSession: true, session: [field], routes: [], other: [] }]);
    expect(d.peers.unchanged).not.toContain(peer);
  });

  it('families in another order are the same families', () => {
    const d = diffConfig(old, load(edit('    families: [ipv4, ipv6]', '    families: [ipv6, ipv4]')));
    expect(d.peers.changed).toEqual([]);
  });

  it('route-only and cosmetic peer changes keep the session', () => {
    const d = diffConfig(
      old,
      load(edit('    hold_time: 9', '    hold_time: 9\n    import: none\n    max_prefixes: 10\n    description: rack 4\n    connect_retry: 3s\n    idle_hold: 10s')),
    );
    expect(d.peers.changed).toEqual([
      { name: 'upstream1', resetSession: false, session: [], routes: ['import', 'max_prefixes'], other: ['connect_retry', 'idle_hold', 'description'] },
    ]);
  });

  it('peer_defaults reach every peer without a reset; a graceful_restart section resets every session', () => {
    const d = diffConfig(old, load(`${EXAMPLE}\npeer_defaults: { idle_hold_max: 1m }\n`));
    expect(d.peers.changed.map((c) => [c.name, c.resetSession, c.other])).toEqual([
      ['upstream1', false, ['idle_hold_max']],
      ['upstream2', false, ['idle_hold_max']],
      ['vultr', false, ['idle_hold_max']],
    ]);
    expect(d.sections).toEqual(['peer_defaults']);
    const g = diffConfig(old, load(`${EXAMPLE}\ngraceful_restart: { restart_time: 30s, notification: true }\n`));
    expect(g.peers.changed.map((c) => [c.name, c.resetSession, c.session])).toEqual([
      ['upstream1', true, ['graceful_restart', 'graceful_restart.notification']],
      ['upstream2', true, ['graceful_restart', 'graceful_restart.notification']],
      ['vultr', true, ['graceful_restart', 'graceful_restart.notification']],
    ]);
    expect(g.sections).toEqual(['graceful_restart']);
  });

  it('a new router_id or global asn resets every session that uses it', () => {
    const d = diffConfig(old, load(edit('router_id: 192.0.2.11', 'router_id: 192.0.2.12')));
    expect(d.peers.changed.map((c) => [c.name, c.resetSession, c.session])).toEqual([
      ['upstream1', true, ['router_id']],
      ['upstream2', true, ['router_id']],
      ['vultr', true, ['router_id']],
    ]);
    const withLocal = load(edit('    hold_time: 9', '    hold_time: 9\n    local_asn: 65099'));
    const d2 = diffConfig(withLocal, load(edit('    hold_time: 9', '    hold_time: 9\n    local_asn: 65099').replace('asn: 65011', 'asn: 65012')));
    expect(d2.peers.changed.map((c) => c.name)).toEqual(['upstream2', 'vultr']);
    expect(d2.peers.changed[0]!.session).toEqual(['asn (global)']);
  });

  it('added and removed peers and services, static and other sections', () => {
    const text = edit('  - name: vultr', '  - name: vultr2')
      .replace('  - name: www', '  - name: web')
      .replace('203.0.113.0/24', '203.0.113.0/25')
      .replace('api: { socket: /run/herald/herald.sock }', 'api: { socket: /run/herald/other.sock }\nlogging: { level: debug }');
    const d = diffConfig(old, load(text));
    expect(d.peers.added).toEqual(['vultr2']);
    expect(d.peers.removed).toEqual(['vultr']);
    expect(d.services.added).toEqual(['web']);
    expect(d.services.removed).toEqual(['www']);
    expect(d.staticChanged).toBe(true);
    expect(d.sections).toEqual(['api', 'logging']);
  });

  it('never shows the password in its output', () => {
    const d = diffConfig(old, load(edit('    password: "change-me"', '    password: "s3cret-2"')));
    expect(JSON.stringify(d)).not.toMatch(/change-me|s3cret-2/);
  });
});
