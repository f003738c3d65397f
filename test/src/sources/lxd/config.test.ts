import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../../src/config/index.js';
import { lxdRulesFromConfig, lxdSourceFromConfig } from '../../../../src/sources/lxd/index.js';

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
      chassisName: null,
      ovnSb: null,
      rules: { ovnNetworks: true, routesExternal: true, nicAddresses: false, forwards: true, loadBalancers: true, bridgeSubnets: false, userRoutes: true },
      coalesceMs: 20,
      resyncMs: 60_000,
      unreachableWithdrawAfterMs: 600_000,
      checkIntervalMs: 2000,
      checkTimeoutMs: 1000,
      checkRise: 2,
      checkFall: 2,
    });
    expect(lxdRulesFromConfig(c.lxd!)).toMatchObject({
      projects: [],
      announceFrom: 'all-members',
      chassisName: null,
      nicAddresses: false,
      userRoutesKey: 'user.herald.routes',
      checkTimeoutMs: 1000,
    });
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

  it('reads chassis_name with active-chassis', async () => {
    const c = await load('  announce_from: active-chassis\n  chassis_name: hv1.example.org\n');
    expect(c.lxd).toMatchObject({ announceFrom: 'active-chassis', chassisName: 'hv1.example.org' });
    expect(lxdRulesFromConfig(c.lxd!)).toMatchObject({ announceFrom: 'active-chassis', chassisName: 'hv1.example.org' });
  });

  it('reads ovn_sb with active-chassis, and the source built from it follows the southbound database', async () => {
    const c = await load('  announce_from: active-chassis\n  ovn_sb: "tcp:192.0.2.1:6642,tcp:[2001:db8::1]:6642"\n');
    expect(c.lxd).toMatchObject({ announceFrom: 'active-chassis', ovnSb: 'tcp:192.0.2.1:6642,tcp:[2001:db8::1]:6642' });
    const src = lxdSourceFromConfig({ ...c.lxd!, socket: '/nonexistent/lxd.sock' }, () => {});
    expect(src.state().ovnSb).toMatchObject({ endpoint: 'tcp:192.0.2.1:6642,tcp:[2001:db8::1]:6642', connected: false, syncs: 0 });
    expect(lxdSourceFromConfig({ ...c.lxd!, socket: '/nonexistent/lxd.sock', ovnSb: null }, () => {}).state().ovnSb).toBeNull();
  });

  it('reads user.herald.check timings: check_interval, check_timeout, check_rise, check_fall', async () => {
    const c = await load('  check_interval: 5s\n  check_timeout: 1500ms\n  check_rise: 3\n  check_fall: 1\n');
    expect(c.lxd).toMatchObject({ checkIntervalMs: 5000, checkTimeoutMs: 1500, checkRise: 3, checkFall: 1 });
    expect(lxdRulesFromConfig(c.lxd!).checkTimeoutMs).toBe(1500);
    // The timeout defaults to the smaller of 1 s and the interval.
    expect((await load('  check_interval: 400ms\n')).lxd).toMatchObject({ checkIntervalMs: 400, checkTimeoutMs: 400 });
    expect((await load('  check_interval: 10\n')).lxd).toMatchObject({ checkIntervalMs: 10_000, checkTimeoutMs: 1000 });
  });

  it('refuses bad check timings with file:line:column and the key path', async () => {
    const fails = async (lxd: string): Promise<string> => {
      const e = await load(lxd).then(
        () => null,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(ConfigError);
      const issues = (e as ConfigError).issues;
      expect(issues).toHaveLength(1);
      const i = issues[0]!;
      return `${i.line}:${i.column} ${i.path}: ${i.message}`;
    };
    // Line 5 is the first line of the lxd section (after 3 base lines and "lxd:").
    expect(await fails('  check_interval: 50ms\n')).toBe('5:19 lxd.check_interval: check_interval 50ms is too short (at least 100ms)');
    expect(await fails('  check_interval: 2s\n  check_timeout: 3s\n')).toBe('6:18 lxd.check_timeout: check_timeout 3s is longer than check_interval 2s');
    expect(await fails('  check_timeout: 0s\n')).toBe('5:18 lxd.check_timeout: check_timeout must be longer than 0s');
    expect(await fails('  check_interval: 2ss\n')).toBe('5:19 lxd.check_interval: expected a duration like 500ms or 2s, got "2ss" (write 2s)');
    expect(await fails('  check_rise: 0\n')).toBe('5:15 lxd.check_rise: expected a count 1..1000, got 0');
    expect(await fails('  check_fall: 2.5\n')).toBe('5:15 lxd.check_fall: expected a count 1..1000, got 2.5');
    expect(await fails('  check_intervall: 2s\n')).toBe("5:3 lxd.check_intervall: unknown key 'check_intervall' — did you mean 'check_interval'?");
    expect(await fails('  chassis_name: hv1\n')).toBe('5:17 lxd.chassis_name: chassis_name is only used with announce_from: active-chassis');
    expect(await fails('  announce_from: active-chassis\n  chassis_name: "hv 1"\n')).toBe('6:17 lxd.chassis_name: expected a chassis host name without spaces, got "hv 1"');
    expect(await fails('  ovn_sb: unix:/run/ovn/ovnsb_db.sock\n')).toBe('5:11 lxd.ovn_sb: ovn_sb is only used with announce_from: active-chassis');
    expect(await fails('  announce_from: active-chassis\n  ovn_sb: ssl:192.0.2.1:6642\n')).toBe(
      '6:11 lxd.ovn_sb: "ssl:192.0.2.1:6642": ssl: is not supported (herald speaks OVSDB over unix: or tcp: only)',
    );
    // The formatted error names the file first.
    await expect(load('  check_interval: 50ms\n')).rejects.toThrow(/\.yaml:5:19: lxd\.check_interval: check_interval 50ms is too short/);
  });

  it('refuses url without certificates, socket with url, certificates without url, unknown keys', async () => {
    await expect(load('  url: https://192.0.2.5:8443\n')).rejects.toBeInstanceOf(ConfigError);
    await expect(load('  url: https://192.0.2.5:8443\n  socket: /x\n  client_cert: /a\n  client_key: /b\n  server_cert: /c\n')).rejects.toThrow(/either socket or url/);
    await expect(load('  client_cert: /a\n')).rejects.toThrow(/only used with url/);
    await expect(load('  announce_from: somewhere\n')).rejects.toThrow(/all-members, active-chassis/);
    await expect(load('  rules: { nat: true }\n')).rejects.toBeInstanceOf(ConfigError);
  });
});
