/**
 * Shared fixtures for the session tests: a config, the peer's OPEN, and a
 * driver-in-miniature that walks a session into a given state.
 */
import { expect } from 'vitest';
import { createSession, step, type StepResult } from '../../../bgp/session/fsm.js';
import type { SessionConfigInput } from '../../../bgp/session/config.js';
import type { FsmAction, FsmEvent, FsmState, SessionState } from '../../../bgp/session/types.js';
import type { Capability, NotificationMessage, OpenMessage } from '../../../bgp/wire/types.js';

export const LOCAL_ID = '192.0.2.1';
export const PEER_ID = '192.0.2.2';

export const CFG: SessionConfigInput = {
  localAs: 65001,
  peerAs: 65002,
  routerId: LOCAL_ID,
  holdTime: 90,
};

/** The OPEN a typical peer sends: AS 65002, hold 90, IPv4 unicast, route refresh, 4-octet AS. */
export function peerOpen(over: Partial<OpenMessage> = {}, extraCaps: Capability[] = []): OpenMessage {
  return {
    type: 'open',
    version: 4,
    myAs: 65002,
    holdTime: 90,
    bgpId: PEER_ID,
    capabilities: [
      { code: 1, kind: 'multiprotocol', afi: 1, safi: 1 },
      { code: 2, kind: 'route-refresh' },
      { code: 65, kind: 'four-octet-as', asn: 65002 },
      ...extraCaps,
    ],
    otherParams: [],
    ...over,
  };
}

/** Apply events one by one at the given times, returning the last result and all actions. */
export function run(s: SessionState, steps: [FsmEvent, number][]): { session: SessionState; actions: FsmAction[] } {
  let cur = s;
  const actions: FsmAction[] = [];
  for (const [e, t] of steps) {
    const r = step(cur, e, t);
    cur = r.session;
    actions.push(...r.actions);
  }
  return { session: cur, actions };
}

/** Walk a fresh session into `state` at time `t` (all events at t). */
export function sessionIn(
  state: FsmState,
  opts: { cfg?: Partial<SessionConfigInput>; open?: OpenMessage; t?: number; seed?: number } = {},
): SessionState {
  const t = opts.t ?? 0;
  let s = createSession({ ...CFG, ...opts.cfg }, opts.seed ?? 1);
  if (state === 'Idle') return s;
  if (state === 'Active') {
    s = step(s, { type: 'ManualStart_with_PassiveTcpEstablishment' }, t).session;
    expect(s.state).toBe('Active');
    return s;
  }
  s = step(s, { type: 'ManualStart' }, t).session;
  if (state === 'Connect') return s;
  s = step(s, { type: 'Tcp_CR_Acked' }, t).session;
  if (state === 'OpenSent') return s;
  s = step(s, { type: 'BGPOpen', message: opts.open ?? peerOpen() }, t).session;
  expect(s.state).toBe('OpenConfirm');
  if (state === 'OpenConfirm') return s;
  s = step(s, { type: 'KeepAliveMsg' }, t).session;
  expect(s.state).toBe('Established');
  return s;
}

/** The action types in order, for compact assertions. */
export const types = (actions: FsmAction[]): string[] => actions.map((a) => a.type);

/** The NOTIFICATION sent by a result, if any. */
export function sentNotification(r: StepResult | { actions: FsmAction[] }): NotificationMessage | undefined {
  for (const a of r.actions) if (a.type === 'send' && a.message.type === 'notification') return a.message;
  return undefined;
}

/**
 * Assert a result sent NOTIFICATION code/subcode (and data), closed, reported
 * down and went to `next`: Idle (damped or stopped), Active (waiting for the
 * ConnectRetry backoff) or Connect (dialling again at once, one more action).
 */
export function expectNotifiedDown(
  r: StepResult,
  code: number,
  subcode: number,
  data?: number[],
  next: 'Idle' | 'Active' | 'Connect' = 'Idle',
): NotificationMessage {
  expect(types(r.actions)).toEqual(next === 'Connect' ? ['send', 'close', 'session-down', 'connect'] : ['send', 'close', 'session-down']);
  const n = sentNotification(r)!;
  expect([n.code, n.subcode]).toEqual([code, subcode]);
  if (data) expect([...n.data]).toEqual(data);
  const down = r.actions[2]!;
  if (down.type !== 'session-down') throw new Error('unreachable');
  expect(down.notification).toBe(n);
  expect(r.session.state).toBe(next);
  return n;
}
