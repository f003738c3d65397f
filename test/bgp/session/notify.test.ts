/**
 * NOTIFICATION objects the session builds, byte for byte, and End-of-RIB markers.
 */
import { describe, expect, it } from 'vitest';
import {
  ceaseNotification,
  fsmErrorNotification,
  maxPrefixNotification,
  reasonFromNotification,
} from '../../../bgp/session/notify.js';
import { endOfRib, endOfRibFamily } from '../../../bgp/session/eor.js';

describe('ceaseNotification (RFC 9003)', () => {
  it('Administrative Shutdown with text: length octet + UTF-8', () => {
    const n = ceaseNotification(2, 'bye ✓');
    expect([...n.data]).toEqual([7, 0x62, 0x79, 0x65, 0x20, 0xe2, 0x9c, 0x93]);
    expect(n.shutdownText).toBe('bye ✓');
  });

  it('Administrative Reset also carries text; other subcodes do not', () => {
    expect(ceaseNotification(4, 'x').data[0]).toBe(1);
    expect(ceaseNotification(3, 'x').data.length).toBe(0);
    expect(ceaseNotification(2).data.length).toBe(0);
    expect(ceaseNotification(2, '').data.length).toBe(0);
  });

  it('truncates to 255 octets without splitting a character', () => {
    const n = ceaseNotification(2, 'é'.repeat(200)); // 400 octets
    expect(n.data[0]).toBe(254);
    expect(n.data.length).toBe(255);
    expect(n.shutdownText).toBe('é'.repeat(127));
    const ascii = ceaseNotification(2, 'a'.repeat(300));
    expect(ascii.data[0]).toBe(255);
  });
});

describe('other NOTIFICATIONs', () => {
  it('maxPrefixNotification: AFI(2) SAFI(1) limit(4)', () => {
    const n = maxPrefixNotification(2, 1, 0x01020304);
    expect([n.code, n.subcode, ...n.data]).toEqual([6, 1, 0, 2, 1, 1, 2, 3, 4]);
  });

  it('fsmErrorNotification: one octet message type, or none', () => {
    expect([...fsmErrorNotification(1, 4).data]).toEqual([4]);
    expect(fsmErrorNotification(0).data.length).toBe(0);
  });

  it('reasonFromNotification names the error and quotes the text', () => {
    const r = reasonFromNotification(ceaseNotification(2, 'maintenance'), 'received');
    expect(r).toMatchObject({ kind: 'received-notification', code: 6, subcode: 2, shutdownText: 'maintenance' });
    expect(r.message).toBe('received Cease/AdministrativeShutdown: "maintenance"');
  });
});

describe('End-of-RIB (RFC 4724 §2)', () => {
  it('round-trips through endOfRibFamily', () => {
    expect(endOfRibFamily(endOfRib(1, 1))).toBe('1/1');
    expect(endOfRibFamily(endOfRib(2, 1))).toBe('2/1');
    expect(endOfRib(1, 1)).toEqual({ type: 'update', withdrawn: [], attributes: {}, nlri: [] });
  });

  it('an ordinary UPDATE or an MP_UNREACH with NLRI is not End-of-RIB', () => {
    const p = { prefix: { afi: 2 as const, len: 32, addr: new Uint8Array(16) } };
    expect(endOfRibFamily({ type: 'update', withdrawn: [], attributes: { mpUnreach: { afi: 2, safi: 1, nlri: [p] } }, nlri: [] })).toBeNull();
    expect(endOfRibFamily({ type: 'update', withdrawn: [], attributes: { origin: 0 }, nlri: [] })).toBeNull();
    expect(
      endOfRibFamily({ type: 'update', withdrawn: [], attributes: { origin: 0, mpUnreach: { afi: 2, safi: 1, nlri: [] } }, nlri: [] }),
    ).toBeNull();
  });
});
