/**
 * Fuzz target "pipeline": what a configured peer's bytes go through in
 * herald, in-process and without root: socket 'data' -> Framer ->
 * decodeMessage -> FSM step -> actions -> Adj-RIB-In (import mode, limits)
 * -> snapshot, driven through the real driver class (bgp/driver/peer.ts)
 * on a fake socket and a ManualClock.
 *
 * Input: `[flags][stream]`. The stream is what the peer sends after the TCP
 * connection is accepted (normally its OPEN, a KEEPALIVE, UPDATEs ...).
 * Flags: bit 0 iBGP (peer AS = ours), bit 1 `import: all` (else none),
 * bit 2 tight received-route caps (AS_PATH length, attribute bytes,
 * Adj-RIB-In bytes; action block) and with bit 7 max_prefixes blocks rather
 * than restarts, bit 3 ADD-PATH receive offered, bits 4-5 how the
 * stream is cut into socket chunks (whole, 1, 7 or 61 octets), bit 6 herald
 * has routes to announce, bit 7 a small max_prefixes.
 *
 * Oracles: nothing may throw out of a socket handler or a timer (in the
 * daemon that is an uncaught exception: a crash); every byte herald writes
 * must frame and decode with herald's own codec; the snapshot must be
 * JSON-able and agree with the Adj-RIB-In; a session that is not Established
 * holds no received routes; the Adj-RIB-In never holds more bytes, nor more
 * prefixes, than its caps allow.
 */
import { EventEmitter } from 'node:events';
import { ManualClock } from '../../../bgp/driver/clock.js';
import { Peer } from '../../../bgp/driver/peer.js';
import type { PeerConfig, SpeakerEvent } from '../../../bgp/driver/types.js';
import { DEFAULT_RECEIVE_LIMITS, silentLogger } from '../../../bgp/driver/types.js';
import { resolveConfig } from '../../../bgp/session/index.js';
import { DEFAULT_CONTEXT, withContext } from '../../../bgp/wire/context.js';
import { Framer } from '../../../bgp/wire/framer.js';
import { MAX_EXTENDED_MESSAGE_LEN } from '../../../bgp/wire/iana.js';
import { decodeMessage, encodeMessage } from '../../../bgp/wire/messages/index.js';
import type { OpenMessage } from '../../../bgp/wire/types.js';
import type { Target } from './engine.js';
import { realSeeds } from './seeds.js';

const LOCAL_AS = 65001;
const EBGP_AS = 65002;
const CHUNKS = [0, 1, 7, 61];
/** Tight received-route caps (flags bit 2), so the fuzzer reaches every limit and action. */
const TIGHT = { maxAsPath: 20, maxAttributeBytes: 1_500, maxBytes: 6_000, action: { kind: 'block' as const } };

/** A net.Socket as far as Peer uses one; write callbacks and 'close' run at flush(), like a later event-loop turn. */
class FakeSocket extends EventEmitter {
  readonly remoteAddress = '192.0.2.2';
  readonly localAddress = '192.0.2.1';
  destroyed = false;
  written: Uint8Array[] = [];
  private pending: (() => void)[] = [];
  private closing = false;

  setNoDelay(): this {
    return this;
  }
  write(b: Uint8Array, cb?: () => void): boolean {
    if (this.destroyed) return false;
    this.written.push(b.slice());
    if (cb) this.pending.push(cb);
    return true;
  }
  end(): this {
    this.shut();
    return this;
  }
  destroy(): this {
    this.shut();
    return this;
  }
  private shut(): void {
    if (this.closing) return;
    this.closing = true;
    this.pending.push(() => {
      this.destroyed = true;
      this.emit('close', false);
    });
  }
  /** Run what the event loop would run next; repeat until quiet. */
  flush(): void {
    for (let guard = 0; this.pending.length && guard < 1000; guard++) {
      const p = this.pending;
      this.pending = [];
      for (const f of p) f();
    }
  }
}

/** Check that herald's own output frames and decodes (its UPDATEs in a 4- or 2-octet context). */
function checkOutput(chunks: readonly Uint8Array[]): void {
  const f = new Framer(MAX_EXTENDED_MESSAGE_LEN);
  const as4 = withContext(DEFAULT_CONTEXT, { as4: true, extendedMessage: true, ibgp: true });
  const as2 = withContext(as4, { as4: false });
  for (const c of chunks) {
    f.push(c);
    for (let m = f.next(); m !== null; m = f.next()) {
      let ok = false;
      let last: unknown;
      for (const ctx of [as4, as2]) {
        try {
          const msg = decodeMessage(m, ctx);
          if (msg.type === 'update' && msg.errors?.length) throw new Error(msg.errors.map((e) => e.message).join('; '));
          ok = true;
          break;
        } catch (e) {
          last = e;
        }
      }
      if (!ok) throw new Error(`herald wrote a message its own decoder rejects: ${(last as Error).message}`);
    }
  }
}

/** Run one input through a fresh peer (exported for the regression replay). */
export function runPipeline(input: Uint8Array): void {
  if (input.length === 0) return;
  const flags = input[0]!;
  const ibgp = (flags & 1) !== 0;
  const clock = new ManualClock(1_000);
  const events: SpeakerEvent[] = [];
  const cfg: PeerConfig = {
    name: 'fuzz',
    address: '192.0.2.2',
    asn: ibgp ? LOCAL_AS : EBGP_AS,
    passive: true,
    families: ['ipv4', 'ipv6'],
    importNothing: (flags & 2) === 0,
    ...((flags & 128) !== 0 ? { maxPrefixes: 40, maxPrefixesAction: { kind: (flags & 4) !== 0 ? 'block' : 'restart', restartAfterMs: 5_000 } } : {}),
    ...((flags & 4) !== 0 ? { receiveLimits: TIGHT } : {}),
  };
  const session = resolveConfig({
    localAs: LOCAL_AS,
    peerAs: cfg.asn,
    routerId: '192.0.2.1',
    passive: true,
    families: [
      { afi: 1, safi: 1 },
      { afi: 2, safi: 1 },
    ],
    ...((flags & 8) !== 0
      ? {
          addPath: [
            { afi: 1, safi: 1, sendReceive: 1 },
            { afi: 2, safi: 1, sendReceive: 1 },
          ],
        }
      : {}),
  });
  const peer = new Peer(cfg, session, { clock, log: silentLogger, emit: (e) => events.push(e), localAs: LOCAL_AS, routerId: '192.0.2.1' });
  if ((flags & 64) !== 0) {
    peer.setRoutes([
      { prefix: '198.51.100.53/32', nextHop: 'self', communities: ['65001:53'] },
      { prefix: '2001:db8::53/128', nextHop: 'self' },
    ]);
  }
  const sock = new FakeSocket();
  try {
    peer.start();
    peer.accept(sock as unknown as import('node:net').Socket);
    sock.flush();
    const stream = input.subarray(1);
    const chunk = CHUNKS[(flags >>> 4) & 3]! || stream.length || 1;
    for (let p = 0; p < stream.length; p += chunk) {
      sock.emit('data', Buffer.from(stream.buffer, stream.byteOffset + p, Math.min(chunk, stream.length - p)));
      sock.flush();
    }
    // Let the timers run: keepalives, then the hold timer (90 s) ends a silent session.
    clock.advance(40_000);
    sock.flush();
    const mid = peer.snapshot();
    clock.advance(200_000);
    sock.flush();
    const end = peer.snapshot();
    for (const s of [mid, end]) {
      JSON.stringify(s);
      if (s.state !== 'Established' && s.prefixesReceived !== 0) throw new Error(`${s.prefixesReceived} received routes held in ${s.state}`);
    }
    if (end.prefixesReceived !== peer.ribIn.count) throw new Error('snapshot prefixesReceived disagrees with the Adj-RIB-In');
    // The caps hold whatever the peer sent: never more bytes than allowed (block keeps the session).
    const cap = cfg.receiveLimits?.maxBytes ?? DEFAULT_RECEIVE_LIMITS.maxBytes;
    for (const s of [mid, end]) if (s.receivedBytes > cap) throw new Error(`Adj-RIB-In holds ${s.receivedBytes} bytes, cap ${cap}`);
    if (cfg.maxPrefixes !== undefined && mid.prefixesReceived > cfg.maxPrefixes) throw new Error(`${mid.prefixesReceived} prefixes held, max_prefixes ${cfg.maxPrefixes}`);
    checkOutput(sock.written);
  } finally {
    peer.destroy();
  }
}

/** The peer's OPEN for a seed: its AS, 4-octet AS only when the seed's messages use it. */
function peerOpen(as4: boolean, ibgp: boolean, addPath: boolean): Uint8Array {
  const asn = ibgp ? LOCAL_AS : EBGP_AS;
  const open: OpenMessage = {
    type: 'open',
    version: 4,
    myAs: asn,
    holdTime: 90,
    bgpId: '192.0.2.2',
    capabilities: [
      { code: 1, kind: 'multiprotocol', afi: 1, safi: 1 },
      { code: 1, kind: 'multiprotocol', afi: 2, safi: 1 },
      { code: 2, kind: 'route-refresh' },
      { code: 70, kind: 'enhanced-route-refresh' },
      { code: 6, kind: 'extended-message' },
      ...(as4 ? [{ code: 65 as const, kind: 'four-octet-as' as const, asn }] : []),
      ...(addPath
        ? [
            {
              code: 69 as const,
              kind: 'add-path' as const,
              families: [
                { afi: 1, safi: 1, sendReceive: 2 as const },
                { afi: 2, safi: 1, sendReceive: 2 as const },
              ],
            },
          ]
        : []),
    ],
    otherParams: [],
  };
  return encodeMessage(open, DEFAULT_CONTEXT);
}

const KEEPALIVE = Uint8Array.of(...new Array<number>(16).fill(0xff), 0, 19, 4);

/** Sessions built from real messages: OPEN, KEEPALIVE, then runs of consecutive MRT messages of one context. */
function pipelineSeeds(): Uint8Array[] {
  const real = realSeeds();
  const out: Uint8Array[] = [];
  const RUN = 12;
  for (let i = 0; i + RUN <= real.length && out.length < 200; i += RUN * 3) {
    const group = real.slice(i, i + RUN).filter((s) => s.ctx.as4 === real[i]!.ctx.as4 && s.ctx.addPath === real[i]!.ctx.addPath);
    const { as4, addPath } = real[i]!.ctx;
    const ibgp = out.length % 2 === 0;
    const flags = (ibgp ? 1 : 0) | (out.length % 3 === 0 ? 2 : 0) | (out.length % 5 === 0 ? 4 : 0) | (addPath ? 8 : 0) | ((out.length % 4) << 4) | (out.length % 7 === 0 ? 64 : 0);
    const parts = [Uint8Array.of(flags), peerOpen(as4, ibgp, addPath), KEEPALIVE, ...group.map((s) => s.frame)];
    const n = parts.reduce((a, p) => a + p.length, 0);
    const b = new Uint8Array(n);
    let o = 0;
    for (const p of parts) {
      b.set(p, o);
      o += p.length;
    }
    out.push(b);
  }
  return out;
}

export const pipelineTarget: Target = {
  name: 'pipeline',
  streamOffset: 1,
  run: runPipeline,
  seeds: pipelineSeeds,
};
