/**
 * Table tests on step(): for each RFC 4271 §8.2.2 state, the relevant events,
 * the next state and the exact actions.
 */
import { describe, expect, it } from 'vitest';
import { createSession, errorEvent, messageEvent, QUICK_RETRY_MS, step, stepAll } from '../../../bgp/session/fsm.js';
import { expiredTimers, nextDeadline } from '../../../bgp/session/timers.js';
import type { FsmAction, FsmEvent, FsmState, SessionState } from '../../../bgp/session/types.js';
import { BgpError, bgpError } from '../../../bgp/wire/errors.js';
import type { OpenMessage, UpdateMessage } from '../../../bgp/wire/types.js';
import { FamilyError } from '../../../bgp/wire/attributes/index.js';
import type { SessionConfigInput } from '../../../bgp/session/config.js';
import { CFG, expectNotifiedDown, peerOpen, run, sentNotification, sessionIn, types } from './fixtures.js';

const T0 = 1_000_000;
const update = (over: Partial<UpdateMessage> = {}): UpdateMessage => ({
  type: 'update',
  withdrawn: [],
  attributes: { origin: 0, asPath: [{ type: 2, asns: [65002] }], nextHop: '192.0.2.2' },
  nlri: [{ prefix: { afi: 1, len: 24, addr: new Uint8Array([198, 51, 100, 0]) } }],
  ...over,
});

describe('Idle', () => {
  it('ManualStart dials out: Connect, connect action, jittered ConnectRetry deadline (1 s × 0.75..1)', () => {
    const r = step(createSession(CFG), { type: 'ManualStart' }, T0);
    expect(r.session.state).toBe('Connect');
    expect(types(r.actions)).toEqual(['connect']);
    const d = r.session.timers.connectRetry! - T0;
    expect(d).toBeGreaterThanOrEqual(750);
    expect(d).toBeLessThanOrEqual(1000);
    expect(r.session.autoStart).toBe(true);
  });

  it('ManualStart with a passive config waits in Active without a ConnectRetry timer', () => {
    const r = step(createSession({ ...CFG, passive: true }), { type: 'ManualStart' }, T0);
    expect(r.session.state).toBe('Active');
    expect(r.actions).toEqual([]);
    expect(r.session.timers).toEqual({});
  });

  it.each(['ManualStart_with_PassiveTcpEstablishment', 'AutomaticStart_with_PassiveTcpEstablishment'] as const)(
    '%s waits in Active',
    (type) => {
      const r = step(createSession(CFG), { type }, T0);
      expect(r.session.state).toBe('Active');
      expect(r.session.passive).toBe(true);
      expect(r.actions).toEqual([]);
    },
  );

  it('AutomaticStart dials out when no IdleHold is pending', () => {
    const r = step(createSession(CFG), { type: 'AutomaticStart' }, T0);
    expect(r.session.state).toBe('Connect');
    expect(types(r.actions)).toEqual(['connect']);
  });

  it.each(['Tcp_CR_Acked', 'TcpConnectionConfirmed'] as const)('%s before any start is refused with close', (type) => {
    const r = step(createSession(CFG), { type }, T0);
    expect(r.session.state).toBe('Idle');
    expect(types(r.actions)).toEqual(['close']);
  });

  it('TcpConnectionConfirmed while damped (IdleHold running) is refused with close', () => {
    const damped = step(sessionIn('OpenSent'), { type: 'BGPOpen', message: peerOpen({ version: 5 }) }, T0).session;
    expect(damped.timers.idleHold).toBeDefined();
    const r = step(damped, { type: 'TcpConnectionConfirmed' }, T0 + 1);
    expect(r.session).toEqual(damped);
    expect(types(r.actions)).toEqual(['close']);
  });

  it('TcpConnectionConfirmed in Idle with autoStart and no IdleHold is taken: OPEN sent', () => {
    const s: SessionState = { ...sessionIn('Connect'), state: 'Idle', timers: {} };
    const r = step(s, { type: 'TcpConnectionConfirmed' }, T0);
    expect(r.session.state).toBe('OpenSent');
    expect(r.actions).toHaveLength(1);
    expect(r.actions[0]).toMatchObject({ type: 'send', message: { type: 'open' } });
  });

  it('Tcp_CR_Acked in Idle (our dial completing after we went down) is closed even when not held down', () => {
    const s: SessionState = { ...sessionIn('Connect'), state: 'Idle', timers: {} };
    expect(types(step(s, { type: 'Tcp_CR_Acked' }, T0).actions)).toEqual(['close']);
  });

  it.each<FsmEvent>([
    { type: 'KeepAliveMsg' },
    { type: 'BGPOpen', message: peerOpen() },
    { type: 'TcpConnectionFails' },
    { type: 'HoldTimer_Expires' },
    { type: 'MessageSent', kind: 'keepalive' },
  ])('$type changes nothing', (e) => {
    const s = createSession(CFG);
    const r = step(s, e, T0);
    expect(r.session).toEqual(s);
    expect(r.actions).toEqual([]);
  });

  it('ManualStop clears automatic restarts and a pending IdleHold deadline', () => {
    const est = sessionIn('Established', { t: T0 });
    const down = step(est, { type: 'UpdateMsgErr', error: bgpError(3, 1, 'malformed') }, T0 + 10).session;
    expect(down.timers.idleHold).toBeDefined();
    const r = step(down, { type: 'ManualStop' }, T0 + 20);
    expect(r.session.autoStart).toBe(false);
    expect(r.session.timers).toEqual({});
    expect(r.actions).toEqual([]);
  });
});

describe('Connect', () => {
  it('Tcp_CR_Acked sends our OPEN, stops ConnectRetry, sets the 4-minute OpenSent hold timer', () => {
    const s = sessionIn('Connect', { t: T0 });
    const r = step(s, { type: 'Tcp_CR_Acked' }, T0 + 100);
    expect(r.session.state).toBe('OpenSent');
    expect(types(r.actions)).toEqual(['send']);
    const a = r.actions[0]!;
    expect(a.type === 'send' && a.message.type).toBe('open');
    expect(r.session.timers).toEqual({ hold: T0 + 100 + 240_000 });
  });

  it('TcpConnectionConfirmed (the peer connected first) also reaches OpenSent', () => {
    const r = step(sessionIn('Connect'), { type: 'TcpConnectionConfirmed' }, 5);
    expect(r.session.state).toBe('OpenSent');
  });

  it('ConnectRetryTimer_Expires aborts the unanswered attempt and dials again with a longer deadline', () => {
    const s = sessionIn('Connect', { t: T0 });
    const at = s.timers.connectRetry!;
    const r = step(s, { type: 'ConnectRetryTimer_Expires' }, at);
    expect(r.session.state).toBe('Connect');
    expect(types(r.actions)).toEqual(['close', 'connect']);
    expect(r.session.connectRetryCounter).toBe(1);
    const d = r.session.timers.connectRetry! - at;
    expect(d).toBeGreaterThanOrEqual(1500);
    expect(d).toBeLessThanOrEqual(2000);
  });

  it('TcpConnectionFails (refused, reset) counts the attempt and waits in Active for the running deadline', () => {
    const s = sessionIn('Connect', { t: T0 });
    const r = step(s, { type: 'TcpConnectionFails' }, T0 + 10);
    expect(r.session.state).toBe('Active');
    expect(r.actions).toEqual([]);
    expect(r.session.timers.connectRetry).toBe(s.timers.connectRetry);
    expect(r.session.connectRetryCounter).toBe(1);
  });

  it('refused attempts back off 1, 2, 4, 8 s (× 0.75..1), each dial from Active', () => {
    let s = sessionIn('Connect', { t: 0 });
    let t = 0;
    const gaps: number[] = [];
    for (let i = 0; i < 4; i++) {
      s = step(s, { type: 'TcpConnectionFails' }, t).session;
      const at = s.timers.connectRetry!;
      const r = step(s, { type: 'ConnectRetryTimer_Expires' }, at);
      expect(types(r.actions)).toEqual(['connect']);
      s = r.session;
      gaps.push(s.timers.connectRetry! - at);
      t = at;
    }
    gaps.forEach((g, i) => {
      expect(g).toBeGreaterThanOrEqual(0.75 * 2000 * 2 ** i);
      expect(g).toBeLessThanOrEqual(2000 * 2 ** i);
    });
  });

  it('TcpConnectionFails with local (no route: our link is down) retries after the initial delay and resets the backoff', () => {
    let s = sessionIn('Connect', { t: 0 });
    // Four refusals first: the backoff has grown to 16 s.
    for (let i = 0; i < 4; i++) {
      s = step(s, { type: 'TcpConnectionFails' }, s.timers.connectRetry! - 1).session;
      s = step(s, { type: 'ConnectRetryTimer_Expires' }, s.timers.connectRetry!).session;
    }
    expect(s.connectRetryCounter).toBe(4);
    // Each attempt now fails at once (ENETUNREACH): retried within 0.75..1 s every time.
    let t = s.timers.connectRetry! - 15_000;
    for (let i = 0; i < 5; i++) {
      const r = step(s, { type: 'TcpConnectionFails', local: true }, t);
      expect(r.session.state).toBe('Active');
      expect(r.session.connectRetryCounter).toBe(0);
      const d = r.session.timers.connectRetry! - t;
      expect(d).toBeGreaterThanOrEqual(750);
      expect(d).toBeLessThanOrEqual(1000);
      t = r.session.timers.connectRetry!;
      s = step(r.session, { type: 'ConnectRetryTimer_Expires' }, t).session;
      expect(s.state).toBe('Connect');
    }
  });

  it('TcpConnectionFails with local never pushes a nearer running deadline later', () => {
    const s = sessionIn('Connect', { t: T0 });
    const r = step(s, { type: 'TcpConnectionFails', local: true }, s.timers.connectRetry! - 100);
    expect(r.session.timers.connectRetry).toBe(s.timers.connectRetry);
  });

  it('ManualStop closes the attempt and goes Idle without NOTIFICATION or restart', () => {
    const r = step(sessionIn('Connect'), { type: 'ManualStop' }, 10);
    expect(types(r.actions)).toEqual(['close', 'session-down']);
    expect(r.session.state).toBe('Idle');
    expect(r.session.timers).toEqual({});
    expect(r.session.autoStart).toBe(false);
  });

  it('AutomaticStop goes Idle and arms the IdleHold restart', () => {
    const r = step(sessionIn('Connect'), { type: 'AutomaticStop' }, 10);
    expect(types(r.actions)).toEqual(['close', 'session-down']);
    expect(r.session.timers).toEqual({ idleHold: 10 + 5000 });
  });

  it.each<FsmEvent>([
    { type: 'KeepAliveMsg' },
    { type: 'BGPOpen', message: peerOpen() },
    { type: 'UpdateMsg', message: update() },
    { type: 'NotifMsg', message: { type: 'notification', code: 6, subcode: 2, data: new Uint8Array() } },
  ])('a message event ($type) without a connection goes Idle without NOTIFICATION', (e) => {
    const r = step(sessionIn('Connect'), e, 10);
    expect(r.session.state).toBe('Idle');
    expect(types(r.actions)).toEqual(['close', 'session-down']);
    expect(sentNotification(r)).toBeUndefined();
  });

  it('ManualStart is ignored', () => {
    const s = sessionIn('Connect');
    expect(step(s, { type: 'ManualStart' }, 10)).toEqual({ session: s, actions: [] });
  });
});

describe('Active', () => {
  it('passive: TcpConnectionConfirmed sends our OPEN', () => {
    const r = step(sessionIn('Active'), { type: 'TcpConnectionConfirmed' }, T0);
    expect(r.session.state).toBe('OpenSent');
    expect(types(r.actions)).toEqual(['send']);
  });

  it('passive: ConnectRetryTimer_Expires never dials (no deadline is kept)', () => {
    const s = sessionIn('Active');
    expect(step(s, { type: 'ConnectRetryTimer_Expires' }, T0 + 10 ** 9)).toEqual({ session: s, actions: [] });
  });

  it('active after a failed attempt: ConnectRetryTimer_Expires dials again from Active', () => {
    const s = step(sessionIn('Connect', { t: T0 }), { type: 'TcpConnectionFails' }, T0).session;
    const r = step(s, { type: 'ConnectRetryTimer_Expires' }, s.timers.connectRetry!);
    expect(r.session.state).toBe('Connect');
    expect(types(r.actions)).toEqual(['connect']);
  });

  it('TcpConnectionFails is ignored (no connection of ours exists)', () => {
    const s = sessionIn('Active');
    expect(step(s, { type: 'TcpConnectionFails' }, 1).session).toEqual(s);
  });
});

describe('OpenSent', () => {
  it('a valid OPEN: KEEPALIVE sent, OpenConfirm, negotiated hold and jittered keepalive', () => {
    const s = sessionIn('OpenSent', { t: T0 });
    const r = step(s, { type: 'BGPOpen', message: peerOpen({ holdTime: 30 }) }, T0 + 50);
    expect(r.session.state).toBe('OpenConfirm');
    expect(r.actions).toEqual([{ type: 'send', message: { type: 'keepalive' } }]);
    expect(r.session.negotiated!.holdTime).toBe(30);
    expect(r.session.timers.hold).toBe(T0 + 50 + 30_000);
    const ka = r.session.timers.keepalive! - (T0 + 50);
    expect(ka).toBeGreaterThanOrEqual(7500);
    expect(ka).toBeLessThanOrEqual(10_000);
    expect(r.session.timers.connectRetry).toBeUndefined();
    expect(r.session.peerOpen!.bgpId).toBe('192.0.2.2');
  });

  it.each([
    // [peer hold, outcome]
    [0, 'ok'],
    [1, 'reject'],
    [2, 'reject'],
    [3, 'ok'],
  ] as const)('peer hold time %i -> %s', (hold, outcome) => {
    const r = step(sessionIn('OpenSent'), { type: 'BGPOpen', message: peerOpen({ holdTime: hold }) }, T0);
    if (outcome === 'reject') {
      expectNotifiedDown(r, 2, 6, []);
      return;
    }
    expect(r.session.state).toBe('OpenConfirm');
    if (hold === 0) {
      // RFC 4271 §8.2.2: with a zero hold time neither HoldTimer nor KeepaliveTimer runs.
      expect(r.session.timers).toEqual({});
      expect(r.session.negotiated!.keepaliveTime).toBe(0);
    } else {
      expect(r.session.timers.hold).toBe(T0 + 3000);
      expect(r.session.negotiated!.keepaliveTime).toBe(1);
      expect(r.session.timers.keepalive! - T0).toBeGreaterThanOrEqual(750);
      expect(r.session.timers.keepalive! - T0).toBeLessThanOrEqual(1000);
    }
  });

  it('wrong peer AS: OPEN/BadPeerAs and Idle with IdleHold', () => {
    const r = step(
      sessionIn('OpenSent'),
      { type: 'BGPOpen', message: peerOpen({ myAs: 65003 }, []) },
      T0,
    );
    // peerOpen carries a 4-octet AS capability of 65002, which wins; use one without it.
    expect(r.session.state).toBe('OpenConfirm');
    const open = peerOpen({ myAs: 65003, capabilities: [{ code: 65, kind: 'four-octet-as', asn: 65003 }] });
    const r2 = step(sessionIn('OpenSent'), { type: 'BGPOpen', message: open }, T0);
    expectNotifiedDown(r2, 2, 2, []);
    expect(r2.session.timers.idleHold).toBe(T0 + 5000);
    const down = r2.actions[2]!;
    expect(down.type === 'session-down' && down.reason.kind).toBe('sent-notification');
  });

  it('unsupported version: OPEN/UnsupportedVersionNumber with data 0x0004', () => {
    const r = step(sessionIn('OpenSent'), { type: 'BGPOpen', message: peerOpen({ version: 5 }) }, T0);
    expectNotifiedDown(r, 2, 1, [0, 4]);
  });

  it('HoldTimer_Expires (the 4-minute OpenSent timer): Hold Timer Expired, then the ConnectRetry backoff (no damping)', () => {
    const s = sessionIn('OpenSent', { t: T0 });
    expect(expiredTimers(s, T0 + 239_999)).toEqual([]);
    expect(expiredTimers(s, T0 + 240_000)).toEqual([{ type: 'HoldTimer_Expires' }]);
    const r = step(s, { type: 'HoldTimer_Expires' }, T0 + 240_000);
    expectNotifiedDown(r, 4, 0, [], 'Active');
    expect(r.session.flaps).toBe(0);
    expect(r.session.timers.idleHold).toBeUndefined();
    expect(r.session.timers.connectRetry).toBeGreaterThan(T0 + 240_000);
  });

  it('a HoldTimer_Expires delivered before the deadline is stale and ignored', () => {
    const s = sessionIn('OpenSent', { t: T0 });
    expect(step(s, { type: 'HoldTimer_Expires' }, T0 + 1000)).toEqual({ session: s, actions: [] });
  });

  it('TcpConnectionFails: close, back to Active with a quick, uncounted ConnectRetry deadline (the peer took the connection)', () => {
    const r = step(sessionIn('OpenSent', { t: T0 }), { type: 'TcpConnectionFails' }, T0 + 10);
    expect(r.session.state).toBe('Active');
    expect(types(r.actions)).toEqual(['close', 'session-down']);
    expect(r.session.timers.hold).toBeUndefined();
    expect(r.session.timers.connectRetry).toBeGreaterThan(T0 + 10);
    expect(r.session.timers.connectRetry).toBeLessThanOrEqual(T0 + 10 + QUICK_RETRY_MS);
    expect(r.session.connectRetryCounter).toBe(0);
  });

  it('received NOTIFICATION: close without answering, reason carries code/subcode; an OPEN error is damped', () => {
    const n = { type: 'notification' as const, code: 2, subcode: 2, data: new Uint8Array() };
    const r = step(sessionIn('OpenSent'), { type: 'NotifMsg', message: n }, T0);
    expect(types(r.actions)).toEqual(['close', 'session-down']);
    const d = r.actions[1]!;
    if (d.type !== 'session-down') throw new Error('expected session-down');
    expect(d.reason).toMatchObject({ kind: 'received-notification', code: 2, subcode: 2 });
    expect(d.notification).toBe(n);
    expect(r.session.state).toBe('Idle');
    expect(r.session.timers).toEqual({ idleHold: T0 + 5000 });
  });

  it('received Cease/Connection Collision Resolution (the peer kept another session): Active with the backoff, not damped', () => {
    const n = { type: 'notification' as const, code: 6, subcode: 7, data: new Uint8Array() };
    const r = step(sessionIn('OpenSent', { t: T0 }), { type: 'NotifMsg', message: n }, T0 + 5);
    expect(types(r.actions)).toEqual(['close', 'session-down']);
    expect(r.session.state).toBe('Active');
    expect(r.session.flaps).toBe(0);
    expect(r.session.connectRetryCounter).toBe(1);
    const d = r.session.timers.connectRetry! - (T0 + 5);
    expect(d).toBeGreaterThanOrEqual(1500);
    expect(d).toBeLessThanOrEqual(2000);
  });

  it('BGPHeaderErr: the decoder error goes out verbatim', () => {
    const err = bgpError(1, 2, 'bad length', new Uint8Array([0x00, 0x05]));
    expectNotifiedDown(step(sessionIn('OpenSent'), errorEvent(err), T0), 1, 2, [0, 5]);
  });

  it('BGPOpenMsgErr: the decoder error goes out verbatim', () => {
    const err = bgpError(2, 4, 'unsupported optional parameter');
    expect(errorEvent(err).type).toBe('BGPOpenMsgErr');
    expectNotifiedDown(step(sessionIn('OpenSent'), errorEvent(err), T0), 2, 4, []);
  });

  it('OpenCollisionDump: Cease/ConnectionCollisionResolution, no IdleHold restart', () => {
    const r = step(sessionIn('OpenSent'), { type: 'OpenCollisionDump' }, T0);
    expectNotifiedDown(r, 6, 7, []);
    expect(r.session.timers).toEqual({});
    expect(r.session.flaps).toBe(0);
  });

  it('ManualStop: Cease/AdministrativeShutdown', () => {
    const r = step(sessionIn('OpenSent'), { type: 'ManualStop' }, T0);
    expectNotifiedDown(r, 6, 2, []);
    expect(r.session.autoStart).toBe(false);
  });
});

describe('RFC 6608 unexpected messages (the peer spoke out of turn: damped like any error it causes)', () => {
  const upd: FsmEvent = { type: 'UpdateMsg', message: update() };
  const updErr: FsmEvent = { type: 'UpdateMsgErr', error: bgpError(3, 1, 'malformed') };
  const rr: FsmEvent = { type: 'RouteRefresh', message: { type: 'route-refresh', afi: 1, safi: 1, subtype: 0 } };
  const open: FsmEvent = { type: 'BGPOpen', message: peerOpen() };
  const ka: FsmEvent = { type: 'KeepAliveMsg' };
  it.each<[FsmState, FsmEvent, number, number]>([
    // state, event, subcode, data (message type)
    ['OpenSent', ka, 1, 4],
    ['OpenSent', upd, 1, 2],
    ['OpenSent', updErr, 1, 2],
    ['OpenSent', rr, 1, 5],
    ['OpenConfirm', open, 2, 1],
    ['OpenConfirm', upd, 2, 2],
    ['OpenConfirm', updErr, 2, 2],
    ['OpenConfirm', rr, 2, 5],
    ['Established', open, 3, 1],
  ])('%s + %o -> FSM Error subcode %i, data [%i]', (state, e, subcode, msgType) => {
    const r = step(sessionIn(state, { t: T0 }), e, T0 + 1);
    const n = expectNotifiedDown(r, 5, subcode, [msgType]);
    expect(n.type).toBe('notification');
    expect(r.session.timers.idleHold).toBe(T0 + 1 + 5000);
  });
});

describe('OpenConfirm', () => {
  it('KEEPALIVE: Established, established action with the negotiated record, send hold armed', () => {
    const s = sessionIn('OpenConfirm', { t: T0 });
    const r = step(s, { type: 'KeepAliveMsg' }, T0 + 20);
    expect(r.session.state).toBe('Established');
    expect(types(r.actions)).toEqual(['established']);
    const a = r.actions[0]!;
    expect(a.type === 'established' && a.negotiated).toBe(s.negotiated);
    expect(r.session.timers.hold).toBe(T0 + 20 + 90_000);
    expect(r.session.timers.keepalive).toBe(s.timers.keepalive);
    expect(r.session.timers.sendHold).toBe(T0 + 20 + 480_000);
    expect(r.session.establishedAt).toBe(T0 + 20);
  });

  it('KeepaliveTimer_Expires: send KEEPALIVE and re-arm', () => {
    const s = sessionIn('OpenConfirm', { t: T0 });
    const at = s.timers.keepalive!;
    const r = step(s, { type: 'KeepaliveTimer_Expires' }, at);
    expect(r.actions).toEqual([{ type: 'send', message: { type: 'keepalive' } }]);
    expect(r.session.timers.keepalive! - at).toBeGreaterThanOrEqual(22_500);
    expect(r.session.timers.keepalive! - at).toBeLessThanOrEqual(30_000);
    expect(r.session.state).toBe('OpenConfirm');
  });

  it('HoldTimer_Expires: Hold Timer Expired, then Active with the ConnectRetry backoff', () => {
    const s = sessionIn('OpenConfirm', { t: T0 });
    expectNotifiedDown(step(s, { type: 'HoldTimer_Expires' }, T0 + 90_000), 4, 0, [], 'Active');
  });

  it('TcpConnectionFails: Active with the ConnectRetry backoff, not damped', () => {
    const r = step(sessionIn('OpenConfirm', { t: T0 }), { type: 'TcpConnectionFails' }, T0);
    expect(r.session.state).toBe('Active');
    expect(types(r.actions)).toEqual(['close', 'session-down']);
    expect(r.session.timers.idleHold).toBeUndefined();
    expect(r.session.timers.connectRetry).toBeGreaterThan(T0);
    expect(r.session.flaps).toBe(0);
  });

  it('OpenCollisionDump: Cease/7', () => {
    expectNotifiedDown(step(sessionIn('OpenConfirm'), { type: 'OpenCollisionDump' }, T0), 6, 7, []);
  });
});

describe('Established', () => {
  const est = (cfg: Partial<SessionConfigInput> = {}): SessionState => sessionIn('Established', { t: T0, cfg });

  it.each<FsmEvent>([{ type: 'KeepAliveMsg' }, { type: 'UpdateMsg', message: update() }])(
    '$type restarts the hold timer',
    (e) => {
      const r = step(est(), e, T0 + 60_000);
      expect(r.session.timers.hold).toBe(T0 + 60_000 + 90_000);
      expect(r.session.state).toBe('Established');
    },
  );

  it('UPDATE is handed to the RIB', () => {
    const u = update();
    expect(step(est(), messageEvent(u), T0).actions).toEqual([{ type: 'update-received', message: u }]);
  });

  it('MP_REACH of a family not negotiated is dropped from the UPDATE, not stored, not a reset (RFC 4760 §7, RFC 7606 §7.11)', () => {
    const six = { afi: 2 as const, safi: 1, nextHops: ['2001:db8::2'], nlri: [{ prefix: { afi: 2 as const, len: 48, addr: new Uint8Array(16).fill(0x20, 0, 1) } }] };
    const u = update({ attributes: { origin: 0, asPath: [{ type: 2, asns: [65002] }], nextHop: '192.0.2.2', mpReach: six } });
    const r = step(est(), messageEvent(u), T0);
    expect(r.session.state).toBe('Established');
    const { mpReach: _m, ...rest } = u.attributes;
    expect(r.actions).toEqual([{ type: 'update-received', message: { ...u, attributes: rest }, ignored: ['2/1'] }]);
  });

  it('an AFI/SAFI-disable error of a family never negotiated (unknown AFI 3) is ignored; of a negotiated one it resets', () => {
    const unknown = update({ errors: [new FamilyError(3, 1, 9, 'MP_REACH_NLRI for unsupported family 3/1', new Uint8Array(0), 'afi-safi-disable')] });
    const r = step(est(), messageEvent(unknown), T0);
    expect(r.session.state).toBe('Established');
    expect(r.actions).toEqual([{ type: 'update-received', message: unknown, ignored: ['3/1'] }]);
    const mine = update({ errors: [new FamilyError(1, 1, 9, 'MP_REACH_NLRI next hop length 5 for 1/1', new Uint8Array(0), 'afi-safi-disable')] });
    expectNotifiedDown(step(est(), messageEvent(mine), T0), 3, 9);
  });

  it('RFC 4271 §6.3 first AS: an external peer whose AS_PATH does not start with its AS gets treat-as-withdraw (Malformed AS_PATH)', () => {
    for (const asPath of [[{ type: 2 as const, asns: [64999, 65002] }], [], [{ type: 1 as const, asns: [65002] }]]) {
      const u = update({ attributes: { origin: 0, asPath, nextHop: '192.0.2.2' } });
      const r = step(est(), messageEvent(u), T0);
      expect(r.session.state).toBe('Established');
      const got = (r.actions[0] as { message: UpdateMessage }).message;
      expect(got.errors?.map((e) => [e.code, e.subcode, e.action])).toEqual([[3, 11, 'treat-as-withdraw']]);
    }
    // A confederation segment first, a withdrawal only, or the check turned off: nothing added.
    const confed = update({ attributes: { origin: 0, asPath: [{ type: 3, asns: [64512] }, { type: 2, asns: [65002] }], nextHop: '192.0.2.2' } });
    expect(step(est(), messageEvent(confed), T0).actions).toEqual([{ type: 'update-received', message: confed }]);
    const wd = update({ attributes: {}, nlri: [], withdrawn: [{ prefix: { afi: 1, len: 24, addr: new Uint8Array([198, 51, 100, 0]) } }] });
    expect(step(est(), messageEvent(wd), T0).actions).toEqual([{ type: 'update-received', message: wd }]);
    const off = update({ attributes: { origin: 0, asPath: [], nextHop: '192.0.2.2' } });
    expect(step(est({ enforceFirstAs: false }), messageEvent(off), T0).actions).toEqual([{ type: 'update-received', message: off }]);
  });

  it('UPDATE carrying a treat-as-withdraw error is still handed over and does not reset', () => {
    const u = update({ errors: [bgpError(3, 6, 'bad origin').withAction('treat-as-withdraw')] });
    const r = step(est(), { type: 'UpdateMsg', message: u }, T0);
    expect(r.session.state).toBe('Established');
    expect(r.actions).toEqual([{ type: 'update-received', message: u }]);
  });

  it.each(['treat-as-withdraw', 'attribute-discard'] as const)('UpdateMsgErr with action %s does not reset', (action) => {
    const r = step(est(), { type: 'UpdateMsgErr', error: bgpError(3, 9, 'x').withAction(action) }, T0 + 5);
    expect(r.session.state).toBe('Established');
    expect(r.actions).toEqual([]);
    expect(r.session.timers.hold).toBe(T0 + 5 + 90_000);
  });

  it.each(['session-reset', 'afi-safi-disable'] as const)('UpdateMsgErr with action %s sends its NOTIFICATION and is damped', (action) => {
    const err = new BgpError(3, 11, 'malformed AS_PATH', new Uint8Array([0x40, 2, 0]), action);
    const r = step(est(), { type: 'UpdateMsgErr', error: err }, T0 + 5);
    expectNotifiedDown(r, 3, 11, [0x40, 2, 0]);
    const d = r.actions[2]!;
    expect(d.type === 'session-down' && d.wasEstablished).toBe(true);
    expect(r.session.flaps).toBe(1);
    expect(r.session.timers).toEqual({ idleHold: T0 + 5 + 5000 });
  });

  it('UPDATE carrying an afi-safi-disable error (malformed MP_REACH) resets the session with its NOTIFICATION', () => {
    const u = update({ errors: [new BgpError(3, 9, 'MP_REACH too short', new Uint8Array([0x80, 14, 1, 0]), 'afi-safi-disable')] });
    const r = step(est(), { type: 'UpdateMsg', message: u }, T0);
    expectNotifiedDown(r, 3, 9, [0x80, 14, 1, 0]);
    expect(r.actions.some((a) => a.type === 'update-received')).toBe(false);
  });

  it('HoldTimer_Expires after moving now past the deadline', () => {
    let s = est();
    // Keepalives from us do not keep the session up; only the peer's messages do.
    let t = T0;
    while (s.state === 'Established') {
      t = nextDeadline(s)!;
      for (const e of expiredTimers(s, t)) {
        const r = step(s, e, t);
        s = r.session;
        if (s.state !== 'Established') {
          expect(sentNotification(r)).toMatchObject({ code: 4, subcode: 0 });
          // The path went quiet: not a flap; dial again at once.
          expect(types(r.actions)).toEqual(['send', 'close', 'session-down', 'connect']);
          expect(s.state).toBe('Connect');
          expect(s.flaps).toBe(0);
        }
      }
    }
    expect(t).toBe(T0 + 90_000);
  });

  it('KeepaliveTimer_Expires sends KEEPALIVE', () => {
    const s = est();
    const r = step(s, { type: 'KeepaliveTimer_Expires' }, s.timers.keepalive!);
    expect(r.actions).toEqual([{ type: 'send', message: { type: 'keepalive' } }]);
    expect(r.session.timers.keepalive).toBeGreaterThan(s.timers.keepalive!);
  });

  it('MessageSent(update) restarts both the keepalive and send hold timers; keepalive only the latter', () => {
    const s = est();
    const r1 = step(s, { type: 'MessageSent', kind: 'update' }, T0 + 1000);
    expect(r1.session.timers.sendHold).toBe(T0 + 1000 + 480_000);
    expect(r1.session.timers.keepalive! - (T0 + 1000)).toBeGreaterThanOrEqual(22_500);
    const r2 = step(s, { type: 'MessageSent', kind: 'keepalive' }, T0 + 1000);
    expect(r2.session.timers.sendHold).toBe(T0 + 1000 + 480_000);
    expect(r2.session.timers.keepalive).toBe(s.timers.keepalive);
  });

  it('received Cease with a shutdown communication: session-down with the text', () => {
    const n = {
      type: 'notification' as const,
      code: 6,
      subcode: 2,
      data: new Uint8Array([5, 0x6d, 0x61, 0x69, 0x6e, 0x74]),
      shutdownText: 'maint',
    };
    const r = step(est(), { type: 'NotifMsg', message: n }, T0 + 7);
    // A deliberate Cease from the peer is not a flap: dial again at once.
    expect(types(r.actions)).toEqual(['close', 'session-down', 'connect']);
    const d = r.actions[1]!;
    if (d.type !== 'session-down') throw new Error('expected session-down');
    expect(d.wasEstablished).toBe(true);
    expect(d.reason).toMatchObject({ kind: 'received-notification', code: 6, subcode: 2, shutdownText: 'maint' });
    expect(d.reason.message).toContain('maint');
    expect(r.session.lastDown).toMatchObject({ code: 6, subcode: 2, at: T0 + 7 });
    expect(r.session.state).toBe('Connect');
    expect(r.session.flaps).toBe(0);
  });

  it('ManualStop with text: Cease/AdministrativeShutdown with RFC 9003 data, no restart', () => {
    const r = step(est(), { type: 'ManualStop', text: 'moving to new rack' }, T0);
    const text = new TextEncoder().encode('moving to new rack');
    const n = expectNotifiedDown(r, 6, 2, [text.length, ...text]);
    expect(n.shutdownText).toBe('moving to new rack');
    expect(r.session.autoStart).toBe(false);
    expect(r.session.timers).toEqual({});
    expect(r.session.connectRetryCounter).toBe(0);
  });

  it('ManualStop with another Cease subcode (PeerDeconfigured) carries no text', () => {
    const r = step(est(), { type: 'ManualStop', subcode: 3, text: 'ignored' }, T0);
    expectNotifiedDown(r, 6, 3, []);
  });

  it('AutomaticStop with Cease/BFD Down: a path failure, restarted at once, not damped', () => {
    const r = step(est(), { type: 'AutomaticStop', subcode: 10 }, T0 + 1);
    expectNotifiedDown(r, 6, 10, [], 'Connect');
    expect(r.session.flaps).toBe(0);
    expect(r.session.autoStart).toBe(true);
  });

  it('AutomaticStop: Cease/AdministrativeReset and an IdleHold restart', () => {
    const r = step(est(), { type: 'AutomaticStop', text: 'config change' }, T0 + 1);
    expectNotifiedDown(r, 6, 4);
    expect(r.session.autoStart).toBe(true);
    expect(r.session.timers.idleHold).toBeDefined();
  });

  it('MaxPrefixExceeded: Cease/MaximumPrefixesReached with AFI, SAFI, limit', () => {
    const r = step(est(), { type: 'MaxPrefixExceeded', afi: 1, safi: 1, limit: 1000 }, T0);
    expectNotifiedDown(r, 6, 1, [0, 1, 1, 0, 0, 0x03, 0xe8]);
  });

  it('MaxPrefixExceeded with restartMs: the automatic restart waits exactly that long', () => {
    const r = step(est(), { type: 'MaxPrefixExceeded', afi: 2, safi: 1, limit: 5, restartMs: 60_000 }, T0);
    expectNotifiedDown(r, 6, 1, [0, 2, 1, 0, 0, 0, 5]);
    expect(r.session.autoStart).toBe(true);
    expect(r.session.timers).toEqual({ idleHold: T0 + 60_000 });
    expect(step(r.session, { type: 'IdleHoldTimer_Expires' }, T0 + 60_000).session.state).not.toBe('Idle');
  });

  it('MaxPrefixExceeded with restartMs null (disable): Idle with no restart until a ManualStart', () => {
    const r = step(est(), { type: 'MaxPrefixExceeded', afi: 1, safi: 1, limit: 5, restartMs: null }, T0);
    expectNotifiedDown(r, 6, 1, [0, 1, 1, 0, 0, 0, 5]);
    expect(r.session).toMatchObject({ state: 'Idle', autoStart: false, timers: {} });
    // An automatic start (or the peer's connection) does nothing; an operator start does.
    expect(step(r.session, { type: 'IdleHoldTimer_Expires' }, T0 + 600_000).session.state).toBe('Idle');
    expect(step(r.session, { type: 'ManualStart' }, T0 + 1).session.state).toBe('Connect');
  });

  it('ReceiveLimitExceeded: Cease/Out of Resources without data (RFC 4486 §4), restart or disable as given', () => {
    const r = step(est(), { type: 'ReceiveLimitExceeded', detail: 'max-bytes: more than 1024 bytes held', restartMs: 5_000 }, T0);
    expectNotifiedDown(r, 6, 8, []);
    expect(r.actions[2]).toMatchObject({ type: 'session-down', reason: { kind: 'sent-notification', message: 'sent Cease/OutOfResources: max-bytes: more than 1024 bytes held' } });
    expect(r.session.timers).toEqual({ idleHold: T0 + 5_000 });
    const d = step(est(), { type: 'ReceiveLimitExceeded', detail: 'as-path', restartMs: null }, T0);
    expect(d.session).toMatchObject({ state: 'Idle', autoStart: false, timers: {} });
    // Without restartMs: the usual IdleHold damping.
    const u = step(est(), { type: 'ReceiveLimitExceeded', detail: 'as-path' }, T0);
    expect(u.session.timers.idleHold).toBeGreaterThan(T0);
  });

  it('TcpConnectionFails: session down, wasEstablished', () => {
    const r = step(est(), { type: 'TcpConnectionFails' }, T0 + 3);
    const d = r.actions[1]!;
    expect(d).toMatchObject({ type: 'session-down', wasEstablished: true, reason: { kind: 'tcp-failed' } });
  });

  it('session state after going down keeps nothing of the connection', () => {
    const r = step(est(), { type: 'TcpConnectionFails' }, T0 + 3);
    expect(r.session.negotiated).toBeUndefined();
    expect(r.session.peerOpen).toBeUndefined();
    expect(r.session.establishedAt).toBeUndefined();
    expect(r.session.eor).toEqual({ received: {} });
  });

  it.each(['Tcp_CR_Acked', 'TcpConnectionConfirmed', 'ManualStart', 'AutomaticStart'] as const)('%s is ignored', (type) => {
    const s = est();
    expect(step(s, { type }, T0 + 1)).toEqual({ session: s, actions: [] });
  });
});

describe('ROUTE-REFRESH in Established', () => {
  const both = sessionIn('Established', {
    open: peerOpen({}, [{ code: 70, kind: 'enhanced-route-refresh' }]),
  });
  const noRr = sessionIn('Established', {
    open: peerOpen({ capabilities: [{ code: 65, kind: 'four-octet-as', asn: 65002 }] }),
  });
  it.each([
    // [label, session, afi, safi, subtype, expected action?]
    ['normal request', both, 1, 1, 0, true],
    ['BoRR with enhanced RR', both, 1, 1, 1, true],
    ['EoRR with enhanced RR', both, 1, 1, 2, true],
    ['reserved subtype 3 (RFC 7313 §3: ignore)', both, 1, 1, 3, false],
    ['family not negotiated (RFC 2918 §4: ignore)', both, 2, 1, 0, false],
    ['route refresh not negotiated', noRr, 1, 1, 0, false],
  ] as const)('%s', (_label, s, afi, safi, subtype, acts) => {
    const r = step(s, { type: 'RouteRefresh', message: { type: 'route-refresh', afi, safi, subtype: subtype as 0 } }, 5);
    expect(r.session.state).toBe('Established');
    expect(r.actions).toEqual(acts ? [{ type: 'route-refresh-received', afi, safi, subtype }] : []);
    expect(r.session.timers.hold).toBe(5 + 90_000);
  });

  it('BoRR without enhanced route refresh negotiated is ignored', () => {
    const plain = sessionIn('Established');
    const r = step(plain, { type: 'RouteRefresh', message: { type: 'route-refresh', afi: 1, safi: 1, subtype: 1 } }, 5);
    expect(r.actions).toEqual([]);
  });
});

describe('End-of-RIB', () => {
  const dual = { families: [{ afi: 1, safi: 1 }, { afi: 2, safi: 1 }] };
  const open6 = peerOpen({}, [{ code: 1, kind: 'multiprotocol', afi: 2, safi: 1 }]);

  it('records the peer End-of-RIB per family and reports it instead of an UPDATE', () => {
    let s = sessionIn('Established', { cfg: dual, open: open6 });
    let r = step(s, { type: 'UpdateMsg', message: { type: 'update', withdrawn: [], attributes: {}, nlri: [] } }, 10);
    expect(r.actions).toEqual([{ type: 'end-of-rib-received', family: '1/1' }]);
    s = r.session;
    r = step(
      s,
      { type: 'UpdateMsg', message: { type: 'update', withdrawn: [], attributes: { mpUnreach: { afi: 2, safi: 1, nlri: [] } }, nlri: [] } },
      20,
    );
    expect(r.actions).toEqual([{ type: 'end-of-rib-received', family: '2/1' }]);
    expect(r.session.eor.received).toEqual({ '1/1': 10, '2/1': 20 });
  });
});

describe('Send Hold Timer (RFC 9687)', () => {
  it('expires when nothing could be written for SendHoldTime while the peer keeps talking', () => {
    let s = sessionIn('Established', { t: 0 });
    expect(s.timers.sendHold).toBe(480_000);
    const out: string[] = [];
    // The peer sends a KEEPALIVE every 30 s; we emit ours but the driver never
    // reports them written (zero window), so no MessageSent arrives.
    for (let t = 30_000; s.state === 'Established' && t <= 600_000; t += 30_000) {
      const r = stepAll(s, expiredTimers(s, t), t);
      s = r.session;
      out.push(...r.actions.filter((a) => a.type === 'send').map((a) => (a.type === 'send' ? a.message.type : '')));
      if (s.state !== 'Established') {
        expect(t).toBe(480_000);
        expect(sentNotification(r)).toMatchObject({ code: 8, subcode: 0 });
        break;
      }
      s = step(s, { type: 'KeepAliveMsg' }, t).session;
    }
    // A stalled socket is a transport failure: dial again at once, undamped.
    expect(s.state).toBe('Connect');
    expect(s.flaps).toBe(0);
    expect(out.filter((x) => x === 'keepalive').length).toBeGreaterThan(10);
  });

  it('never expires while writes make progress', () => {
    let s = sessionIn('Established', { t: 0 });
    for (let t = 10_000; t <= 1_000_000; t += 10_000) {
      s = stepAll(s, expiredTimers(s, t), t).session;
      s = step(s, { type: 'KeepAliveMsg' }, t).session;
      s = step(s, { type: 'MessageSent', kind: 'keepalive' }, t).session;
    }
    expect(s.state).toBe('Established');
  });

  it.each([
    // [our hold, peer hold, configured, expected SendHoldTime]
    [90, 90, undefined, 480],
    [600, 300, undefined, 600],
    [90, 90, 60, 91],
    [90, 90, 1000, 1000],
    [0, 90, undefined, 0],
  ] as const)('hold %i/%i configured %s -> SendHoldTime %i', (ours, theirs, configured, expected) => {
    const s = sessionIn('Established', {
      cfg: { holdTime: ours, ...(configured !== undefined ? { sendHoldTime: configured } : {}) },
      open: peerOpen({ holdTime: theirs }),
      t: 0,
    });
    expect(s.negotiated!.sendHoldTime).toBe(expected);
    expect(s.timers.sendHold).toBe(expected === 0 ? undefined : expected * 1000);
    if (expected === 0) {
      // Hold time 0: no hold, keepalive or send hold timer at all.
      expect(s.timers).toEqual({});
      expect(step(s, { type: 'MessageSent', kind: 'update' }, 5).session.timers).toEqual({});
    }
  });
});

describe('purity', () => {
  it('step never mutates its input and replays identically', () => {
    const events: [FsmEvent, number][] = [
      [{ type: 'ManualStart' }, 0],
      [{ type: 'Tcp_CR_Acked' }, 10],
      [{ type: 'BGPOpen', message: peerOpen() }, 20],
      [{ type: 'KeepAliveMsg' }, 30],
      [{ type: 'UpdateMsg', message: update() }, 40],
      [{ type: 'KeepaliveTimer_Expires' }, 31_000],
      [{ type: 'TcpConnectionFails' }, 50_000],
      [{ type: 'IdleHoldTimer_Expires' }, 55_000],
    ];
    let s = createSession(CFG, 42);
    for (const [e, t] of events) {
      const before = structuredClone(s);
      const r = step(s, e, t);
      expect(s).toEqual(before);
      s = r.session;
    }
    const a = run(createSession(CFG, 42), events);
    const b = run(createSession(CFG, 42), events);
    expect(a).toEqual(b);
    expect(a.session.state).toBe('Connect');
  });

  it('messageEvent maps every message type', () => {
    expect(messageEvent({ type: 'keepalive' })).toEqual({ type: 'KeepAliveMsg' });
    expect(messageEvent(peerOpen()).type).toBe('BGPOpen');
    expect(messageEvent(update()).type).toBe('UpdateMsg');
    expect(messageEvent({ type: 'notification', code: 6, subcode: 2, data: new Uint8Array() }).type).toBe('NotifMsg');
    expect(messageEvent({ type: 'route-refresh', afi: 1, safi: 1, subtype: 0 }).type).toBe('RouteRefresh');
    expect(errorEvent(bgpError(1, 1, 'x')).type).toBe('BGPHeaderErr');
    expect(errorEvent(bgpError(3, 1, 'x')).type).toBe('UpdateMsgErr');
    expect(errorEvent(bgpError(7, 1, 'x')).type).toBe('BGPHeaderErr');
  });
});

describe('Graceful Restart: planned stops and Hard Reset (RFC 4724 §4.2, RFC 8538 §4, §5)', () => {
  const peerGr = (notification: boolean): OpenMessage =>
    peerOpen({}, [{ code: 64, kind: 'graceful-restart', restarting: false, notification, restartTime: 120, families: [] }]);
  const est = (ours: { notification?: boolean } | null, peerN: boolean | null): SessionState =>
    sessionIn('Established', {
      t: T0,
      cfg: ours ? { gracefulRestart: { restartTime: 120, ...ours } } : {},
      open: peerN === null ? peerOpen() : peerGr(peerN),
    });
  const planned: FsmEvent = { type: 'ManualStop', subcode: 4, text: 'herald restarting', graceful: true };

  it('GR negotiated without the N bit: the connection closes with no NOTIFICATION at all', () => {
    const r = step(est({}, false), planned, T0 + 1);
    expect(types(r.actions)).toEqual(['close', 'session-down']);
    const d = r.actions[1]!;
    expect(d).toMatchObject({ type: 'session-down', wasEstablished: true, reason: { kind: 'stopped' } });
    expect(d.type === 'session-down' && d.notification).toBeUndefined();
    expect(r.session).toMatchObject({ state: 'Idle', autoStart: false, timers: {} });
  });

  it('N bit exchanged: a Cease that is not a Hard Reset (Administrative Reset with the text)', () => {
    const r = step(est({ notification: true }, true), planned, T0 + 1);
    const n = expectNotifiedDown(r, 6, 4);
    expect(n.shutdownText).toBe('herald restarting');
    expect(n.hardReset).toBeUndefined();
    expect(r.session.autoStart).toBe(false);
  });

  it('GR not negotiated (the peer has no GR, or we did not offer it): an ordinary Cease, the routes are flushed', () => {
    for (const s of [est({}, null), est(null, true)]) {
      const n = expectNotifiedDown(step(s, planned, T0 + 1), 6, 4);
      expect(n.shutdownText).toBe('herald restarting');
    }
  });

  it('a planned stop before Established is an ordinary Cease', () => {
    const s = sessionIn('OpenConfirm', { cfg: { gracefulRestart: { restartTime: 120 } }, open: peerGr(false) });
    expectNotifiedDown(step(s, planned, T0), 6, 4);
  });

  it.each<[string, FsmEvent, number, number]>([
    ['ManualStop (Administrative Shutdown)', { type: 'ManualStop', text: 'bye' }, 6, 2],
    ['Peer De-configured', { type: 'ManualStop', subcode: 3 }, 6, 3],
    ['Maximum Prefixes', { type: 'MaxPrefixExceeded', afi: 1, safi: 1, limit: 5 }, 6, 1],
  ])('N bit exchanged: %s travels as Cease/Hard Reset carrying it', (_n, ev, code, sub) => {
    const r = step(est({ notification: true }, true), ev, T0 + 1);
    const n = expectNotifiedDown(r, 6, 9);
    expect(n.hardReset).toMatchObject({ code, subcode: sub });
    expect([n.data[0], n.data[1]]).toEqual([code, sub]);
    const d = r.actions[2]!;
    expect(d.type === 'session-down' && d.reason.message).toMatch(/HardReset \(Cease\//);
  });

  it.each<[string, FsmEvent, number, number]>([
    ['Other Configuration Change', { type: 'ManualStop', subcode: 6 }, 6, 6],
    ['an UPDATE error', { type: 'UpdateMsgErr', error: bgpError(3, 1, 'malformed') }, 3, 1],
    ['Hold Timer Expired', { type: 'HoldTimer_Expires' }, 4, 0],
  ])('N bit exchanged: %s goes out as it is (graceful per RFC 8538 §5.1)', (_n, ev, code, sub) => {
    const s = est({ notification: true }, true);
    const at = ev.type === 'HoldTimer_Expires' ? s.timers.hold! : T0 + 1;
    const r = step(s, ev, at);
    const n = sentNotification(r)!;
    expect([n.code, n.subcode]).toEqual([code, sub]);
    expect(n.hardReset).toBeUndefined();
  });

  it('without the N bit nothing is wrapped', () => {
    expectNotifiedDown(step(est({ notification: true }, false), { type: 'ManualStop' }, T0 + 1), 6, 2);
    expectNotifiedDown(step(est({}, true), { type: 'ManualStop' }, T0 + 1), 6, 2);
  });

  it('a received Hard Reset is reported by what it carries, with the inner shutdown text', () => {
    const n = { type: 'notification' as const, code: 6, subcode: 9, data: new Uint8Array([6, 2, 2, 0x68, 0x69]), hardReset: { code: 6, subcode: 2, data: new Uint8Array([2, 0x68, 0x69]) }, shutdownText: 'hi' };
    const r = step(est({ notification: true }, true), { type: 'NotifMsg', message: n }, T0 + 1);
    const d = r.actions[1]!;
    if (d.type !== 'session-down') throw new Error('expected session-down');
    expect(d.reason.message).toBe('received Cease/HardReset (Cease/AdministrativeShutdown): "hi"');
    expect(d.reason.shutdownText).toBe('hi');
  });

  it('the Restart State bit: set in every OPEN until the first Established, then gone', () => {
    const c = { ...CFG, gracefulRestart: { restartTime: 120 } };
    let s = createSession(c, 1, { restarting: true });
    s = step(s, { type: 'ManualStart' }, 0).session;
    const gr = (r: { actions: FsmAction[] }) => {
      const a = r.actions.find((x) => x.type === 'send');
      const caps = a?.type === 'send' && a.message.type === 'open' ? a.message.capabilities : [];
      return caps.find((x) => x.kind === 'graceful-restart');
    };
    // first attempt: refused after the OPEN went out, R set
    let r = step(s, { type: 'Tcp_CR_Acked' }, 1);
    expect(gr(r)).toMatchObject({ restarting: true });
    s = step(r.session, { type: 'TcpConnectionFails' }, 2).session;
    expect(s.restarting).toBe(true);
    s = step(s, { type: 'ConnectRetryTimer_Expires' }, s.timers.connectRetry!).session;
    r = step(s, { type: 'Tcp_CR_Acked' }, s.timers.connectRetry! - 1);
    expect(gr(r)).toMatchObject({ restarting: true });
    s = stepAll(r.session, [{ type: 'BGPOpen', message: peerGr(false) }, { type: 'KeepAliveMsg' }], 10_000).session;
    expect(s.state).toBe('Established');
    expect(s.restarting).toBeUndefined();
    // the session drops: the next OPEN has R clear
    s = step(s, { type: 'TcpConnectionFails' }, 20_000).session;
    r = step(s, { type: 'Tcp_CR_Acked' }, 20_001);
    expect(gr(r)).toMatchObject({ restarting: false });
  });
});
