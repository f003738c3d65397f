import { describe, expect, it } from 'vitest';
import { relay, ThreadCalls } from '../../../bgp/driver/thread-calls.js';

describe('ThreadCalls: requests across a thread boundary', () => {
  it('settles each request by the reply that names it, with the value or an error that keeps its code', async () => {
    const calls = new ThreadCalls();
    const sent: number[] = [];
    const a = calls.call<number>((id) => sent.push(id));
    const b = calls.call<number>((id) => sent.push(id));
    expect(sent).toEqual([1, 2]);
    calls.settle({ id: 2, error: 'listen EADDRINUSE', code: 'EADDRINUSE' });
    calls.settle({ id: 1, value: 42 });
    calls.settle({ id: 1, value: 43 }); // a second reply for a settled id is ignored
    calls.settle({ id: 99, value: 0 }); // a reply for no request is ignored
    await expect(a).resolves.toBe(42);
    await expect(b).rejects.toMatchObject({ message: 'listen EADDRINUSE', code: 'EADDRINUSE' });
  });

  it('resolves a reply without a value to null', async () => {
    const calls = new ThreadCalls();
    const p = calls.call<null>(() => {});
    calls.settle({ id: 1 });
    await expect(p).resolves.toBeNull();
  });

  it('hands streamed parts to the waiter until its reply', () => {
    const calls = new ThreadCalls();
    const parts: unknown[] = [];
    let done: unknown;
    const id = calls.open({ resolve: (v) => (done = v), reject: () => {}, onBatch: (b) => parts.push(b) });
    calls.waiter(id)?.onBatch?.(['a']);
    calls.waiter(id)?.onBatch?.(['b']);
    calls.settle({ id, value: true });
    expect(parts).toEqual([['a'], ['b']]);
    expect(done).toBe(true);
    expect(calls.waiter(id)).toBeUndefined();
  });

  it('fails every waiting request when the other thread dies, once, and refuses new ones', async () => {
    const calls = new ThreadCalls();
    const a = calls.call(() => {});
    const b = calls.call(() => {});
    const dead = new Error('the thread exited');
    expect(calls.failAll(dead)).toBe(true);
    expect(calls.failAll(new Error('again'))).toBe(false);
    await expect(a).rejects.toBe(dead);
    await expect(b).rejects.toBe(dead);
    let posted = false;
    await expect(calls.call(() => (posted = true))).rejects.toBe(dead);
    expect(posted).toBe(false);
    expect(calls.failure).toBe(dead);
  });
});

describe('relay', () => {
  it('gives the event to every listener even when one throws, and logs the throw', () => {
    const got: string[] = [];
    const logged: string[] = [];
    const log = { debug: () => {}, info: () => {}, warn: () => {}, error: (_o: object, msg: string) => logged.push(msg) };
    relay<string>([(e) => got.push(`1:${e}`), () => { throw new Error('boom'); }, (e) => got.push(`3:${e}`)], 'up', log, 'engine');
    expect(got).toEqual(['1:up', '3:up']);
    expect(logged).toEqual(['engine event listener threw']);
  });
});
