/**
 * Connection collision (RFC 4271 §6.8, RFC 6286 §2.3), in both directions,
 * driven the way the driver will: two session states, checkCollision after
 * each step, OpenCollisionDump to the loser.
 */
import { describe, expect, it } from 'vitest';
import {
  checkCollision,
  incomingDisposition,
  resolveCollision,
  trackIncoming,
} from '../../../bgp/session/collision.js';
import { step } from '../../../bgp/session/fsm.js';
import type { FsmState, SessionState } from '../../../bgp/session/types.js';
import { expectNotifiedDown, peerOpen, sessionIn } from './fixtures.js';

describe('resolveCollision', () => {
  it.each([
    // [local id, remote id, localAs, remoteAs, keep]
    ['192.0.2.1', '192.0.2.2', 65001, 65002, 'incoming'],
    ['192.0.2.2', '192.0.2.1', 65001, 65002, 'outgoing'],
    // unsigned comparison: 255.x is larger than 1.x (a signed compare would invert it)
    ['255.0.0.1', '1.0.0.1', 65001, 65002, 'outgoing'],
    ['1.0.0.1', '255.0.0.1', 65001, 65002, 'incoming'],
    ['128.0.0.0', '127.255.255.255', 65001, 65002, 'outgoing'],
    // RFC 6286 §2.3: equal identifiers, the larger AS's connection survives
    ['192.0.2.9', '192.0.2.9', 65010, 65002, 'outgoing'],
    ['192.0.2.9', '192.0.2.9', 65001, 4_200_000_000, 'incoming'],
  ] as const)('local %s remote %s (AS %i/%i) keeps %s', (localId, remoteId, localAs, remoteAs, keep) => {
    const d = resolveCollision({ localId, remoteId, localAs, remoteAs });
    expect(d.keep).toBe(keep);
    expect(d.dump).toBe(keep === 'outgoing' ? 'incoming' : 'outgoing');
    expect([d.notification.code, d.notification.subcode, d.notification.data.length]).toEqual([6, 7, 0]);
  });
});

describe('incomingDisposition', () => {
  it.each<[FsmState, string]>([
    ['Idle', 'reject'],
    ['Connect', 'attach'],
    ['Active', 'attach'],
    ['OpenSent', 'track'],
    ['OpenConfirm', 'track'],
    ['Established', 'track'],
  ])('%s -> %s', (state, disposition) => {
    expect(incomingDisposition(sessionIn(state))).toBe(disposition);
  });

  it('Idle while damped after a protocol error rejects; Idle after a stop rejects', () => {
    const est = sessionIn('Established', { t: 0 });
    const damped = step(est, { type: 'NotifMsg', message: { type: 'notification', code: 3, subcode: 1, data: new Uint8Array() } }, 5).session;
    expect(damped.state).toBe('Idle');
    expect(incomingDisposition(damped)).toBe('reject');
    expect(incomingDisposition(step(est, { type: 'ManualStop' }, 5).session)).toBe('reject');
  });

  it("the router's own connection is taken after a clean Cease, a transport failure or a failed attempt", () => {
    const est = sessionIn('Established', { t: 0 });
    const cease = step(est, { type: 'NotifMsg', message: { type: 'notification', code: 6, subcode: 4, data: new Uint8Array() } }, 5).session;
    const reset = step(est, { type: 'TcpConnectionFails' }, 5).session;
    const refused = step(sessionIn('Connect'), { type: 'TcpConnectionFails' }, 5).session;
    for (const s of [cease, reset, refused]) expect(incomingDisposition(s)).toBe('attach');
    // an attached connection goes straight on to OpenSent
    const r = step(cease, { type: 'TcpConnectionConfirmed' }, 6);
    expect(r.session.state).toBe('OpenSent');
  });
});

/** Outgoing session in OpenSent plus a tracked incoming one that has sent our OPEN. */
function pair(localId: string): { out: SessionState; inc: SessionState } {
  const out = sessionIn('OpenSent', { cfg: { routerId: localId }, t: 0 });
  expect(incomingDisposition(out)).toBe('track');
  const tracked = trackIncoming(out);
  expect(tracked.state).toBe('Active');
  expect(tracked.config).toBe(out.config);
  const inc = step(tracked, { type: 'TcpConnectionConfirmed' }, 5);
  expect(inc.actions.map((a) => a.type)).toEqual(['send']);
  return { out, inc: inc.session };
}

describe('collision flow', () => {
  it('nothing to decide before any OPEN arrived', () => {
    const { out, inc } = pair('192.0.2.1');
    expect(checkCollision(out, inc)).toBeNull();
  });

  it('our Identifier lower: the peer-initiated (incoming) connection survives, outgoing gets Cease/7', () => {
    const { out, inc } = pair('192.0.2.1');
    const inc2 = step(inc, { type: 'BGPOpen', message: peerOpen() }, 10).session;
    const d = checkCollision(out, inc2)!;
    expect(d).toMatchObject({ keep: 'incoming', dump: 'outgoing' });
    const r = step(out, { type: 'OpenCollisionDump' }, 11);
    expectNotifiedDown(r, 6, 7, []);
    const down = r.actions[2]!;
    expect(down.type === 'session-down' && down.reason.kind).toBe('collision');
    // the loser is discarded: no restart armed, no failure counted
    expect(r.session.timers).toEqual({});
    expect(r.session.flaps).toBe(0);
    // the winner carries on to Established
    const e = step(inc2, { type: 'KeepAliveMsg' }, 12);
    expect(e.session.state).toBe('Established');
  });

  it('our Identifier higher: the connection we initiated survives, incoming gets Cease/7', () => {
    const { out, inc } = pair('198.51.100.1');
    const out2 = step(out, { type: 'BGPOpen', message: peerOpen() }, 10).session;
    expect(out2.state).toBe('OpenConfirm');
    const d = checkCollision(out2, inc)!;
    expect(d).toMatchObject({ keep: 'outgoing', dump: 'incoming' });
    expectNotifiedDown(step(inc, { type: 'OpenCollisionDump' }, 11), 6, 7, []);
  });

  it('against an Established connection the new one always loses', () => {
    const est = sessionIn('Established', { cfg: { routerId: '192.0.2.1' } });
    expect(incomingDisposition(est)).toBe('track');
    const inc = step(trackIncoming(est), { type: 'TcpConnectionConfirmed' }, 5).session;
    expect(checkCollision(est, inc)).toMatchObject({ keep: 'outgoing', dump: 'incoming' });
    expect(checkCollision(inc, est)).toMatchObject({ keep: 'incoming', dump: 'outgoing' });
  });

  it('trackIncoming keeps damping state and start mode of the primary', () => {
    let s = sessionIn('Established', { t: 0 });
    s = step(s, { type: 'NotifMsg', message: { type: 'notification', code: 3, subcode: 1, data: new Uint8Array() } }, 1).session;
    s = step(s, { type: 'IdleHoldTimer_Expires' }, s.timers.idleHold!).session;
    s = step(s, { type: 'Tcp_CR_Acked' }, 6000).session;
    const t = trackIncoming(s);
    expect(t.flaps).toBe(1);
    expect(t.autoStart).toBe(true);
    expect(t.rng).not.toBe(s.rng);
  });
});
