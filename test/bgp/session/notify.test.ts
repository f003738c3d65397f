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
