import { describe, expect, it } from 'vitest';
import { PushQueue } from '../../../bgp/index.js';

async function drain<T>(q: AsyncIterable<T>): Promise<{ items: T[]; error: Error | null }> {
  const items: T[] = [];
  try {
    for await (const x of q) items.push(x);
  } catch (e) {
    return { items, error: e as Error };
  }
  return { items, error: null };
}

describe('PushQueue', () => {
  it('hands items over in order, waiting while empty, and ends after everything pushed before the end', async () => {
    const q = new PushQueue<number>();
    const read = drain(q);
    q.push(1);
    await Promise.resolve();
    setTimeout(() => {
      q.push(2);
      q.push(3);
      q.end();
      q.push(4); // after the end: ignored
    }, 5);
    expect(await read).toEqual({ items: [1, 2, 3], error: null });
  });

  it('throws the error that cut it short, after the items before it; the first end counts', async () => {
    const q = new PushQueue<string>();
    q.push('a');
    q.end(new Error('connection reset'));
    q.end(null);
    const r = await drain(q);
    expect(r.items).toEqual(['a']);
    expect(r.error?.message).toBe('connection reset');
  });
});
