import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatPrefix, parsePrefix } from '../../../bgp/wire/prefix.js';
import { PrefixTable } from '../../../bgp/rib/prefix-table.js';

/** What the table's scan says about a text: canonical prefix, or null. */
function viaTable(t: PrefixTable, text: string): string | null {
  if (!t.scan(text)) return null;
  const s = t.find() >= 0 ? t.find() : t.insert();
  const out = t.format(s);
  return out;
}

const reference = (text: string): string | null => {
  const p = parsePrefix(text);
  return p === null ? null : formatPrefix(p);
};

describe('PrefixTable.scan agrees with parsePrefix', () => {
  it.each([
    '198.51.100.53/32',
    '198.51.100.53',
    '198.51.100.0/24',
    '198.51.100.0/024',
    '0.0.0.0/0',
    '198.51.100.53/24',
    '198.51.100.05/32',
    '198.51.100.256/32',
    '198.51.100/24',
    '198.51.100.5/33',
    '198.51.100.5/',
    '2001:db8:53::53/128',
    '2001:DB8:53:0::53/128',
    '2001:db8::',
    '2001:db8::/32',
    '2001:db8::1/64',
    '::',
    '::/0',
    '::1',
    ':::1',
    '1:::2',
    '1::2::3',
    '1:2:3:4:5:6:7:8',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7::',
    '::2:3:4:5:6:7:8',
    '1::2:3:4:5:6:7:8',
    '1:2:3:4:5:6:7:8::',
    '1:2:3:4:5:6:7:8:',
    ':1:2:3:4:5:6:7',
    '00001::',
    '::ffff:198.51.100.1',
    '::ffff:198.51.100.1/128',
    '2001:db8::/0129',
    '2001:db8::/064',
    '2001:db8::/129',
    '2001:db8::g',
    '',
    '/32',
    'example.com',
  ])('%s', (text) => {
    expect(viaTable(new PrefixTable(), text)).toBe(reference(text));
  });

  it('on random text from the prefix alphabet', () => {
    const t = new PrefixTable();
    const ch = fc.constantFrom(...'0123456789abcdefABCDEFg:./'.split(''));
    fc.assert(
      fc.property(fc.array(ch, { maxLength: 44 }), (cs) => {
        const text = cs.join('');
        expect(viaTable(t, text)).toBe(reference(text));
      }),
      { numRuns: 5000 },
    );
  });

  it('on random valid prefixes and their mutations', () => {
    const t = new PrefixTable();
    const v4 = fc.tuple(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 32 }));
    const v6 = fc.tuple(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 128 }), fc.boolean());
    const text = fc.oneof(
      v4.map(([a, len]) => `${a.join('.')}/${len}`),
      v6.map(([a, len, sparse]) => {
        if (sparse) a.fill(0, 4, 12); // gives "::" runs
        const g = Array.from({ length: 8 }, (_, i) => ((a[i * 2]! << 8) | a[i * 2 + 1]!).toString(16));
        return `${g.join(':')}/${len}`;
      }),
    );
    fc.assert(
      fc.property(text, fc.nat(), fc.nat(), (s, at, what) => {
        const masked = parsePrefix(s, { strict: false })!;
        const canon = formatPrefix(masked);
        expect(viaTable(t, canon)).toBe(canon);
        expect(viaTable(t, s)).toBe(reference(s));
        // One character dropped or changed.
        const i = at % (s.length + 1);
        const c = ':./0fF'[what % 6]!;
        for (const m of [s.slice(0, i) + s.slice(i + 1), s.slice(0, i) + c + s.slice(i + 1), s.slice(0, i) + c + s.slice(i)]) {
          expect(viaTable(t, m)).toBe(reference(m));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects a non-string', () => {
    expect(new PrefixTable().scan(42 as unknown as string)).toBe(false);
  });
});

describe('PrefixTable: slots', () => {
  const key = (t: PrefixTable, text: string): number => {
    if (!t.scan(text)) throw new Error(`scan refused ${text}`);
    return t.find();
  };
  const add = (t: PrefixTable, text: string): number => {
    const s = key(t, text);
    return s >= 0 ? s : t.insert();
  };

  it('keeps IPv4 and IPv6 with equal words apart, and every length apart', () => {
    const t = new PrefixTable();
    const a = add(t, '0.0.0.0/0');
    const b = add(t, '::/0');
    const c = add(t, '198.51.100.0/24');
    const d = add(t, '198.51.100.0/25');
    expect(new Set([a, b, c, d]).size).toBe(4);
    expect(t.size).toBe(4);
    expect(key(t, '0.0.0.0/0')).toBe(a);
    expect(key(t, '::/0')).toBe(b);
    expect(t.format(d)).toBe('198.51.100.0/25');
    expect(t.afi(b)).toBe(2);
    expect(t.len(d)).toBe(25);
  });

  it('holds IPv4 in one word a slot; IPv6 words in a side store sized by the IPv6 prefixes alone', () => {
    const t = new PrefixTable(16);
    for (let i = 0; i < 100; i++) add(t, `192.0.2.${i}/32`);
    expect(t.w0.length).toBe(t.capacity);
    expect(t.v6.length).toBe(0);
    const freed = key(t, '192.0.2.7/32');
    t.remove(freed);
    // The freed slot is reused by an IPv6 prefix, and that slot by IPv4 again.
    const s6 = add(t, '2001:db8::7/128');
    expect(s6).toBe(freed);
    expect(t.v6.length).toBe(64); // the first block of 16 entries, whatever the capacity
    t.remove(s6);
    expect(add(t, '198.51.100.0/24')).toBe(freed);
    expect(t.format(freed)).toBe('198.51.100.0/24');
    expect(key(t, '2001:db8::7/128')).toBe(-1);
    expect(key(t, '192.0.2.7/32')).toBe(-1);
    for (let i = 0; i < 100; i++) if (i !== 7) expect(t.format(key(t, `192.0.2.${i}/32`))).toBe(`192.0.2.${i}/32`);
  });

  it('finds everything after growth and heavy churn (insert, remove, reinsert)', () => {
    const t = new PrefixTable(16);
    const texts: string[] = [];
    for (let i = 0; i < 20000; i++) texts.push(`240.${(i >> 8) & 255}.${i & 255}.0/24`);
    for (let i = 0; i < 5000; i++) texts.push(`2001:db8:${i.toString(16)}::/48`);
    for (let i = 0; i < 5000; i++) texts.push(`2001:db8::${i.toString(16)}/128`);
    const slot = new Map<string, number>();
    for (const s of texts) slot.set(s, add(t, s));
    expect(t.size).toBe(texts.length);
    expect(t.capacity).toBeGreaterThanOrEqual(texts.length);
    // Remove every third, check, put back, check.
    for (let round = 0; round < 3; round++) {
      texts.forEach((s, i) => {
        if (i % 3 === round) t.remove(slot.get(s)!);
      });
      expect(texts.filter((s) => key(t, s) >= 0)).toEqual(texts.filter((_, i) => i % 3 !== round));
      texts.forEach((s, i) => {
        if (i % 3 === round) slot.set(s, add(t, s));
      });
      expect(texts.map((s) => t.format(key(t, s)))).toEqual(texts.map(reference));
    }
    expect(t.size).toBe(texts.length);
    // Slots are reused, not leaked.
    expect(t.top).toBe(texts.length);
    t.clear();
    expect(t.size).toBe(0);
    expect(key(t, texts[0]!)).toBe(-1);
  });
});

describe('PrefixTable: index rebuilds under churn', () => {
  /** Count calls of the private index rebuild. */
  function countRebuilds(t: PrefixTable): { n: number } {
    const c = { n: 0 };
    const inner = t as unknown as { rebuild(b: number): void };
    const orig = inner.rebuild.bind(t);
    inner.rebuild = (b: number): void => {
      c.n++;
      orig(b);
    };
    return c;
  }
  const add = (t: PrefixTable, i: number): number => {
    expect(t.scan(`240.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`)).toBe(true);
    return t.find() >= 0 ? t.find() : t.insert();
  };

  it.each([1024, 4096, 1000])('a nearly full table of capacity %i churns without rebuilding on every insert', (cap) => {
    const t = new PrefixTable(cap);
    const slots: number[] = [];
    for (let i = 0; i < cap - 1; i++) slots.push(add(t, i));
    expect(t.capacity).toBe(cap);
    const c = countRebuilds(t);
    // Remove the oldest, insert a new one: the live count stays at capacity - 1.
    const rounds = 20 * cap;
    for (let i = 0; i < rounds; i++) {
      t.remove(slots[i]!);
      slots.push(add(t, cap - 1 + i)); // prefix i sits at slots[i]
    }
    expect(t.size).toBe(cap - 1);
    // The index holds each live slot once (a rebuild must not leave the new slot in it twice).
    expect((t as unknown as { index: Int32Array }).index.filter((v) => v > 0).length).toBe(t.size);
    // Amortised O(1): a rebuild per many operations, not one per insert.
    expect(c.n).toBeLessThan(rounds / 64);
    // And every live prefix is still found.
    for (let i = rounds; i < rounds + cap - 1; i++) {
      expect(t.scan(`240.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`)).toBe(true);
      expect(t.find()).toBe(slots[i]);
    }
  });
});
