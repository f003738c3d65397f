/**
 * The MRT reader on records the corpus does not contain: BGP4MP_ET (RFC 6396
 * §3, microseconds counted in Length), STATE_CHANGE_AS4 (§4.4.2), IPv6
 * BGP4MP peers, and a record that runs short.
 */
import { describe, expect, it } from 'vitest';
import { BgpError } from '../../bgp/wire/errors.js';
import { mrtRecords } from './mrt.js';

/** Build bytes from hex with spaces. */
const hex = (s: string): Uint8Array => Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!.map((x) => parseInt(x, 16)));

const KEEPALIVE = 'ffffffffffffffffffffffffffffffff 0013 04';

describe('MRT reader', () => {
  it('reads BGP4MP_ET MESSAGE_AS4 with an IPv6 peer, microseconds inside Length', () => {
    const body = `0000fde8 fbf00001 0000 0002 20010db8000000000000000000000001 20010db8000000000000000000000002 ${KEEPALIVE}`;
    const len = hex(body).length + 4;
    const rec = [...mrtRecords(hex(`5f5e1000 0011 0004 ${len.toString(16).padStart(8, '0')} 0001e240 ${body}`))];
    expect(rec).toHaveLength(1);
    const m = rec[0]!;
    if (m.kind !== 'bgp4mp-message') throw new Error(m.kind);
    expect([m.time, m.micros, m.as4, m.local, m.addPath, m.peerAs, m.localAs, m.peerIp, m.localIp]).toEqual([
      0x5f5e1000, 123456, true, false, false, 65000, 4226809857, '2001:db8::1', '2001:db8::2',
    ]);
    expect(m.message).toHaveLength(19);
  });

  it('reads STATE_CHANGE_AS4', () => {
    const body = '0000fde8 0000fde9 0000 0001 c0000201 c0000202 0001 0006';
    const rec = [...mrtRecords(hex(`00000001 0010 0005 ${(hex(body).length).toString(16).padStart(8, '0')} ${body}`))];
    expect(rec[0]).toMatchObject({ kind: 'bgp4mp-state', as4: true, peerAs: 65000, localAs: 65001, peerIp: '192.0.2.1', oldState: 1, newState: 6 });
  });

  it('throws a BgpError naming the field when a record runs short', () => {
    expect(() => [...mrtRecords(hex('00000001 0010 0001 000000ff 0000'))]).toThrow(BgpError);
    expect(() => [...mrtRecords(hex('00000001 0010'))]).toThrow(/MRT/);
  });
});
