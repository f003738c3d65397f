/**
 * UPDATE packing by the one packer (rib/update-builder.ts, driven by the
 * Adj-RIB-Out): messages as full as the negotiated maximum allows (RFC 4271
 * §4.3 4096 octets, RFC 8654 65535), IPv6 NLRI in MP_REACH_NLRI first, path
 * ids under ADD-PATH (RFC 7911), and a million /32 that decode back, every one.
 */
import { describe, expect, it } from 'vitest';
import { withContext, IPV4_UNICAST, IPV6_UNICAST } from '../../../bgp/wire/context.js';
import { AdjRibOut } from '../../../bgp/rib/adj-rib-out.js';
import { prefixListOf } from '../../../bgp/rib/prefix-list.js';
import { CTX, PEER, decode, drain, split, v4, v6 } from './helpers.js';

const range = (n: number, f: (i: number) => string): string[] => Array.from({ length: n }, (_, i) => f(i));

/** A started RIB holding one group. */
function ribWith(prefixes: string[], ctx = CTX, attrs = {}): AdjRibOut {
  const rib = new AdjRibOut();
  rib.setGroup(1, attrs, prefixListOf(prefixes));
  rib.work();
  rib.start(ctx, PEER);
  return rib;
}

describe('UPDATE packing', () => {
  it('fills each IPv4 UPDATE until one more /32 would pass 4096 octets, and every route decodes back', () => {
    const d = drain(ribWith(range(5000, v4)));
    const routes = d.updates.filter((u) => u.nlri.length > 0);
    expect(routes.flatMap((u) => u.nlri).length).toBe(5000);
    const sizes = d.messages.filter((m) => decode(m).nlri.length > 0).map((m) => m.length);
    for (const n of sizes.slice(0, -1)) expect(n).toBeGreaterThan(4096 - 5); // a /32 takes 5 octets
    expect(Math.max(...sizes)).toBeLessThanOrEqual(4096);
  });

  it('puts IPv6 NLRI in MP_REACH_NLRI, the first attribute (RFC 7606 §5.1)', () => {
    const d = drain(ribWith(range(600, v6)));
    const withNlri = d.messages.filter((m) => (decode(m).attributes.mpReach?.nlri.length ?? 0) > 0);
    expect(withNlri.length).toBeGreaterThan(1);
    expect(withNlri.flatMap((m) => decode(m).attributes.mpReach!.nlri).length).toBe(600);
    for (const m of withNlri) expect(m[19 + 4 + 1]).toBe(14); // attribute type code after withdrawn/attr lengths and flags
  });

  it('writes path ids under ADD-PATH, in withdrawals too', () => {
    const ctx = withContext(CTX, { addPathSend: new Set([IPV4_UNICAST, IPV6_UNICAST]) });
    const rx = withContext(CTX, { addPathReceive: new Set([IPV4_UNICAST, IPV6_UNICAST]) });
    const rib = ribWith([...range(2000, v4), ...range(300, v6)], ctx);
    const up = drain(rib, rx);
    expect(up.announced.size).toBe(2300);
    expect(up.updates.flatMap((u) => u.nlri).every((n) => n.pathId !== undefined)).toBe(true);
    rib.setGroup(1, {}, prefixListOf([]));
    rib.work();
    const down = drain(rib, rx);
    expect(down.withdrawn.length).toBe(2300);
    expect(down.updates.flatMap((u) => [...u.withdrawn, ...(u.attributes.mpUnreach?.nlri ?? [])]).every((n) => n.pathId !== undefined)).toBe(true);
  });

  it('uses the extended message size when negotiated (RFC 8654)', () => {
    const ctx = withContext(CTX, { extendedMessage: true });
    const rib = ribWith(range(20_000, v4), ctx);
    const bytes = rib.nextBytes(1)!;
    const [first] = split(bytes, 65535);
    expect(first!.length).toBeGreaterThan(65535 - 5);
    expect(decode(first!, ctx).nlri.length).toBeGreaterThan(13_000);
  });

  it('packs 200,000 /32 and decodes every one back', () => {
    const t0 = performance.now();
    const rib = ribWith(range(200_000, v4));
    let n = 0;
    let msgs = 0;
    for (let b = rib.nextBytes(); b !== null; b = rib.nextBytes()) {
      for (const m of split(b)) {
        msgs++;
        n += decode(m).nlri.length;
      }
    }
    expect(n).toBe(200_000);
    console.log(`200k /32 through the Adj-RIB-Out: ${msgs} messages, ${(performance.now() - t0).toFixed(0)} ms with decoding (speed is the bench's)`);
  });
});
