// The session engine's thread started before its options are known
// (`startEngineThread`, what `herald run` does so the thread boots while the
// main thread reads the config): an EngineClient takes it over and runs the
// engine in it; a thread that failed while nobody held it fails the client
// that takes it; and a thread nobody took does not keep the process alive.
// No sockets: the engines here listen nowhere and have no peers.
// No RFC: herald's own thread boundary (decisions 0020, 0038).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EngineClient, startEngineThread } from '../../../bgp/index.js';

const OPTIONS = { asn: 65011, routerId: '192.0.2.11', listen: false as const };

/** Resolve once `t.failure` is set (the worker reported its error or exit). */
async function failed(t: { failure: Error | null }, ms = 20_000): Promise<Error> {
  const until = Date.now() + ms;
  while (!t.failure) {
    if (Date.now() > until) throw new Error('the thread did not fail');
    await new Promise((r) => setTimeout(r, 10));
  }
  return t.failure;
}

describe('EngineClient with a thread started early', () => {
  it('takes the booting thread over and runs the engine in it', async () => {
    const t = startEngineThread();
    const c = new EngineClient({ ...OPTIONS, thread: t });
    await c.start();
    c.addPeer({ name: 'up', address: '192.0.2.1', asn: 65000, passive: true });
    // The peer reaches the main thread in a pushed snapshot: the worker runs the engine.
    const until = Date.now() + 20_000;
    while (!c.snapshot().some((p) => p.name === 'up')) {
      if (Date.now() > until) throw new Error('no snapshot with the peer');
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(c.snapshot().map((p) => p.name)).toEqual(['up']);
    expect(t.failure).toBeNull();
    expect(await c.stop('test done')).toEqual([]);
  }, 30_000);

  it('reports a thread that failed before it was taken, through onFatal and the pending requests', async () => {
    const t = startEngineThread(new URL('./no-such-engine-worker.mjs', import.meta.url));
    const err = await failed(t);
    expect(err.message).toMatch(/no-such-engine-worker|Cannot find module|exited/);
    const fatal: Error[] = [];
    const c = new EngineClient({ ...OPTIONS, thread: t, onFatal: (e) => fatal.push(e) });
    await expect(c.start()).rejects.toBe(err);
    expect(fatal).toEqual([err]);
  }, 30_000);

  it('a thread nobody took does not keep the process alive', () => {
    const here = fileURLToPath(new URL('../../../bgp/index.ts', import.meta.url));
    const script = `const { startEngineThread } = await import(${JSON.stringify(here)}); startEngineThread(); console.log('started');`;
    const t0 = performance.now();
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    const ms = performance.now() - t0;
    console.log(`process with an untaken engine thread exited ${r.status} after ${ms.toFixed(0)} ms`);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('started\n');
    expect(r.status).toBe(0);
  }, 40_000);
});
