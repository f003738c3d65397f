// Route refresh in the Adj-RIB-Out (RFC 2918 §4, RFC 7313 §4): one family is
// re-advertised, queued withdrawals survive the request, and with Enhanced
// Route Refresh the answer is framed by BoRR and EoRR.
import { describe, expect, it } from 'vitest';
import { AdjRibOut } from '../../../bgp/rib/adj-rib-out.js';
import { IPV4_UNICAST } from '../../../bgp/wire/context.js';
import type { RouteSpec } from '../../../bgp/rib/route.js';
import { CTX, PEER, drain, refreshMarker, split, type Drained } from './helpers.js';

const A = '198.51.100.1/32';
const B = '198.51.100.2/32';
const C6 = '2001:db8:53::1/128';

function synced(routes: RouteSpec[], peer = PEER): AdjRibOut {
  const rib = new AdjRibOut();
  rib.setDesired(routes);
  rib.start(CTX, peer);
  drain(rib);
  return rib;
}

/** What a peer holds after applying drained messages in order to `has`. */
function applyTo(has: Set<string>, d: Drained): Set<string> {
  for (const p of d.withdrawn) has.delete(p);
  for (const p of d.announced.keys()) has.add(p);
  return has;
}

describe('AdjRibOut.refresh: queued withdrawals', () => {
  it('a ROUTE-REFRESH before a queued withdrawal is pulled does not lose the withdrawal', () => {
    const rib = synced([{ prefix: A }, { prefix: B }]);
    const peer = new Set([A, B]);
    rib.setDesired([{ prefix: A }]); // B is queued for withdrawal, not yet pulled
    rib.refresh(1, 1);
    const d = drain(rib);
    applyTo(peer, d);
    expect([...peer]).toEqual([A]); // the peer does not keep B
    expect(rib.stats.refreshes).toBe(1);
    expect(d.withdrawn).toEqual([B]);
    expect([...d.announced.keys()]).toEqual([A]);
    expect(d.eor).toEqual(['1/1']);
    expect(rib.advertisedCount).toBe(1);
    expect(rib.explain(B)).toMatchObject({ desired: false, sent: null, pending: false });
  });

  it('the same with Enhanced Route Refresh: the withdrawal goes out between BoRR and EoRR', () => {
    const rib = synced([{ prefix: A }, { prefix: B }]);
    rib.setDesired([{ prefix: A }]);
    rib.refresh(1, 1, true);
    const d = drain(rib);
    expect(d.log).toEqual(['borr 1/1', 'update', 'update', 'eorr 1/1']);
    expect(d.withdrawn).toEqual([B]);
    expect([...d.announced.keys()]).toEqual([A]);
  });

  it('a pending change is sent once, with its new attributes', () => {
    const rib = synced([{ prefix: A, med: 1 }, { prefix: B }]);
    rib.setDesired([{ prefix: A, med: 2 }, { prefix: B }]);
    rib.refresh(1, 1);
    const d = drain(rib);
    expect(d.announced.get(A)!.attributes.med).toBe(2);
    expect(d.updates.flatMap((u) => u.nlri).length).toBe(2);
  });

  it('two requests before a pull send each route once', () => {
    const rib = synced([{ prefix: A }, { prefix: B }]);
    rib.refresh(1, 1);
    rib.refresh(1, 1);
    const d = drain(rib);
    expect(d.updates.flatMap((u) => u.nlri).length).toBe(2);
    expect(d.eor).toEqual(['1/1']);
  });
});

describe('AdjRibOut.refresh: one family', () => {
  it('re-advertises only the requested family, with End-of-RIB only for it', () => {
    const rib = synced([{ prefix: A }, { prefix: B }, { prefix: C6 }]);
    rib.refresh(2, 1);
    const d6 = drain(rib);
    expect([...d6.announced.keys()]).toEqual([C6]);
    expect(d6.eor).toEqual(['2/1']);
    rib.refresh(1, 1);
    const d4 = drain(rib);
    expect([...d4.announced.keys()].sort()).toEqual([A, B]);
    expect(d4.eor).toEqual(['1/1']);
    expect(rib.stats).toMatchObject({ refreshes: 2, refreshesAnswered: 2, borr: 0, eorr: 0 });
    expect(rib.takeAnswered()).toEqual(['2/1', '1/1']);
    expect(rib.takeAnswered()).toEqual([]);
  });

  it('ignores a family the session did not negotiate, and does nothing without a session', () => {
    const rib = synced([{ prefix: A }], { ...PEER, families: [IPV4_UNICAST] });
    expect(rib.refresh(2, 1)).toBe(false);
    expect(rib.wantsToSend).toBe(false);
    expect(rib.refresh(1, 1)).toBe(true);
    expect(drain(rib).eor).toEqual(['1/1']);
    rib.reset();
    expect(rib.refresh(1, 1)).toBe(false);
    expect(rib.nextBytes()).toBeNull();
  });

  it('a request during the initial sync is answered by its End-of-RIB', () => {
    const rib = new AdjRibOut();
    rib.setDesired([{ prefix: A }, { prefix: C6 }]);
    rib.start(CTX, PEER);
    rib.refresh(1, 1);
    const d = drain(rib);
    expect(d.eor).toEqual(['1/1', '2/1']);
    expect(d.updates.flatMap((u) => u.nlri).length).toBe(1);
    expect(rib.takeAnswered()).toEqual(['1/1']);
  });
});

describe('AdjRibOut.refresh: Enhanced Route Refresh (RFC 7313 §4)', () => {
  it('answers with BoRR, the family, then EoRR and no End-of-RIB', () => {
    const rib = synced([{ prefix: A }, { prefix: B }, { prefix: C6 }]);
    rib.refresh(2, 1, true);
    const d = drain(rib);
    expect(d.log).toEqual(['borr 2/1', 'update', 'eorr 2/1']);
    expect([...d.announced.keys()]).toEqual([C6]);
    expect(d.eor).toEqual([]);
    expect(rib.stats).toMatchObject({ refreshes: 1, refreshesAnswered: 1, borr: 1, eorr: 1 });
  });

  it('sends BoRR and EoRR for an empty family', () => {
    const rib = synced([{ prefix: A }]);
    rib.refresh(2, 1, true);
    expect(drain(rib).log).toEqual(['borr 2/1', 'eorr 2/1']);
  });

  it('BoRR is the first message of the next pull, even with other updates queued before the request', () => {
    const rib = synced([{ prefix: A }]);
    rib.setDesired([{ prefix: A }, { prefix: C6 }]);
    rib.refresh(1, 1, true);
    const d = drain(rib);
    expect(d.log[0]).toBe('borr 1/1');
    expect(d.log.at(-1)).toBe('eorr 1/1');
    expect([...d.announced.keys()].sort()).toEqual([A, C6]);
  });

  it('a request while an answer is under way starts it over: a new BoRR, every route again, one EoRR', () => {
    const routes = Array.from({ length: 600 }, (_, i) => ({ prefix: `198.51.${100 + (i >> 8)}.${i & 255}/32`, med: i % 7 }));
    const rib = synced(routes);
    rib.refresh(1, 1, true);
    const first = split(rib.nextBytes(1500)!); // BoRR and a few UPDATEs, not the whole answer
    expect(refreshMarker(first[0]!)).toBe('borr 1/1');
    expect(first.length).toBeGreaterThan(1);
    expect(first.map(refreshMarker)).not.toContain('eorr 1/1');
    rib.refresh(1, 1, true);
    const d = drain(rib);
    expect(d.log[0]).toBe('borr 1/1');
    expect(d.log.filter((l) => l.startsWith('borr')).length).toBe(1);
    expect(d.log.filter((l) => l.startsWith('eorr'))).toEqual(['eorr 1/1']);
    expect(d.log.at(-1)).toBe('eorr 1/1');
    expect(d.announced.size).toBe(600); // the routes of the first partial answer too
    expect(rib.stats).toMatchObject({ refreshes: 2, refreshesAnswered: 1, borr: 2, eorr: 1 });
  });
});
