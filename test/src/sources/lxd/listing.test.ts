/**
 * listing.ts: an LXD list response kept as bytes. Checked against
 * JSON.parse (nobody's code here): the elements found are the envelope's
 * metadata, element for element, for random listings and for random edits
 * of one scanned against the one before (the path a resync takes); what
 * `base` claims is byte-equal is byte-equal; malformed bodies throw.
 */
import { describe, expect, it } from 'vitest';
import { Listing, ListingSyntaxError } from '../../../../src/sources/lxd/listing.js';
import { sample } from './helpers.js';
import type { LxdInstance } from '../../../../src/sources/lxd/types.js';
import { prng } from '../../../support/prng.js';


const PIECES = ['a', 'Z', '{', '}', '[', ']', ',', ':', '"', '\\', '\\"', 'é', '😀', ' ', '\n', '0'];
function text(r: () => number): string {
  let s = '';
  const n = Math.floor(r() * 6);
  for (let i = 0; i < n; i++) s += PIECES[Math.floor(r() * PIECES.length)];
  return s;
}

/** An instance-like element: nested objects and arrays, strings holding JSON's own delimiters. */
function element(r: () => number, k: number): unknown {
  return {
    name: `c${k}`,
    project: `p${k % 3}`,
    status: r() < 0.5 ? 'Running' : 'Stopped',
    config: { [text(r)]: text(r), 'volatile.x': text(r), n: Math.floor(r() * 1000), t: r() < 0.5, z: null },
    devices: { eth0: { type: 'nic', 'ipv4.routes.external': `240.0.${k & 255}.1/32` }, list: [text(r), [], {}, [1, [2, { a: text(r) }]]] },
  };
}

const body = (meta: unknown, pretty = false): Buffer =>
  Buffer.from(JSON.stringify({ type: 'sync', status: 'Success', status_code: 200, operation: '', error_code: 0, error: '', metadata: meta }, null, pretty ? 1 : undefined));

function expectMatches(l: Listing, b: Buffer): void {
  const want = (JSON.parse(b.toString()) as { metadata: unknown[] }).metadata;
  expect(l.count).toBe(want.length);
  expect(l.all()).toEqual(want);
  expect(l.envelope).toMatchObject({ type: 'sync', status_code: 200 });
}

describe('Listing', () => {
  it('finds every element of real LXD responses and of random ones, compact or indented', () => {
    const real = sample<LxdInstance[]>('instances-recursion2-ovn.json');
    const b = body(real);
    expectMatches(Listing.scan(b), b);
    const r = prng(1);
    for (let t = 0; t < 200; t++) {
      const meta = Array.from({ length: Math.floor(r() * 8) }, (_, k) => element(r, k));
      const x = body(meta, r() < 0.3);
      expectMatches(Listing.scan(x), x);
    }
  });

  it('scanned against the listing before, after random edits anywhere, finds what a fresh parse finds; what it calls unchanged is byte-equal', () => {
    const r = prng(7);
    let reused = 0;
    for (let t = 0; t < 300; t++) {
      const n = 1 + Math.floor(r() * 40);
      let meta = Array.from({ length: n }, (_, k) => element(r, k));
      const b0 = body(meta);
      const l0 = Listing.scan(b0);
      // 0 to 3 edits: change, insert, delete, or change the envelope's error text.
      meta = [...meta];
      let envelopeError = '';
      const edits = Math.floor(r() * 4);
      for (let e = 0; e < edits; e++) {
        const op = r();
        const at = Math.floor(r() * (meta.length + 1));
        if (op < 0.4 && meta.length > 0) meta[Math.min(at, meta.length - 1)] = element(r, 1000 + e);
        else if (op < 0.7) meta.splice(at, 0, element(r, 2000 + e));
        else if (op < 0.9 && meta.length > 0) meta.splice(Math.min(at, meta.length - 1), 1);
        else envelopeError = text(r);
      }
      const b1 = Buffer.from(JSON.stringify({ type: 'sync', status: 'Success', status_code: 200, operation: '', error_code: 0, error: envelopeError, metadata: meta }));
      const l1 = Listing.scan(b1, l0);
      expectMatches(l1, b1);
      expect(l1.scannedAgainst(l0)).toBe(true);
      for (let i = 0; i < l1.count; i++) {
        const j = l1.base(i);
        if (j < 0) continue;
        reused++;
        expect(l1.same(i, l0, j)).toBe(true);
      }
    }
    // The resumed scans did reuse the listing before (most elements are untouched).
    expect(reused).toBeGreaterThan(1000);
  });

  it('an unchanged listing is all reused; one changed element is the only one not known', () => {
    const r = prng(3);
    const meta = Array.from({ length: 100 }, (_, k) => element(r, k));
    const b0 = body(meta);
    const l0 = Listing.scan(b0);
    const same = Listing.scan(Buffer.from(b0), l0);
    expect(Array.from({ length: 100 }, (_, i) => same.base(i))).toEqual(Array.from({ length: 100 }, (_, i) => i));
    const changed = [...meta];
    changed[40] = { ...(meta[40] as object), status: 'Frozen' };
    const l1 = Listing.scan(body(changed), l0);
    const unknown = Array.from({ length: 100 }, (_, i) => i).filter((i) => l1.base(i) < 0);
    expect(unknown).toEqual([40]);
    // An element inserted before: the ones after map to their old index.
    const inserted = [...meta.slice(0, 10), element(r, 999), ...meta.slice(10)];
    const l2 = Listing.scan(body(inserted), l0);
    expect(l2.base(50)).toBe(49);
    expect(l2.base(9)).toBe(9);
    expect(l2.base(10)).toBe(-1);
    // The envelope changed before the metadata (the body is walked whole): its elements are still matched.
    const walked = Listing.scan(Buffer.from(JSON.stringify({ type: 'sync', status: 'Success', status_code: 200, error: 'x', metadata: changed })), l0);
    expect(walked.scannedAgainst(l0)).toBe(true);
    expect(Array.from({ length: 100 }, (_, i) => i).filter((i) => walked.base(i) < 0)).toEqual([40]);
    expect(walked.base(99)).toBe(99);
  });

  it('changes spread over the whole listing: only the changed elements are unknown; numbers are never matched by their bytes', () => {
    const r = prng(11);
    const meta = Array.from({ length: 200 }, (_, k) => element(r, k));
    const l0 = Listing.scan(body(meta));
    const changed = [...meta];
    const at = [0, 17, 18, 90, 150, 199];
    for (const k of at) changed[k] = { ...(meta[k] as object), status: 'Frozen' };
    const l1 = Listing.scan(body(changed), l0);
    expect(Array.from({ length: 200 }, (_, i) => i).filter((i) => l1.base(i) < 0)).toEqual(at);
    expect(l1.all()).toEqual(changed);
    // [1, 12, 3] then [1, 123]: "12" is a prefix of "123" but not that element.
    const n0 = Listing.scan(body([1, 12, 3]));
    const n1 = Listing.scan(body([1, 123]), n0);
    expect(n1.all()).toEqual([1, 123]);
    expect([n1.base(0), n1.base(1)]).toEqual([-1, -1]);
  });

  it('reads an error envelope (metadata null) and an empty list', () => {
    const e = Listing.scan(Buffer.from('{"type":"error","status":"","status_code":0,"operation":"","error_code":403,"error":"not authorized","metadata":null}'));
    expect(e.count).toBe(0);
    expect(e.isArray).toBe(false);
    expect(e.envelope).toMatchObject({ type: 'error', error: 'not authorized' });
    expect(Listing.scan(Buffer.from(' {"metadata": [ ] , "type":"sync"}\n')).count).toBe(0);
  });

  it('throws ListingSyntaxError for malformed bodies, with the offset', () => {
    const bad = [
      '',
      '[]',
      '{"metadata":[{"a":1}{"b":2}]}',
      '{"metadata":[{"a":"x}]}',
      '{"metadata":[{"a":1}]',
      '{"metadata":[{"a":1}]} x',
      '{"metadata":[{"a":1},]}',
      '{metadata:[]}',
      '{"type":"sync",,"metadata":[]}',
    ];
    for (const b of bad) expect(() => Listing.scan(Buffer.from(b)), b).toThrow(ListingSyntaxError);
    // A malformed element is found when it is parsed.
    const l = Listing.scan(Buffer.from('{"metadata":[{"a":01}]}'));
    expect(() => l.parse(0)).toThrow(SyntaxError);
  });
});
