/**
 * Deadlines, ConnectRetry backoff with jitter, and IdleHold damping
 * (RFC 4271 §8.1.1 DampPeerOscillations, §10 jitter), driven by moving `now`.
 */
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../../bgp/session/config.js';
import { createSession, QUICK_RETRIES, QUICK_RETRY_MS, step, stepAll } from '../../../bgp/session/fsm.js';
import {
  connectRetryBase,
  expiredTimers,
  flapsAfterDown,
  heldDown,
  idleHoldDelay,
  jitter,
  nextDeadline,
  nextRandom,
} from '../../../bgp/session/timers.js';
import type { FsmEvent, SessionState } from '../../../bgp/session/types.js';
import { bgpError } from '../../../bgp/wire/errors.js';
import { CFG, peerOpen, sessionIn } from './fixtures.js';

const config = resolveConfig(CFG);

describe('PRNG and jitter', () => {
  it('nextRandom is deterministic and in [0, 1)', () => {
    let st = 7;
    const seen = new Set<number>();
    for (let i = 0; i < 10_000; i++) {
      const [v, n] = nextRandom(st);
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThan(1);
      seen.add(v);
      st = n;
    }
    expect(seen.size).toBeGreaterThan(9_990);
    expect(nextRandom(7)).toEqual(nextRandom(7));
  });

  it('jitter spans 0.75..1.0 of the base (RFC 4271 §10)', () => {
    expect(jitter(1000, 0)).toBe(750);
    expect(jitter(1000, 0.999999)).toBe(1000);
    let st = 1;
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < 5000; i++) {
      const [v, n] = nextRandom(st);
      st = n;
      const j = jitter(40_000, v);
      lo = Math.min(lo, j);
      hi = Math.max(hi, j);
    }
    expect(lo).toBeGreaterThanOrEqual(30_000);
    expect(hi).toBeLessThanOrEqual(40_000);
    // the range is actually used, not a constant
    expect(lo).toBeLessThan(30_500);
    expect(hi).toBeGreaterThan(39_500);
  });
});

describe('ConnectRetry backoff', () => {
  it('connectRetryBase doubles from 1 s up to the 30 s ceiling', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 40].map((n) => connectRetryBase(config, n))).toEqual([
      1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000,
    ]);
  });

  it('connectRetryBase follows the configured first delay and ceiling', () => {
    const c = resolveConfig({ ...CFG, connectRetry: { initialMs: 250, maxMs: 1000 } });
    expect([0, 1, 2, 3, 9].map((n) => connectRetryBase(c, n))).toEqual([250, 500, 1000, 1000, 1000]);
    // A ceiling below the first delay is raised to it.
    expect(resolveConfig({ ...CFG, connectRetry: { initialMs: 3000, maxMs: 1000 } }).connectRetry).toEqual({ initialMs: 3000, maxMs: 3000 });
    expect(() => resolveConfig({ ...CFG, connectRetry: { initialMs: 0 } })).toThrow(/connectRetry.initialMs/);
    expect(() => resolveConfig({ ...CFG, idleHold: { stableMs: -1 } })).toThrow(/idleHold.stableMs/);
  });

  it('an unreachable peer is dialled at growing, jittered intervals', () => {
    let s = step(createSession(CFG, 99), { type: 'ManualStart' }, 0).session;
    let t = 0;
    const gaps: number[] = [];
    for (let attempt = 0; attempt < 8; attempt++) {
      // the attempt fails at once (connection refused) ...
      s = step(s, { type: 'TcpConnectionFails' }, t).session;
      expect(s.state).toBe('Active');
      // ... and the next one starts at the ConnectRetry deadline
      const next = nextDeadline(s)!;
      gaps.push(next - t);
      t = next;
      expect(expiredTimers(s, t)).toEqual([{ type: 'ConnectRetryTimer_Expires' }]);
      const r = step(s, { type: 'ConnectRetryTimer_Expires' }, t);
      expect(r.actions).toEqual([{ type: 'connect' }]);
      s = r.session;
    }
    gaps.forEach((g, n) => {
      const base = connectRetryBase(config, n);
      expect(g).toBeGreaterThanOrEqual(base * 0.75);
      expect(g).toBeLessThanOrEqual(base);
    });
    expect(gaps[7]).toBeGreaterThan(gaps[0]! * 10);
  });

  it('different seeds give different jitter, the same seed the same', () => {
    const first = (seed: number): number => step(createSession(CFG, seed), { type: 'ManualStart' }, 0).session.timers.connectRetry!;
    const values = new Set([1, 2, 3, 4, 5, 6, 7, 8].map(first));
    expect(values.size).toBeGreaterThan(4);
    expect(first(3)).toBe(first(3));
  });

  it('reaching Established resets the counter', () => {
    let s = sessionIn('Connect', { t: 0 });
    s = step(s, { type: 'ConnectRetryTimer_Expires' }, s.timers.connectRetry!).session;
    expect(s.connectRetryCounter).toBe(1);
    s = step(s, { type: 'Tcp_CR_Acked' }, 20_000).session;
    s = step(s, { type: 'BGPOpen', message: peerOpen() }, 20_001).session;
    s = step(s, { type: 'KeepAliveMsg' }, 20_002).session;
    expect(s.state).toBe('Established');
    expect(s.connectRetryCounter).toBe(0);
  });

  it('a peer that takes the connection and refuses the OPEN with an FSM Error is retried within 250 ms, QUICK_RETRIES times, then backs off', () => {
    // FRR after a link flap: the session's link-local address is still tentative, so each OPEN is answered 5/0.
    const fsmError: FsmEvent = { type: 'NotifMsg', message: { type: 'notification', code: 5, subcode: 0, data: new Uint8Array() } };
    let s = step(sessionIn('Established', { t: 0 }), { type: 'TcpConnectionFails' }, 1000).session;
    expect(s.state).toBe('Connect');
    let t = 1000;
    const gaps: number[] = [];
    for (let i = 0; i < QUICK_RETRIES + 2; i++) {
      s = stepAll(s, [{ type: 'Tcp_CR_Acked' }, fsmError], t + 5).session;
      expect(s.state).toBe('Active');
      const next = nextDeadline(s)!;
      gaps.push(next - (t + 5));
      t = next;
      const r = step(s, { type: 'ConnectRetryTimer_Expires' }, t);
      expect(r.actions).toEqual([{ type: 'connect' }]);
      s = r.session;
    }
    for (const g of gaps.slice(0, QUICK_RETRIES)) {
      expect(g).toBeGreaterThanOrEqual(QUICK_RETRY_MS * 0.75);
      expect(g).toBeLessThanOrEqual(QUICK_RETRY_MS);
    }
    // the refusal after the quick ones is the first counted one: the ordinary backoff from then on
    expect(gaps[QUICK_RETRIES]).toBeGreaterThanOrEqual(connectRetryBase(config, 1) * 0.75);
    expect(s.connectRetryCounter).toBe(2);
    // Established again: the quick retries are available again after the next loss
    s = stepAll(s, [{ type: 'Tcp_CR_Acked' }, { type: 'BGPOpen', message: peerOpen() }, { type: 'KeepAliveMsg' }], t + 5).session;
    expect(s.state).toBe('Established');
    expect(s.quickRetries).toBeUndefined();
  });

  it('a connection the peer takes and then resets in OpenSent (FRR after a collision of its own) is a quick retry too', () => {
    let s = stepAll(sessionIn('Connect', { t: 0 }), [{ type: 'Tcp_CR_Acked' }], 5).session;
    s = step(s, { type: 'TcpConnectionFails' }, 10).session;
    expect(s.state).toBe('Active');
    expect(s.connectRetryCounter).toBe(0);
    expect(s.quickRetries).toBe(1);
    expect(nextDeadline(s)! - 10).toBeLessThanOrEqual(QUICK_RETRY_MS);
  });

  it.each<[string, FsmEvent, SessionState['state']]>([
    ['a connect attempt that fails (refused, unanswered)', { type: 'TcpConnectionFails' }, 'Connect'],
    ['Cease/Connection Collision Resolution in OpenSent', { type: 'NotifMsg', message: { type: 'notification', code: 6, subcode: 7, data: new Uint8Array() } }, 'OpenSent'],
    ['our OpenSent hold timer', { type: 'HoldTimer_Expires' }, 'OpenSent'],
  ])('%s is no quick retry: the ordinary, counted backoff', (_name, ev, from) => {
    let s = from === 'OpenSent' ? stepAll(sessionIn('Connect', { t: 0 }), [{ type: 'Tcp_CR_Acked' }], 5).session : sessionIn('Connect', { t: 0 });
    s = step(s, ev, ev.type === 'HoldTimer_Expires' ? s.timers.hold! : 10).session;
    expect(s.connectRetryCounter).toBe(1);
    expect(s.quickRetries).toBeUndefined();
    expect(s.timers.connectRetry).toBeDefined();
    // From OpenSent a new, doubled deadline; from Connect the running one is kept (the deviation in fsm.ts's header).
    if (from === 'OpenSent') expect(s.timers.connectRetry! - s.lastDown!.at).toBeGreaterThanOrEqual(connectRetryBase(config, 1) * 0.75);
  });
});

describe('IdleHold damping (DampPeerOscillations)', () => {
  it('idleHoldDelay: none without failures, then 5 s doubling to the 300 s ceiling', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 30].map((f) => idleHoldDelay(config, f))).toEqual([
      0, 5000, 10000, 20000, 40000, 80000, 160000, 300000, 300000,
    ]);
  });

  it('flapsAfterDown forgives one failure per stable period', () => {
    expect(flapsAfterDown(config, 3, undefined, true)).toBe(4);
    expect(flapsAfterDown(config, 3, 119_999, true)).toBe(4);
    expect(flapsAfterDown(config, 3, 120_000, true)).toBe(3);
    expect(flapsAfterDown(config, 3, 360_000, true)).toBe(1);
    expect(flapsAfterDown(config, 3, 10_000_000, true)).toBe(1);
    expect(flapsAfterDown(config, 3, 10_000_000, false)).toBe(0);
  });

  /** Bring a session from Idle (IdleHold due) up to Established at time t. */
  function upAgain(s: SessionState, t: number): SessionState {
    const r = stepAll(
      s,
      [{ type: 'IdleHoldTimer_Expires' }, { type: 'Tcp_CR_Acked' }, { type: 'BGPOpen', message: peerOpen() }, { type: 'KeepAliveMsg' }],
      t,
    );
    expect(r.session.state).toBe('Established');
    return r.session;
  }

  /** The peer rejects what we send: UPDATE Message Error / Malformed Attribute List. */
  const rejected = { type: 'notification' as const, code: 3, subcode: 1, data: new Uint8Array() };

  it('a peer that keeps failing with errors waits longer each time, and decays back after stable uptime', () => {
    let s = sessionIn('Established', { t: 0 });
    let t = 0;
    const waits: number[] = [];
    // Four quick flaps: the peer rejects our UPDATEs right after the session comes up.
    for (let i = 0; i < 4; i++) {
      t += 1000;
      s = step(s, { type: 'NotifMsg', message: rejected }, t).session;
      expect(s.state).toBe('Idle');
      waits.push(s.timers.idleHold! - t);
      // AutomaticStart during IdleHold is damped
      expect(step(s, { type: 'AutomaticStart' }, t + 1)).toEqual({ session: s, actions: [] });
      // and the IdleHold timer does not fire early
      expect(step(s, { type: 'IdleHoldTimer_Expires' }, s.timers.idleHold! - 1).session).toEqual(s);
      t = s.timers.idleHold!;
      s = upAgain(s, t);
    }
    expect(waits).toEqual([5000, 10000, 20000, 40000]);
    expect(s.flaps).toBe(4);

    // Stable for two periods (2 × 120 s): two errors forgiven, this one added.
    t += 240_000;
    s = step(s, { type: 'UpdateMsgErr', error: bgpError(3, 1, 'malformed') }, t).session;
    expect(s.flaps).toBe(3);
    expect(s.timers.idleHold! - t).toBe(20000);

    // Stable for a long time: back to the first step.
    t = s.timers.idleHold!;
    s = upAgain(s, t);
    // A hold-timer expiry forgives nothing and adds nothing (a path failure, not an error) ...
    const quick = step(s, { type: 'HoldTimer_Expires' }, s.timers.hold!).session;
    expect(quick.flaps).toBe(3);
    expect(quick.state).toBe('Connect');
    // ... an hour of uptime forgives everything before this error.
    t += 3_600_000;
    s = step(s, { type: 'NotifMsg', message: rejected }, t).session;
    expect(s.flaps).toBe(1);
    expect(s.timers.idleHold! - t).toBe(5000);
  });

  it.each<[string, FsmEvent]>([
    ['TCP reset / closed', { type: 'TcpConnectionFails' }],
    ['our hold timer (the path went quiet)', { type: 'HoldTimer_Expires' }],
    ['the peer\'s Hold Timer Expired', { type: 'NotifMsg', message: { type: 'notification', code: 4, subcode: 0, data: new Uint8Array() } }],
    ['Cease/Administrative Shutdown (router restart)', { type: 'NotifMsg', message: { type: 'notification', code: 6, subcode: 2, data: new Uint8Array() } }],
    ['Cease/Peer De-configured (FRR stopping)', { type: 'NotifMsg', message: { type: 'notification', code: 6, subcode: 3, data: new Uint8Array() } }],
    ['Cease/Administrative Reset (clear bgp)', { type: 'NotifMsg', message: { type: 'notification', code: 6, subcode: 4, data: new Uint8Array() } }],
    ['Cease/Hard Reset of a shutdown', { type: 'NotifMsg', message: { type: 'notification', code: 6, subcode: 9, data: new Uint8Array([6, 2]), hardReset: { code: 6, subcode: 2, data: new Uint8Array() } } }],
    ['Cease/BFD Down', { type: 'NotifMsg', message: { type: 'notification', code: 6, subcode: 10, data: new Uint8Array() } }],
    ['FSM Error from the peer (a race with its restart)', { type: 'NotifMsg', message: { type: 'notification', code: 5, subcode: 0, data: new Uint8Array() } }],
  ])('%s, fifty times in a row: re-dialled at once every time, never damped', (_name, ev) => {
    let s = sessionIn('Established', { t: 0 });
    let t = 0;
    for (let i = 0; i < 50; i++) {
      t += 2000;
      const at = ev.type === 'HoldTimer_Expires' ? s.timers.hold! : t;
      t = Math.max(t, at);
      const r = step(s, ev, at);
      expect(r.actions.map((a) => a.type).slice(-1)).toEqual(['connect']);
      expect(r.session.state).toBe('Connect');
      expect(r.session.timers.idleHold).toBeUndefined();
      // the first dial's own retry deadline is the initial 1 s, never grown
      expect(r.session.timers.connectRetry! - at).toBeLessThanOrEqual(1000);
      s = stepAll(r.session, [{ type: 'Tcp_CR_Acked' }, { type: 'BGPOpen', message: peerOpen() }, { type: 'KeepAliveMsg' }], at + 5).session;
      expect(s.state).toBe('Established');
      expect(s.flaps).toBe(0);
    }
  });

  it.each<[string, FsmEvent]>([
    ['Cease/Maximum Number of Prefixes Reached', { type: 'NotifMsg', message: { type: 'notification', code: 6, subcode: 1, data: new Uint8Array() } }],
    ['Cease/Connection Rejected', { type: 'NotifMsg', message: { type: 'notification', code: 6, subcode: 5, data: new Uint8Array() } }],
    ['Cease/Out of Resources', { type: 'NotifMsg', message: { type: 'notification', code: 6, subcode: 8, data: new Uint8Array() } }],
    ['Hard Reset carrying Maximum Prefixes', { type: 'NotifMsg', message: { type: 'notification', code: 6, subcode: 9, data: new Uint8Array([6, 1]), hardReset: { code: 6, subcode: 1, data: new Uint8Array() } } }],
    ['OPEN Message Error from the peer', { type: 'NotifMsg', message: { type: 'notification', code: 2, subcode: 2, data: new Uint8Array() } }],
    ['our own UPDATE error', { type: 'UpdateMsgErr', error: bgpError(3, 1, 'malformed') }],
    ['our maximum-prefix limit', { type: 'MaxPrefixExceeded', afi: 1, safi: 1, limit: 10 }],
  ])('%s is an error: damped, and the IdleHold doubles each time', (_name, ev) => {
    let s = sessionIn('Established', { t: 0 });
    let t = 0;
    const waits: number[] = [];
    for (let i = 0; i < 3; i++) {
      t += 1000;
      const r = step(s, ev, t);
      expect(r.session.state).toBe('Idle');
      expect(r.actions.some((a) => a.type === 'connect')).toBe(false);
      waits.push(r.session.timers.idleHold! - t);
      t = r.session.timers.idleHold!;
      s = upAgain(r.session, t);
    }
    expect(waits).toEqual([5000, 10000, 20000]);
  });

  it('the configured IdleHold first delay, ceiling and forgiveness apply', () => {
    let s = sessionIn('Established', { t: 0, cfg: { idleHold: { initialMs: 2000, maxMs: 6000, stableMs: 10_000 } } });
    let t = 0;
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      t += 100;
      s = step(s, { type: 'NotifMsg', message: rejected }, t).session;
      waits.push(s.timers.idleHold! - t);
      t = s.timers.idleHold!;
      s = upAgain(s, t);
    }
    expect(waits).toEqual([2000, 4000, 6000, 6000]);
    t += 30_000; // three forgiveness periods
    s = step(s, { type: 'NotifMsg', message: rejected }, t).session;
    expect(s.flaps).toBe(2);
  });

  it('ManualStart resets damping; ManualStop disables the automatic restart', () => {
    let s = sessionIn('Established', { t: 0 });
    for (let i = 0; i < 3; i++) {
      s = step(s, { type: 'NotifMsg', message: rejected }, i * 100_000 + 10).session;
      s = upAgain(s, s.timers.idleHold!);
    }
    expect(s.flaps).toBe(3);
    s = step(s, { type: 'ManualStop' }, 400_000).session;
    expect(s.timers).toEqual({});
    expect(expiredTimers(s, 10 ** 12)).toEqual([]);
    expect(step(s, { type: 'IdleHoldTimer_Expires' }, 10 ** 12).session.state).toBe('Idle');
    const r = step(s, { type: 'ManualStart' }, 500_000);
    expect(r.session.flaps).toBe(0);
    expect(r.session.state).toBe('Connect');
  });

  it('heldDown: only a stopped or damped Idle holds the peer down', () => {
    expect(heldDown(createSession(CFG))).toBe(true);
    const damped = step(sessionIn('Established', { t: 0 }), { type: 'NotifMsg', message: rejected }, 10).session;
    expect(heldDown(damped)).toBe(true);
    expect(heldDown(step(damped, { type: 'ManualStop' }, 11).session)).toBe(true);
    expect(heldDown({ ...damped, timers: {} })).toBe(false);
    expect(heldDown(sessionIn('Active'))).toBe(false);
    expect(heldDown(sessionIn('Connect'))).toBe(false);
  });

  it('IdleHoldTimer_Expires performs the automatic start in the configured mode', () => {
    let s = sessionIn('Established', { cfg: { passive: true }, t: 0 });
    expect(s.passive).toBe(true);
    s = step(s, { type: 'NotifMsg', message: rejected }, 10).session;
    const r = step(s, { type: 'IdleHoldTimer_Expires' }, s.timers.idleHold!);
    expect(r.session.state).toBe('Active');
    expect(r.actions).toEqual([]);
  });
});

describe('nextDeadline and expiredTimers', () => {
  it('returns the earliest deadline and lists due timers, hold first', () => {
    const s = sessionIn('Established', { t: 0 });
    expect(nextDeadline(s)).toBe(s.timers.keepalive);
    expect(expiredTimers(s, 0)).toEqual([]);
    expect(expiredTimers(s, 10 ** 9)).toEqual([
      { type: 'HoldTimer_Expires' },
      { type: 'SendHoldTimer_Expires' },
      { type: 'KeepaliveTimer_Expires' },
    ]);
    const idle = createSession(CFG);
    expect(nextDeadline(idle)).toBeUndefined();
  });

  it('applying all due timers at once ends the session via the hold timer, later ones stale', () => {
    const s = sessionIn('Established', { t: 0 });
    const r = stepAll(s, expiredTimers(s, 10 ** 9), 10 ** 9);
    // Hold Timer Expired, then a fresh dial (the send hold and keepalive events found their deadlines gone).
    expect(r.session.state).toBe('Connect');
    expect(r.actions.map((a) => a.type)).toEqual(['send', 'close', 'session-down', 'connect']);
  });
});
