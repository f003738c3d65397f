import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../../src/config/index.js';
import { lxdRulesFromConfig } from '../../../../src/sources/lxd/index.js';

const dir = mkdtempSync(join(tmpdir(), 'herald-lxd-cfg-'));
const base = 'router_id: 192.0.2.1\nasn: 65001\npeers: [{ name: up1, address: 192.0.2.254, asn: 65000 }]\n';
async function load(lxd: string) {
  const f = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(f, `${base}lxd:\n${lxd}`);
  return loadConfig(f);
}

describe('lxd config section', () => {
  it('fills defaults: probe the default sockets, all projects, every rule but the opt-in ones', async () => {
    const c = await load('  rules: {}\n');
    expect(c.lxd).toEqual({
      socket: null,
      project: null,
      https: null,
      uplinks: [],
      announceFrom: 'all-members',
      rules: { ovnNetworks: true, routesExternal: true, nicAddresses: false, forwards: true, loadBalancers: true, bridgeSubnets: false, userRoutes: true },
      coalesceMs: 20,
      resyncMs: 60_000,
      unreachableWithdrawAfterMs: 600_000,
    });
    expect(lxdRulesFromConfig(c.lxd!)).toMatchObject({ projects: [], announceFrom: 'all-members', nicAddresses: false, userRoutesKey: 'user.herald.routes' });
  });

  it('reads an HTTPS endpoint, uplinks, active-chassis and the withdraw limit', async () => {
    const c = await load(
      '  url: https://192.0.2.5:8443\n  client_cert: /etc/herald/lxd.crt\n  client_key: /etc/herald/lxd.key\n  server_cert: /etc/herald/server.crt\n' +
        '  uplinks: [UPLINK]\n  announce_from: active-chassis\n  project: tenant\n  unreachable_withdraw_after: 30s\n',
    );
    expect(c.lxd).toMatchObject({
      socket: null,
      project: 'tenant',
      https: { url: 'https://192.0.2.5:8443', clientCert: '/etc/herald/lxd.crt', clientKey: '/etc/herald/lxd.key', serverCert: '/etc/herald/server.crt' },
      uplinks: ['UPLINK'],
      announceFrom: 'active-chassis',
      unreachableWithdrawAfterMs: 30_000,
    });
    expect(lxdRulesFromConfig(c.lxd!).projects).toEqual(['tenant']);
  });

  it('refuses url without certificates, socket with url, certificates without url, unknown keys', async () => {
    await expect(load('  url: https://192.0.2.5:8443\n')).rejects.toBeInstanceOf(ConfigError);
    await expect(load('  url: https://192.0.2.5:8443\n  socket: /x\n  client_cert: /a\n  client_key: /b\n  server_cert: /c\n')).rejects.toThrow(/either socket or url/);
    await expect(load('  client_cert: /a\n')).rejects.toThrow(/only used with url/);
    await expect(load('  announce_from: somewhere\n')).rejects.toThrow(/all-members, active-chassis/);
    await expect(load('  rules: { nat: true }\n')).rejects.toBeInstanceOf(ConfigError);
  });
});
