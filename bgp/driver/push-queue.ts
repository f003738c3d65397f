/**
 * Items pushed by one side as they arrive, read by one consumer with
 * `for await`: the reader waits while the queue is empty, and the end (or
 * the error that cut it short) comes after everything pushed before it.
 * Used where a callback-driven producer feeds an async iterator: the
 * engine's received-route batches (engine-client.ts). The control API
 * client (src/api/client.ts) keeps a copy of its own, so that the `routes`
 * bundle does not load bgp/index.
 *
 * No RFC.
 */
export class PushQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private done = false;
  private error: Error | null = null;
  private wake: (() => void) | null = null;

  /** One more item (ignored once ended). */
  push(item: T): void {
    if (this.done) return;
    this.items.push(item);
    this.wake?.();
  }

  /** No more items; `err` when the stream was cut short. The first end counts. */
  end(err: Error | null = null): void {
    if (this.done) return;
    this.done = true;
    this.error = err;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      if (this.items.length > 0) {
        yield this.items.shift()!;
        continue;
      }
      if (this.done) {
        if (this.error) throw this.error;
        return;
      }
      await new Promise<void>((r) => (this.wake = r));
      this.wake = null;
    }
  }
}
