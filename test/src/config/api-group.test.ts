// api.group: parsed as a group name or a numeric gid, null when absent,
// printed by the effective config, and refused with a message when it is
// neither.
import { describe, expect, it } from 'vitest';
import { ConfigError, effectiveConfig, parseConfig } from '../../../src/config/index.js';

const BASE = `router_id: 192.0.2.11
asn: 65011
peers:
  - { name: up1, address: 192.0.2.1, asn: 65000 }
`;

const parse = (api: string): ReturnType<typeof parseConfig> => parseConfig(`${BASE}${api}\n`, 'herald.yaml');

function issue(api: string): string {
  try {
    parse(api);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).issues.map((i) => `${i.line}:${i.column} ${i.path}: ${i.message}`).join('\n');
  }
  throw new Error('expected a ConfigError');
}

describe('api.group', () => {
  it('is null when absent, and the effective config says so', () => {
    const c = parse('');
    expect(c.api).toEqual({ socket: '/run/herald/herald.sock', mode: 0o660, group: null, readonlySocket: '/run/herald/herald-ro.sock', readonlyMode: 0o666, operators: null });
    expect(effectiveConfig(c)['api']).toEqual({ socket: '/run/herald/herald.sock', mode: '0660', group: null, readonly_socket: '/run/herald/herald-ro.sock', readonly_mode: '0666', operators: null });
  });

  it('takes a group name', () => {
    const c = parse('api: { group: herald, mode: "0660" }');
    expect(c.api.group).toBe('herald');
    expect(effectiveConfig(c)['api']).toMatchObject({ group: 'herald', mode: '0660' });
  });

  it('takes a numeric gid (0 included)', () => {
    expect(parse('api: { group: 998 }').api.group).toBe(998);
    expect(parse('api: { group: 0 }').api.group).toBe(0);
  });

  it('refuses what is neither, pointing at the key', () => {
    expect(issue('api: { group: "bad group" }')).toMatch(/^5:\d+ api\.group: .*group name/);
    expect(issue('api: { group: -1 }')).toMatch(/api\.group/);
    expect(issue('api: { group: 1.5 }')).toMatch(/api\.group/);
    expect(issue('api: { group: [a] }')).toMatch(/api\.group/);
  });
});
