// The operator's per-peer actions in the speaker (issue 10 item 7), on the
// wire: a Speaker on loopback, its peer played by a raw BGP client
// (test/support/bgp-client.ts, not herald's codecs).
//
// - down: NOTIFICATION Cease/Administrative Shutdown (RFC 4486 §4 subcode 2)
//   carrying the RFC 9003 shutdown communication (length octet + UTF-8);
//   the peer stays Idle and its new connections are refused until up;
// - up: the peer's connection is accepted again and the routes follow;
// - refresh: every route re-sent on the same session (no NOTIFICATION);
// - reset: Cease/Administrative Reset (subcode 4) with its text, then a new
//   session is accepted at once;
// - refusals: reset of a peer that is down, refresh without a session, an
//   unknown peer (ENOPEER).
// test/interop/cli-frr.test.ts does down/up/reset against FRR through the CLI.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testNetns } from '../../support/netns-enter.js';
import { Speaker, type SpeakerEvent } from '../../../bgp/index.js';
import { RawPeer } from '../../support/bgp-client.js';

const CEASE = 6;
const ADMIN_SHUTDOWN = 2;
const ADMIN_RESET = 4;
const UPDATE = 2;
const OPEN = 1;

/** RFC 9003 §2: the shutdown communication's length octet and its UTF-8. */
const communication = (text: string): number[] => {
  const b = Buffer.from(text, 'utf8');
  return [b.length, ...b];
};

// Speakers listen and dial on 127.0.0.x of a network namespace of this file's own: a routing daemon never runs in the host's.
const netns = testNetns({ file: 'test/bgp/driver/peer-actions.test.ts', tag: 'peer-actions' });

describe.skipIf(!netns.canRun)('in a network namespace', () => {
  beforeAll(() => netns.setUp());
  afterAll(() => netns.cleanUp());

  describe('Speaker.peerAction: down, up, refresh, reset on the wire', () => {
    const sp = new Speaker({ asn: 65011, routerId: '192.0.2.11', listen: { address: '127.0.0.1', port: 0 } });
    const events: SpeakerEvent[] = [];
    let port = 0;
    let peer: RawPeer;
    const snap = () => sp.snapshot().find((p) => p.name === 'r')!;

    /** Connect from the peer's address and reach Established; herald's route must follow. */
    async function connectAndEstablish(): Promise<RawPeer> {
      const p = await RawPeer.connect('127.0.0.1', port, '127.0.0.2');
      await p.establish(65020, '192.0.2.2');
      await p.until(() => p.received.some((r) => r.type === UPDATE), 5_000, "herald's UPDATE");
      return p;
    }

    beforeAll(async () => {
      sp.addPeer({ name: 'r', address: '127.0.0.2', asn: 65020, passive: true, holdTime: 90 });
      sp.on((e) => events.push(e));
      await sp.start();
      port = sp.listenAddress!.port;
      sp.setRoutes('r', [{ prefix: '198.51.100.53/32', nextHop: 'self' }]);
      peer = await connectAndEstablish();
    });

    afterAll(async () => {
      peer?.close();
      await sp.stop('test done', { timeoutMs: 500 });
    });

    it('refresh re-sends the routes on the same session', async () => {
      const before = peer.received.filter((r) => r.type === UPDATE).length;
      const r = await sp.peerAction('r', 'refresh');
      expect(r).toMatchObject({ peer: 'r', action: 'refresh', changed: true, refused: null });
      await peer.until(() => peer.received.filter((m) => m.type === UPDATE).length > before, 5_000, 'the re-sent UPDATE');
      expect(peer.notification()).toBeUndefined();
      expect(peer.closed).toBe(false);
      expect(snap().state).toBe('Established');
    });

    it('down: Cease/Administrative Shutdown with the RFC 9003 text, then Idle, the peer refused until up', async () => {
      const t0 = performance.now();
      const r = await sp.peerAction('r', 'down', { message: 'maintenance: linecard swap' });
      const ms = performance.now() - t0;
      expect(r).toMatchObject({ changed: true, refused: null, snapshot: { state: 'Idle', adminDown: { message: 'maintenance: linecard swap' } } });
      await peer.until(() => peer.closed, 2_000, 'the close');
      expect(peer.notification()).toEqual({ type: 3, code: CEASE, subcode: ADMIN_SHUTDOWN, data: communication('maintenance: linecard swap') });
      expect(events).toContainEqual({ type: 'peer-action', peer: 'r', action: 'down', message: 'maintenance: linecard swap' });
      console.log(`peer down answered in ${ms.toFixed(0)} ms (once the connection was closed)`);

      // The peer dials again: herald does not open a session with it.
      const again = await RawPeer.connect('127.0.0.1', port, '127.0.0.2');
      await again.until(() => again.closed, 3_000, 'herald to close the refused connection');
      expect(again.received.some((m) => m.type === OPEN)).toBe(false);
      expect(snap()).toMatchObject({ state: 'Idle', adminDown: { message: 'maintenance: linecard swap' }, heldDownMs: null });

      // Down twice: no change. Reset and refresh: refused with the reason.
      expect(await sp.peerAction('r', 'down')).toMatchObject({ changed: false, refused: null });
      expect(await sp.peerAction('r', 'reset')).toMatchObject({ changed: false, refused: { code: 'peer-down' } });
      expect(await sp.peerAction('r', 'refresh')).toMatchObject({ changed: false, refused: { code: 'no-session' } });
    });

    it('up: the peer is accepted again and gets the routes', async () => {
      const r = await sp.peerAction('r', 'up');
      expect(r).toMatchObject({ changed: true, snapshot: { adminDown: null } });
      peer = await connectAndEstablish();
      expect(snap().state).toBe('Established');
      expect(await sp.peerAction('r', 'up')).toMatchObject({ changed: false });
    });

    it('reset: Cease/Administrative Reset with its text, and a new session at once', async () => {
      const r = await sp.peerAction('r', 'reset', { message: 'policy change' });
      expect(r).toMatchObject({ changed: true, refused: null });
      await peer.until(() => peer.closed, 2_000, 'the close');
      expect(peer.notification()).toEqual({ type: 3, code: CEASE, subcode: ADMIN_RESET, data: communication('policy change') });
      peer = await connectAndEstablish();
      expect(snap()).toMatchObject({ state: 'Established', adminDown: null });
    });

    it('an unknown peer is an error with code ENOPEER', async () => {
      await expect(sp.peerAction('nope', 'down')).rejects.toMatchObject({ code: 'ENOPEER' });
    });
  });
});
