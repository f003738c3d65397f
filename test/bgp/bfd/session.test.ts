// Table tests on the pure BFD session machine (bgp/bfd/session.ts): every
// (local state, received state) pair of RFC 5880 §6.8.6, the Detection Time
// (§6.8.4), the transmit rules and jitter (§6.8.2, §6.8.7), the slow rate
// before Up and the Poll Sequence ordering rules (§6.8.3, §6.5), Final
// replies, the Passive role (§6.1), Demand on the remote, AdminDown
// (§6.8.16) and what RFC 5882 §3.2 makes of each Down. Time is an explicit
// `now` in ms; nothing sleeps.
import { describe, expect, it } from 'vitest';
import {
  createBfdSession,
  detectionTimeUs,
  expiredTimers,
  jitterMs,
  nextDeadline,
  step,
  stepAll,
  txIntervalUs,
  type BfdAction,
  type BfdEvent,
  type BfdSession,
  type BfdSessionConfig,
} from '../../../bgp/bfd/session.js';
import { BfdDiag, BfdState } from '../../../bgp/bfd/iana.js';
import type { BfdControlPacket } from '../../../bgp/bfd/wire.js';

const LOCAL = 0x1111;
const REMOTE = 0x2222;
const cfg: BfdSessionConfig = { desiredMinTxUs: 100_000, requiredMinRxUs: 100_000, detectMult: 3, passive: false };
const { AdminDown, Down, Init, Up } = BfdState;

/** A packet from the remote system. */
function remote(p: Partial<BfdControlPacket> = {}): BfdEvent {
  return {
    type: 'Packet',
    packet: {
      diag: 0,
      state: Down,
      poll: false,
      final: false,
      cpi: false,
      demand: false,
      detectMult: 3,
      myDiscriminator: REMOTE,
      yourDiscriminator: p.state === undefined || p.state === Down || p.state === AdminDown ? 0 : LOCAL,
      desiredMinTxUs: 100_000,
      requiredMinRxUs: 100_000,
      requiredMinEchoRxUs: 0,
      ...p,
    },
  };
}

const sends = (a: BfdAction[]): BfdControlPacket[] => a.flatMap((x) => (x.type === 'send' ? [x.packet] : []));
const states = (a: BfdAction[]): Extract<BfdAction, { type: 'state' }>[] => a.flatMap((x) => (x.type === 'state' ? [x] : []));

/** A session in `state` at time 0, its Poll Sequence (if any) finished. */
function inState(state: BfdState, config: BfdSessionConfig = cfg): BfdSession {
  let s = createBfdSession(config, LOCAL, 0, 7);
  if (state === AdminDown) return step(s, { type: 'AdminDown' }, 0).session;
  if (state === Down) return s;
  s = step(s, remote({ state: Down }), 0).session;
  if (state === Init) return s;
  s = step(s, remote({ state: Init }), 0).session;
  expect(s.state).toBe(Up);
  return step(s, remote({ state: Up, final: true }), 0).session;
}

describe('RFC 5880 §6.8.6 state table', () => {
  // [local, received, new local state, new diag (undefined: unchanged), pathDown]
  const TABLE: [BfdState, BfdState, BfdState, number | undefined, boolean][] = [
    [AdminDown, AdminDown, AdminDown, undefined, false],
    [AdminDown, Down, AdminDown, undefined, false],
    [AdminDown, Init, AdminDown, undefined, false],
    [AdminDown, Up, AdminDown, undefined, false],
    [Down, AdminDown, Down, undefined, false],
    [Down, Down, Init, undefined, false],
    [Down, Init, Up, BfdDiag.NoDiagnostic, false],
    [Down, Up, Down, undefined, false],
    [Init, AdminDown, Down, BfdDiag.NeighborSignaledSessionDown, false],
    [Init, Down, Init, undefined, false],
    [Init, Init, Up, BfdDiag.NoDiagnostic, false],
    [Init, Up, Up, BfdDiag.NoDiagnostic, false],
    [Up, AdminDown, Down, BfdDiag.NeighborSignaledSessionDown, false],
    [Up, Down, Down, BfdDiag.NeighborSignaledSessionDown, true],
    [Up, Init, Up, undefined, false],
    [Up, Up, Up, undefined, false],
  ];
  const name = (s: BfdState): string => ['AdminDown', 'Down', 'Init', 'Up'][s]!;

  it.each(TABLE.map(([l, r, n, d, p]) => ({ l, r, n, d, p, title: `${name(l)} + received ${name(r)} -> ${name(n)}` })))('$title', ({ l, r, n, d, p }) => {
    const s0 = inState(l);
    const { session: s, actions } = step(s0, remote({ state: r }), 10);
    expect(s.state).toBe(n);
    expect(s.localDiag).toBe(d ?? s0.localDiag);
    const changes = states(actions);
    if (n === l) expect(changes).toEqual([]);
    else expect(changes).toEqual([{ type: 'state', from: l, to: n, diag: s.localDiag, remoteState: r, pathDown: p }]);
    // The remote variables are set in every state, AdminDown included.
    expect(s.remoteDiscr).toBe(REMOTE);
    expect(s.remoteState).toBe(r);
    // A state change goes out at once, carrying the new state.
    if (n !== l) expect(sends(actions).map((x) => x.state)).toEqual([n]);
  });

  it('covers all 16 pairs', () => {
    expect(new Set(TABLE.map(([l, r]) => `${l}${r}`)).size).toBe(16);
  });

  it('echoes the remote discriminator once learnt and keeps its own', () => {
    const { actions } = step(inState(Down), remote({ state: Down }), 0);
    expect(sends(actions)).toMatchObject([{ myDiscriminator: LOCAL, yourDiscriminator: REMOTE, state: Init }]);
  });
});

describe('first packets and the Active / Passive roles (§6.1, §6.8.7)', () => {
  it('an Active session sends at once, slow (>= 1 s) until Up, then every 75-100 % of the interval', () => {
    const s0 = createBfdSession(cfg, LOCAL, 500, 3);
    expect(s0.timers).toEqual({ tx: 500 });
    const r = step(s0, { type: 'TxTimer' }, 500);
    expect(sends(r.actions)).toEqual([
      {
        diag: 0,
        state: Down,
        poll: false,
        final: false,
        cpi: false,
        demand: false,
        detectMult: 3,
        myDiscriminator: LOCAL,
        yourDiscriminator: 0,
        desiredMinTxUs: 1_000_000, // §6.8.3: not less than one second while not Up
        requiredMinRxUs: 100_000,
        requiredMinEchoRxUs: 0,
      },
    ]);
    const next = r.session.timers.tx!;
    expect(next).toBeGreaterThanOrEqual(500 + 750);
    expect(next).toBeLessThanOrEqual(500 + 1000);
  });

  it('a Passive session sends nothing until it hears the remote, then answers at once', () => {
    const s0 = createBfdSession({ ...cfg, passive: true }, LOCAL, 0);
    expect(s0.timers).toEqual({});
    expect(nextDeadline(s0)).toBeUndefined();
    expect(step(s0, { type: 'TxTimer' }, 5).actions).toEqual([]);
    const r = step(s0, remote({ state: Down }), 100);
    expect(r.session.state).toBe(Init);
    expect(sends(r.actions)).toMatchObject([{ state: Init, yourDiscriminator: REMOTE }]);
    expect(r.session.timers.tx).toBeGreaterThan(100);
  });

  it('a Passive session that heard a packet without a state change starts sending at once', () => {
    const s0 = createBfdSession({ ...cfg, passive: true }, LOCAL, 0);
    // A remote that still claims Up (it will time out) teaches us its discriminator.
    const r = step(s0, remote({ state: Up, yourDiscriminator: 99 }), 40);
    expect(r.session.state).toBe(Down);
    expect(r.session.timers.tx).toBe(40);
    expect(sends(step(r.session, { type: 'TxTimer' }, 40).actions)).toMatchObject([{ state: Down, yourDiscriminator: REMOTE }]);
  });

  it('a Passive session stops again when the Detection Time passes and bfd.RemoteDiscr goes back to 0 (§6.8.1)', () => {
    // Before Up the remote sends at least every second (§6.8.3): Detection Time 3 x 1 s.
    let s = step(createBfdSession({ ...cfg, passive: true }, LOCAL, 0), remote({ state: Down, desiredMinTxUs: 1_000_000 }), 0).session;
    expect(s.timers.detect).toBe(3000);
    const r = step(s, { type: 'DetectTimer' }, 3000);
    s = r.session;
    expect(states(r.actions)).toEqual([{ type: 'state', from: Init, to: Down, diag: BfdDiag.ControlDetectionTimeExpired, remoteState: Down, pathDown: false }]);
    expect(s.remoteDiscr).toBe(0);
    expect(s.timers).toEqual({});
    expect(sends(r.actions)).toEqual([]);
  });
});

describe('Detection Time (§6.8.4)', () => {
  it('is the remote Detect Mult x max(local RequiredMinRx, remote DesiredMinTx)', () => {
    const s = inState(Up);
    expect(detectionTimeUs(s)).toBe(300_000);
    const slowRemote = step(s, remote({ state: Up, desiredMinTxUs: 250_000, detectMult: 4 }), 0).session;
    expect(detectionTimeUs(slowRemote)).toBe(1_000_000);
    expect(slowRemote.timers.detect).toBe(1000);
    const slowUs = step(createBfdSession({ ...cfg, requiredMinRxUs: 400_000 }, LOCAL, 0), remote({ state: Down, desiredMinTxUs: 1_000_000, detectMult: 2 }), 5).session;
    expect(slowUs.timers.detect).toBe(5 + 2000);
  });

  it('restarts on every accepted packet', () => {
    let s = inState(Up);
    s = step(s, remote({ state: Up }), 250).session;
    expect(s.timers.detect).toBe(550);
    expect(step(s, { type: 'DetectTimer' }, 300).session).toBe(s); // stale: deadline moved
  });

  it('expiry in Up: Down with diag 1, pathDown, a Down packet out, slow rate again', () => {
    const s0 = inState(Up);
    const r = step(s0, { type: 'DetectTimer' }, 300);
    expect(states(r.actions)).toEqual([{ type: 'state', from: Up, to: Down, diag: BfdDiag.ControlDetectionTimeExpired, remoteState: Up, pathDown: true }]);
    expect(sends(r.actions)).toMatchObject([{ state: Down, diag: 1, yourDiscriminator: 0, desiredMinTxUs: 1_000_000 }]);
    expect(r.session.remoteDiscr).toBe(0);
    expect(r.session.timers.detect).toBeUndefined();
    expect(txIntervalUs(r.session)).toBe(1_000_000);
  });

  it('expiry in Down only forgets the remote', () => {
    let s = step(inState(Up), remote({ state: Down }), 0).session; // Up -> Down (diag 3)
    expect(s.state).toBe(Down);
    const r = step(s, { type: 'DetectTimer' }, s.timers.detect!);
    s = r.session;
    expect(states(r.actions)).toEqual([]);
    expect({ state: s.state, diag: s.localDiag, remoteDiscr: s.remoteDiscr }).toEqual({ state: Down, diag: 3, remoteDiscr: 0 });
  });

  it('AdminDown packets do not count as received: the timer keeps running to expiry', () => {
    let s = step(inState(Up), { type: 'AdminDown' }, 100).session;
    const detect = s.timers.detect;
    s = step(s, remote({ state: Up }), 200).session;
    expect(s.timers.detect).toBe(detect);
    expect(s.state).toBe(AdminDown);
  });
});

describe('transmission (§6.8.2, §6.8.7)', () => {
  it('sends at max(DesiredMinTx, remote RequiredMinRx), jittered 75-100 %', () => {
    const s = step(inState(Up), remote({ state: Up, requiredMinRxUs: 400_000 }), 0).session;
    expect(txIntervalUs(s)).toBe(400_000);
    const gaps: number[] = [];
    let cur = s;
    let t = cur.timers.tx!;
    for (let i = 0; i < 2000; i++) {
      const r = step(cur, { type: 'TxTimer' }, t);
      cur = r.session;
      expect(sends(r.actions)).toHaveLength(1);
      gaps.push((cur.timers.tx! - t) / 400);
      t = cur.timers.tx!;
      cur = { ...cur, lastRxAt: t, timers: { ...cur.timers, detect: undefined } }; // keep the remote alive
    }
    expect(gaps.length).toBe(2000);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(0.75);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(1.0);
    expect(Math.max(...gaps) - Math.min(...gaps)).toBeGreaterThan(0.2);
  });

  it('jitters to 75-90 % when bfd.DetectMult is 1', () => {
    expect(jitterMs(100_000, 1, 0)).toBe(75);
    expect(jitterMs(100_000, 1, 0.999999)).toBeCloseTo(90, 3);
    expect(jitterMs(100_000, 3, 0.999999)).toBeCloseTo(100, 3);
    let s = inState(Up, { ...cfg, detectMult: 1 });
    const gaps: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const t = s.timers.tx!;
      s = step(s, { type: 'TxTimer' }, t).session;
      gaps.push((s.timers.tx! - t) / 100);
    }
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(0.75);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(0.9);
    expect(Math.max(...gaps) - Math.min(...gaps)).toBeGreaterThan(0.1);
  });

  it('honours a reduced remote RequiredMinRx at once: next packet within the new interval of the last', () => {
    let s = step(inState(Up), remote({ state: Up, requiredMinRxUs: 1_000_000 }), 0).session;
    s = step(s, { type: 'TxTimer' }, s.timers.tx!).session;
    const last = s.lastTxAt!;
    expect(s.timers.tx! - last).toBeGreaterThanOrEqual(750);
    // The interval becomes max(our 100 ms, their 50 ms) = 100 ms.
    s = step(s, remote({ state: Up, requiredMinRxUs: 50_000 }), last + 20).session;
    expect(txIntervalUs(s)).toBe(100_000);
    expect(s.timers.tx!).toBeGreaterThanOrEqual(last + 75);
    expect(s.timers.tx!).toBeLessThanOrEqual(last + 100);
    // Already overdue: send as soon as practicable (now).
    s = step(s, remote({ state: Up, requiredMinRxUs: 2_000_000 }), s.timers.tx! - 1).session;
    s = step(s, { type: 'TxTimer' }, s.timers.tx!).session;
    const l2 = s.lastTxAt!;
    expect(s.timers.tx! - l2).toBeGreaterThanOrEqual(1500);
    s = step(s, remote({ state: Up, requiredMinRxUs: 10_000 }), l2 + 500).session;
    expect(s.timers.tx).toBe(l2 + 500);
  });

  it('sends nothing periodic while the remote RequiredMinRx is 0, but still answers a Poll', () => {
    const r = step(inState(Up), remote({ state: Up, requiredMinRxUs: 0, poll: true }), 10);
    expect(r.session.timers.tx).toBeUndefined();
    expect(sends(r.actions)).toMatchObject([{ final: true, poll: false }]);
    const back = step(r.session, remote({ state: Up, requiredMinRxUs: 100_000 }), 20).session;
    expect(back.timers.tx).toBe(20);
  });

  it('stops periodic packets while Demand mode is active on the remote (both Up), not during a Poll Sequence', () => {
    let s = step(inState(Up), remote({ state: Up, demand: true }), 10).session;
    expect(s.timers.tx).toBeUndefined();
    s = step(s, { type: 'SetParams', params: { desiredMinTxUs: 50_000 } }, 20).session;
    expect(s.poll).not.toBeNull();
    expect(s.timers.tx).toBe(20);
    const r = step(s, { type: 'TxTimer' }, 20);
    expect(sends(r.actions)).toMatchObject([{ poll: true, demand: false }]);
    s = step(r.session, remote({ state: Up, demand: true, final: true }), 30).session;
    expect(s.timers.tx).toBeUndefined();
  });
});

describe('Poll Sequences and the §6.8.3 ordering rules', () => {
  it('coming Up switches from the 1 s rate to the configured one with a Poll Sequence', () => {
    let s = step(createBfdSession(cfg, LOCAL, 0), remote({ state: Down, desiredMinTxUs: 1_000_000, requiredMinRxUs: 1_000_000 }), 0).session;
    expect(s.desiredMinTxUs).toBe(1_000_000);
    const r = step(s, remote({ state: Init, desiredMinTxUs: 1_000_000, requiredMinRxUs: 1_000_000 }), 5);
    s = r.session;
    expect(s.state).toBe(Up);
    expect(s.poll).toEqual({ desiredMinTxUs: 100_000, requiredMinRxUs: 100_000 });
    // The Up packet carries P and the new DesiredMinTx; the decrease applies at once.
    expect(sends(r.actions)).toMatchObject([{ state: Up, poll: true, final: false, desiredMinTxUs: 100_000 }]);
    expect(s.txBaseUs).toBe(100_000);
    expect(txIntervalUs(s)).toBe(1_000_000); // until the remote lowers its RequiredMinRx
    const f = step(s, remote({ state: Up, final: true, desiredMinTxUs: 1_000_000, requiredMinRxUs: 1_000_000 }), 6);
    expect(f.actions).toContainEqual({ type: 'poll-done', desiredMinTxUs: 100_000, requiredMinRxUs: 100_000 });
    expect(f.session.poll).toBeNull();
    expect(sends(step(f.session, { type: 'TxTimer' }, f.session.timers.tx!).actions)).toMatchObject([{ poll: false }]);
  });

  it('keeps a configured DesiredMinTx above 1 s as it is, without a Poll Sequence at Up', () => {
    const s = inState(Init, { ...cfg, desiredMinTxUs: 2_000_000 });
    const r = step(s, remote({ state: Up }), 1);
    expect(r.session.poll).toBeNull();
    expect(r.session.desiredMinTxUs).toBe(2_000_000);
  });

  it('answers a Poll with one Final packet (P clear) at once, leaving the periodic schedule alone', () => {
    const s = inState(Up);
    const r = step(s, remote({ state: Up, poll: true, requiredMinRxUs: 50_000 }), 40);
    expect(sends(r.actions)).toEqual([expect.objectContaining({ final: true, poll: false, state: Up })]);
    expect(r.session.lastTxAt).toBe(s.lastTxAt);
  });

  it('answers a Poll even while its own Poll Sequence runs, with F only', () => {
    let s = step(inState(Up), { type: 'SetParams', params: { requiredMinRxUs: 200_000 } }, 0).session;
    expect(s.poll).not.toBeNull();
    const r = step(s, remote({ state: Up, poll: true }), 10);
    expect(sends(r.actions)).toEqual([expect.objectContaining({ final: true, poll: false })]);
    s = r.session;
    expect(sends(step(s, { type: 'TxTimer' }, s.timers.tx!).actions)).toEqual([expect.objectContaining({ poll: true, final: false })]);
  });

  it('a larger DesiredMinTx is advertised at once but used only after the Poll Sequence ends', () => {
    let s = inState(Up);
    const r = step(s, { type: 'SetParams', params: { desiredMinTxUs: 300_000 } }, 0);
    s = r.session;
    expect(s.desiredMinTxUs).toBe(300_000);
    expect(txIntervalUs(s)).toBe(100_000);
    expect(sends(step(s, { type: 'TxTimer' }, s.timers.tx!).actions)).toMatchObject([{ poll: true, desiredMinTxUs: 300_000 }]);
    s = step(s, remote({ state: Up, final: true }), 50).session;
    expect(s.poll).toBeNull();
    expect(txIntervalUs(s)).toBe(300_000);
  });

  it('a smaller DesiredMinTx is used at once', () => {
    const s = step(inState(Up), { type: 'SetParams', params: { desiredMinTxUs: 20_000 } }, 0).session;
    expect(s.poll).toEqual({ desiredMinTxUs: 20_000, requiredMinRxUs: 100_000 });
    expect(s.txBaseUs).toBe(20_000);
  });

  it('a smaller RequiredMinRx counts for the Detection Time only after the Poll Sequence ends', () => {
    let s = step(inState(Up), remote({ state: Up, desiredMinTxUs: 10_000 }), 0).session;
    expect(detectionTimeUs(s)).toBe(300_000);
    s = step(s, { type: 'SetParams', params: { requiredMinRxUs: 20_000 } }, 0).session;
    expect(s.requiredMinRxUs).toBe(20_000);
    expect(detectionTimeUs(s)).toBe(300_000);
    s = step(s, remote({ state: Up, desiredMinTxUs: 10_000, final: true }), 10).session;
    expect(detectionTimeUs(s)).toBe(60_000);
    expect(s.timers.detect).toBe(10 + 60);
  });

  it('a larger RequiredMinRx counts for the Detection Time at once', () => {
    const s = step(inState(Up), { type: 'SetParams', params: { requiredMinRxUs: 500_000 } }, 0).session;
    expect(detectionTimeUs(s)).toBe(1_500_000);
  });

  it('a change during a Poll Sequence confirms the first values, then polls again for the newer ones', () => {
    let s = step(inState(Up), { type: 'SetParams', params: { desiredMinTxUs: 300_000 } }, 0).session;
    s = step(s, { type: 'SetParams', params: { desiredMinTxUs: 200_000, requiredMinRxUs: 50_000 } }, 1).session;
    expect(s.poll).toEqual({ desiredMinTxUs: 300_000, requiredMinRxUs: 100_000 });
    expect(s.repoll).toBe(true);
    expect(txIntervalUs(s)).toBe(100_000);
    let r = step(s, remote({ state: Up, final: true }), 10);
    expect(r.actions).toContainEqual({ type: 'poll-done', desiredMinTxUs: 300_000, requiredMinRxUs: 100_000 });
    s = r.session;
    // In force: 200 ms (what is advertised now, not the 300 ms confirmed), the old 100 ms RequiredMinRx.
    expect({ tx: s.txBaseUs, rx: s.rxBaseUs }).toEqual({ tx: 200_000, rx: 100_000 });
    expect(s.poll).toEqual({ desiredMinTxUs: 200_000, requiredMinRxUs: 50_000 });
    r = step(s, remote({ state: Up, final: true }), 20);
    s = r.session;
    expect(s.poll).toBeNull();
    expect({ tx: s.txBaseUs, rx: s.rxBaseUs }).toEqual({ tx: 200_000, rx: 50_000 });
  });

  it('changes while not Up apply at once, without a Poll Sequence', () => {
    const s = step(inState(Init), { type: 'SetParams', params: { desiredMinTxUs: 50_000, requiredMinRxUs: 20_000, detectMult: 5 } }, 0).session;
    expect(s.poll).toBeNull();
    expect({ d: s.desiredMinTxUs, r: s.requiredMinRxUs, rx: s.rxBaseUs, m: s.config.detectMult }).toEqual({ d: 1_000_000, r: 20_000, rx: 20_000, m: 5 });
  });

  it('going Down abandons a Poll Sequence and falls back to the slow rate', () => {
    const s = step(inState(Up), { type: 'SetParams', params: { desiredMinTxUs: 300_000 } }, 0).session;
    const r = step(s, remote({ state: Down }), 5);
    expect(r.session.poll).toBeNull();
    expect(r.session.desiredMinTxUs).toBe(1_000_000);
    expect(sends(r.actions)).toMatchObject([{ state: Down, poll: false, desiredMinTxUs: 1_000_000 }]);
  });

  it('an F with no Poll Sequence running changes nothing', () => {
    const s = inState(Up);
    const r = step(s, remote({ state: Up, final: true }), 5);
    expect(r.actions).toEqual([]);
    expect(r.session.txBaseUs).toBe(s.txBaseUs);
  });
});

describe('AdminDown (§6.8.16) and RFC 5882 §3.2', () => {
  it('AdminDown sends diag 7 at once, then keeps sending slowly; AdminUp returns to Down and diag clears at Up', () => {
    const s0 = inState(Up);
    let r = step(s0, { type: 'AdminDown' }, 100);
    expect(states(r.actions)).toEqual([{ type: 'state', from: Up, to: AdminDown, diag: 7, remoteState: Up, pathDown: false }]);
    expect(sends(r.actions)).toMatchObject([{ state: AdminDown, diag: 7, desiredMinTxUs: 1_000_000, yourDiscriminator: REMOTE }]);
    let s = r.session;
    expect(s.timers.tx! - 100).toBeGreaterThanOrEqual(750);
    expect(step(s, { type: 'AdminDown' }, 101).actions).toEqual([]);
    // No Final in AdminDown: the packet is discarded after the remote variables.
    expect(sends(step(s, remote({ state: Down, poll: true }), 150).actions)).toEqual([]);
    r = step(s, { type: 'AdminUp' }, 200);
    expect(states(r.actions)).toEqual([{ type: 'state', from: AdminDown, to: Down, diag: 7, remoteState: Up, pathDown: false }]);
    s = step(r.session, remote({ state: Init }), 210).session;
    expect({ state: s.state, diag: s.localDiag }).toEqual({ state: Up, diag: 0 });
  });

  it('AdminDown may carry diag 5 (Path Down)', () => {
    const r = step(inState(Up), { type: 'AdminDown', diag: BfdDiag.PathDown }, 0);
    expect(sends(r.actions)).toMatchObject([{ state: AdminDown, diag: 5 }]);
  });

  it('a remote AdminDown takes us Down with diag 3 but pathDown false; a remote Down says pathDown true', () => {
    const admin = states(step(inState(Up), remote({ state: AdminDown, diag: 7 }), 0).actions);
    const down = states(step(inState(Up), remote({ state: Down, diag: 1 }), 0).actions);
    expect(admin).toEqual([{ type: 'state', from: Up, to: Down, diag: 3, remoteState: AdminDown, pathDown: false }]);
    expect(down).toEqual([{ type: 'state', from: Up, to: Down, diag: 3, remoteState: Down, pathDown: true }]);
  });

  it('a Passive session in AdminDown stays silent while bfd.RemoteDiscr is 0', () => {
    const s = createBfdSession({ ...cfg, passive: true }, LOCAL, 0);
    const r = step(s, { type: 'AdminDown' }, 0);
    expect(sends(r.actions)).toEqual([]);
    expect(r.session.timers.tx).toBeUndefined();
  });
});

describe('timers as deadlines', () => {
  it('ignores stale timer events', () => {
    const s = inState(Up);
    expect(step(s, { type: 'TxTimer' }, s.timers.tx! - 1).session).toBe(s);
    expect(step(s, { type: 'DetectTimer' }, s.timers.detect! - 1).session).toBe(s);
    const passive = createBfdSession({ ...cfg, passive: true }, LOCAL, 0);
    expect(step(passive, { type: 'DetectTimer' }, 1e9).session).toBe(passive);
  });

  it('lists due timers detection first and names the earliest deadline', () => {
    const s = inState(Up);
    const both = Math.max(s.timers.tx!, s.timers.detect!);
    expect(expiredTimers(s, both).map((e) => e.type)).toEqual(['DetectTimer', 'TxTimer']);
    expect(nextDeadline(s)).toBe(Math.min(s.timers.tx!, s.timers.detect!));
    const r = stepAll(s, expiredTimers(s, both), both);
    expect(r.session.state).toBe(Down);
    // The Down packet restarts the schedule, so the TxTimer due at the same instant is stale.
    expect(sends(r.actions).map((p) => p.state)).toEqual([Down]);
  });

  it('never mutates its input and replays exactly from the same seed', () => {
    const deepFreeze = <T>(o: T): T => {
      if (o && typeof o === 'object') {
        for (const v of Object.values(o)) deepFreeze(v);
        Object.freeze(o);
      }
      return o;
    };
    const run = (): unknown[] => {
      let s = deepFreeze(createBfdSession(cfg, LOCAL, 0, 42));
      const out: unknown[] = [];
      const events: [BfdEvent, number][] = [
        [{ type: 'TxTimer' }, 0],
        [remote({ state: Down }), 5],
        [remote({ state: Up }), 6],
        [{ type: 'SetParams', params: { desiredMinTxUs: 250_000 } }, 7],
        [remote({ state: Up, final: true, poll: true }), 8],
        [{ type: 'TxTimer' }, 2000],
        [{ type: 'AdminDown' }, 2001],
      ];
      for (const [e, t] of events) {
        const r = step(s, e, t);
        s = deepFreeze(r.session);
        out.push(r.actions, s.timers);
      }
      return out;
    };
    expect(run()).toEqual(run());
  });

  it('refuses bad configurations', () => {
    expect(() => createBfdSession({ ...cfg, detectMult: 0 }, LOCAL, 0)).toThrow(/detect multiplier/);
    expect(() => createBfdSession({ ...cfg, desiredMinTxUs: 0 }, LOCAL, 0)).toThrow(/desired min TX/);
    expect(() => createBfdSession(cfg, 0, 0)).toThrow(/discriminator/);
    expect(() => step(inState(Up), { type: 'SetParams', params: { detectMult: 256 } }, 0)).toThrow(/detect multiplier/);
  });
});
